"""A function's logs on a `--store postgresql://...` server: read back through CloudWatch Logs,
and kept in PostgreSQL, not in the data directory, so every front door of a cluster reads them
(issue #24; the contract suite, tests/logs/service, reads one store's writes from another)."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from tests.support.functions import create, invoke
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

PRINTER = "def handler(event, context):\n    print('marker', event['marker'])\n    return 'ok'\n"


def filtered(logs: Any, group: str, pattern: str) -> list[str]:
    """The messages matching `pattern`, once the function's output has reached its log stream
    (the runtime's lines are read as it writes them, so they may trail its response)."""
    deadline = time.monotonic() + 10
    while True:
        events = logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
        if events or time.monotonic() > deadline:
            return [event["message"] for event in events]
        time.sleep(0.05)


def test_a_functions_logs_are_read_back_from_postgresql(
    postgres_server: GureumProcess, function_name: str
) -> None:
    url = postgres_server.extra[postgres_server.extra.index("--store") + 1]
    client = postgres_server.client("lambda")
    create(client, function_name, Code={"ZipFile": zip_of({"index.py": PRINTER})})
    assert invoke(client, function_name, {"marker": "m-41"}).payload == b'"ok"'
    group = f"/aws/lambda/{function_name}"

    assert filtered(postgres_server.client("logs"), group, '"marker m-41"') == ["marker m-41\n"]
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT convert_from(e.message, 'UTF8') FROM log_events e "
            "JOIN log_streams s ON s.seq = e.stream JOIN log_groups g ON g.seq = s.log_group "
            "WHERE g.name = %s ORDER BY e.seq",
            (group,),
        ).fetchall()
    assert ("marker m-41\n",) in rows
    assert not (postgres_server.data_dir / "logs").exists()
