"""The agents' registry (store.agents) on SQLite: a heartbeat read back as written, and a file
made before heartbeats said where provisioned environments are."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gureum.aws.sql import SqliteBackend
from gureum.lambda_.domain.placement import AgentStatus
from gureum.lambda_.store.agents import SPEC, AgentRegistry


def test_a_heartbeat_reads_back_as_written(tmp_path: Path) -> None:
    registry = AgentRegistry(SqliteBackend(tmp_path))
    try:
        status = AgentStatus("a", "a:1", 1000.0, 2, {"v#1": 1}, {"v#1": 3, "w#2": 1})
        registry.beat(status)
        assert registry.agents() == [status]
        registry.beat(AgentStatus("a", "a:1", 1001.0))  # nothing provisioned any more
        assert registry.agents() == [AgentStatus("a", "a:1", 1001.0)]
    finally:
        registry.close()


def test_an_older_file_is_upgraded(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / SPEC.file) as old:
        old.execute(
            "CREATE TABLE agents (id TEXT PRIMARY KEY, address TEXT NOT NULL, "
            "seen REAL NOT NULL, running INTEGER NOT NULL, idle TEXT NOT NULL)"
        )
        old.execute("INSERT INTO agents VALUES ('a', 'a:1', 1000.0, 1, '{\"v#1\": 1}')")
    old.close()
    registry = AgentRegistry(SqliteBackend(tmp_path))
    try:
        assert registry.agents() == [AgentStatus("a", "a:1", 1000.0, 1, {"v#1": 1})]
    finally:
        registry.close()
