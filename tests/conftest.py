"""Shared fixtures: a real `gureum serve`, driven with boto3 and the AWS CLI over HTTP."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gureum.aws.sql import Backend, SqliteBackend
from tests.support.aws import ROLE
from tests.support.packages import zip_of
from tests.support.postgres import PostgresCluster, find_binaries
from tests.support.redis import MISSING, RedisServer, redis_server_binary
from tests.support.server import GureumProcess

_names = itertools.count()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path_factory.mktemp("gureum") / "data").start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of the test run's own (the Redis ledger's tests, issue #24)."""
    server = RedisServer(_redis_binary(), tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server, not started, that a test may stop and start (the session's is shared)."""
    server = RedisServer(_redis_binary(), tmp_path / "redis")
    yield server
    server.stop()


def _redis_binary() -> str:
    binary = redis_server_binary()
    if binary is None:
        if os.environ.get("CI") or os.environ.get("GUREUM_REQUIRE_REDIS"):
            pytest.fail(MISSING)  # CI installs it (.ci/run): never skipped there
        pytest.skip(MISSING)
    return binary


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    """The test run's own PostgreSQL (issue #24); skipped only where none can be had."""
    binaries = find_binaries()
    if binaries is None:
        reason = "no PostgreSQL here (initdb, pg_ctl); .ci/run installs Debian's postgresql"
        if os.environ.get("GUREUM_REQUIRE_POSTGRES"):  # CI: a skip would hide the tests
            pytest.fail(reason)
        pytest.skip(reason)
    root, basetemp = tmp_path_factory.mktemp("postgres"), tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        basetemp = basetemp.parent  # a worker's basetemp is inside the run's, which is private
    cluster = PostgresCluster(binaries, root, basetemp).start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Backend]]:
    """Opens the services' stores' backend (`gureum.aws.sql`), twice over: SQLite files in a
    temporary data directory, and a fresh database of the test run's PostgreSQL. Each call is a
    new backend on the same databases, as a restarted server opens them; all are closed after.
    A store's contract test takes this fixture and runs the same tests on both (issue #24)."""
    opened: list[Backend] = []
    if request.param == "sqlite":

        def make() -> Backend:
            return SqliteBackend(tmp_path / "data")

    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        url = cluster.database()

        def make() -> Backend:
            from gureum.aws.postgres import PostgresBackend  # noqa: PLC0415

            return PostgresBackend(url)

    def tracked() -> Backend:
        backend = make()
        opened.append(backend)
        return backend

    yield tracked
    for backend in opened:
        backend.close()


@pytest.fixture(scope="session")
def postgres_server(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresCluster
) -> Iterator[GureumProcess]:
    """A `gureum serve --store postgresql://...` shared by the tests that drive each service
    on PostgreSQL end to end (the same calls as on the embedded default)."""
    process = GureumProcess(
        tmp_path_factory.mktemp("gureum-pg") / "data", "--store", postgres.database()
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def lambda_client(server: GureumProcess) -> Any:
    return server.client()


@pytest.fixture
def function_name(request: pytest.FixtureRequest) -> str:
    """A fresh name per test, so tests share one server without sharing functions."""
    return f"{request.node.name[:40].replace('[', '-').replace(']', '')}-{next(_names)}"


@pytest.fixture
def make_function(lambda_client: Any, function_name: str) -> Callable[..., dict[str, Any]]:
    """Creates a function (python3.12, zip) and waits for it to be Active."""

    def create(name: str | None = None, **overrides: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "FunctionName": name or function_name,
            "Runtime": "python3.12",
            "Role": ROLE,
            "Handler": "index.handler",
            "Code": {"ZipFile": zip_of()},
        }
        params.update(overrides)
        created: dict[str, Any] = lambda_client.create_function(**params)
        lambda_client.get_waiter("function_active_v2").wait(
            FunctionName=params["FunctionName"], WaiterConfig={"Delay": 0.1}
        )
        return created

    return create


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
