"""The log stores every Logs test runs on: files (the embedded default), and rows on the SQL
port, on PostgreSQL (`--store`, a cluster's) and on SQLite (the same queries, portable)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gureum.aws.sql import Backend, SqliteBackend
from gureum.logs.store.ports import STREAM_CAP, LogStore
from gureum.logs.store.streams import FileLogStore
from gureum.logs.store.tables import SqlLogStore
from tests.support.postgres import PostgresCluster

OpenStore = Callable[..., LogStore]


@pytest.fixture(params=["files", "sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """Opens a log store; each call is another one on the same data, as a restarted server (or
    another process of a cluster) opens it. `stream_cap` as the store takes it. All are closed
    after the test."""
    opened: list[LogStore] = []
    backends: list[Backend] = []
    backend: Callable[[], Backend]
    if request.param == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        url = cluster.database()

        def backend() -> Backend:
            from gureum.aws.postgres import PostgresBackend  # noqa: PLC0415

            return PostgresBackend(url)

    else:

        def backend() -> Backend:
            return SqliteBackend(tmp_path / "data")

    def open_one(stream_cap: int = STREAM_CAP) -> LogStore:
        store: LogStore
        if request.param == "files":
            store = FileLogStore(tmp_path / "logs", stream_cap=stream_cap)
        else:
            backends.append(backend())
            store = SqlLogStore(backends[-1], stream_cap=stream_cap)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()
    for each in backends:
        each.close()
