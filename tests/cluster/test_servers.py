"""Several servers on one PostgreSQL, one Redis and one shared directory (issue #24).

Two `gureum serve` processes, each with its own data directory and its own sandboxes, share
the stores (`--store`), the concurrency ledger (`--ledger`) and the archives (`--shared-dir`),
as two hosts behind a load balancer would. What one is told, the other knows; the limits hold
across both; background work that must run once runs on one of them, and moves to the other
when its holder is killed or stopped; Event invocations one accepted are delivered even when it
is killed with `kill -9` right after.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.packages import zip_of
from tests.support.postgres import PostgresCluster
from tests.support.redis import RedisServer
from tests.support.server import GureumProcess
from tests.support.waiting import wait_until

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
HANDLER = """\
import time


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"n": event.get("n"), "version": context.function_version}
"""
THREADED = Config(retries={"total_max_attempts": 1}, max_pool_connections=20)
RESERVED_REASON = "ReservedFunctionConcurrentInvocationLimitExceeded"


@dataclass
class Cluster:
    servers: list[GureumProcess]

    def start(self, index: int) -> GureumProcess:
        return self.servers[index].start()

    def stop_all(self) -> None:
        for server in self.servers:
            if server.process is not None:
                server.process.send_signal(signal.SIGCONT)  # a test may have stopped it
                server.stop()


@pytest.fixture
def cluster(tmp_path: Path, postgres: PostgresCluster, own_redis: RedisServer) -> Iterator[Cluster]:
    """Two servers, started one after the other (the first leads every singleton)."""
    database, shared = postgres.database(), tmp_path / "shared"
    own_redis.start()
    common = ("--store", database, "--ledger", own_redis.url, "--shared-dir", str(shared))
    servers = [
        GureumProcess(tmp_path / f"host{index}", *common, "--time-scale", "0.05")
        for index in range(2)
    ]
    made = Cluster(servers)
    try:
        for server in servers:
            server.start()
        yield made
    finally:
        made.stop_all()


def create(client: Any, name: str, **extra: Any) -> None:
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": HANDLER})},
        **extra,
    )


def active(client: Any, name: str) -> bool:
    return bool(client.get_function(FunctionName=name)["Configuration"]["State"] == "Active")


def run(client: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    reply = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    document: dict[str, Any] = json.loads(reply["Payload"].read())
    return document


def test_what_one_server_is_told_the_other_knows_and_runs(cluster: Cluster) -> None:
    one, two = (server.client() for server in cluster.servers)
    create(one, "shared-fn")
    wait_until(lambda: active(two, "shared-fn"), 30, "the function Active, seen from the other")
    # The archive is read from the shared directory and unpacked on the second host.
    assert run(two, "shared-fn", {"n": 7}) == {"n": 7, "version": "$LATEST"}
    version = one.publish_version(FunctionName="shared-fn")["Version"]
    two.create_alias(FunctionName="shared-fn", Name="live", FunctionVersion=version)
    assert one.get_alias(FunctionName="shared-fn", Name="live")["FunctionVersion"] == version
    code = two.get_function(FunctionName="shared-fn")["Code"]["Location"]
    assert code.startswith(cluster.servers[1].url)
    for server in cluster.servers:
        stores = server.health()["stores"]
        assert stores["lambda.controlPlane"].startswith("postgresql://")
        assert stores["lambda.code"] == f"files:{server.data_dir.parent / 'shared' / 'code'}"


def test_reserved_concurrency_holds_across_servers(cluster: Cluster) -> None:
    """With reserved concurrency 2, exactly 2 invocations run at once, whichever server each
    reached: the leases are Redis's, not either process's."""
    one = cluster.servers[0].client(config=THREADED)
    two = cluster.servers[1].client(config=THREADED)
    create(one, "reserved-fn")
    one.put_function_concurrency(FunctionName="reserved-fn", ReservedConcurrentExecutions=2)
    wait_until(lambda: active(two, "reserved-fn"), 30, "Active")
    run(one, "reserved-fn", {})  # warm on each host first: the window below is the sleep
    run(two, "reserved-fn", {})
    outcomes: list[str] = []
    lock = threading.Lock()

    def call(client: Any) -> None:
        try:
            run(client, "reserved-fn", {"sleep": 2})
            outcome = "ran"
        except ClientError as error:
            outcome = str(error.response.get("Reason") or error.response["Error"]["Code"])
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=call, args=(c,)) for c in (one, two) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == sorted(["ran", "ran", *[RESERVED_REASON] * 4])


def test_a_singleton_moves_when_its_holder_is_killed(cluster: Cluster) -> None:
    first, second = cluster.servers
    assert "lambda-settler" in first.health()["singletons"]
    assert second.health()["singletons"] == []
    first.kill()
    wait_until(
        lambda: "lambda-settler" in second.health()["singletons"],
        15,
        "the second server leads the settler",
    )
    client = second.client()
    create(client, "after-kill")
    wait_until(lambda: active(client, "after-kill"), 30, "settled by the new holder")


def test_a_stopped_holder_loses_its_singletons_and_gives_them_up_when_it_runs_again(
    cluster: Cluster,
) -> None:
    """SIGSTOP keeps the holder's connections open; PostgreSQL ends its idle lease session,
    the other server takes over, and the holder, once it runs again, no longer leads."""
    first, second = cluster.servers
    assert first.process is not None
    first.process.send_signal(signal.SIGSTOP)
    try:
        wait_until(
            lambda: "lambda-settler" in second.health()["singletons"],
            20,
            "the second server leads the settler while the first is stopped",
        )
        client = second.client()
        create(client, "while-stopped")
        wait_until(lambda: active(client, "while-stopped"), 30, "settled while stopped")
    finally:
        first.process.send_signal(signal.SIGCONT)
    wait_until(
        lambda: "lambda-settler" not in first.health()["singletons"],
        10,
        "the first server gives the settler up",
    )
    assert "lambda-settler" in second.health()["singletons"]
