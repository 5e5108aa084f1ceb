"""A test cluster of front doors and agents (issue #24), and the calls its tests share.

`Deployment` starts agents (`gureum agent`) and front doors (`gureum serve --sandboxes agents`)
on one PostgreSQL, one Redis and one shared directory, with the options of `options`; the
functions below make and call functions through a front door.
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.config import Config

from tests.support.packages import zip_of
from tests.support.server import GureumProcess, free_port
from tests.support.waiting import wait_until

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
HANDLER = """\
import json
import os
import time
import uuid

ENVIRONMENT = str(uuid.uuid4())  # one per execution environment


def handler(event, context):
    print("ran", event.get("n"))
    time.sleep(event.get("sleep", 0))
    return {"n": event.get("n"), "environment": ENVIRONMENT}
"""

THREADED = Config(retries={"total_max_attempts": 1}, max_pool_connections=30)


@dataclass
class Deployment:
    """PostgreSQL, Redis, a shared directory; agents and front doors made on demand."""

    root: Path
    common: tuple[str, ...]
    processes: list[GureumProcess] = field(default_factory=list)

    def agent(self, name: str) -> GureumProcess:
        hop = f"127.0.0.1:{free_port()}"
        process = GureumProcess(
            self.root / name, *self.common, "--hop", hop, subcommand="agent"
        ).start()
        self.processes.append(process)
        return process

    def front_door(self, name: str) -> GureumProcess:
        process = GureumProcess(self.root / name, *self.common, "--sandboxes", "agents").start()
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.process is not None:
                process.process.send_signal(signal.SIGCONT)
                process.stop()


def options(root: Path, database: str, redis: str) -> tuple[str, ...]:
    """What every process of one test's cluster is started with (fast clocks, short leases)."""
    shared = str(root / "shared")
    return (
        "--store",
        database,
        "--ledger",
        redis,
        "--shared-dir",
        shared,
        "--time-scale",
        "0.05",
        "--lease-ttl",
        "3",
    )


def create(client: Any, name: str, code: bytes | None = None, **extra: Any) -> None:
    client.create_function(
        FunctionName=name,
        Runtime=extra.pop("Runtime", "python3.12"),
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": code or zip_of({"index.py": HANDLER})},
        **extra,
    )
    wait_until(
        lambda: client.get_function(FunctionName=name)["Configuration"]["State"] == "Active",
        60,
        f"{name} Active",
    )


def run(client: Any, name: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = client.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    document: dict[str, Any] = json.loads(reply["Payload"].read())
    return document


def agents_seen(front_door: GureumProcess) -> int:
    return len(front_door.health()["agents"])


def reporting(client: Any, sqs: Any, name: str) -> str:
    """Creates the function `name` with an on-success destination: a new queue of the same
    name, whose URL this returns (`delivered` reads it)."""
    queue: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    create(client, name)
    client.put_function_event_invoke_config(
        FunctionName=name,
        DestinationConfig={"OnSuccess": {"Destination": attributes["Attributes"]["QueueArn"]}},
    )
    return queue


def delivered(sqs: Any, queue: str, wanted: set[int], seconds: float = 60) -> set[int]:
    """The `n` of each on-success record in `queue`, until all of `wanted` came."""
    seen: set[int] = set()
    deadline = time.monotonic() + seconds
    while not wanted <= seen and time.monotonic() < deadline:
        reply = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            seen.add(json.loads(message["Body"])["responsePayload"]["n"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return seen


def two_agents_and_a_door(deployment: Deployment) -> tuple[list[GureumProcess], GureumProcess]:
    """Two agents and a front door that sees both."""
    agents = [deployment.agent("agent1"), deployment.agent("agent2")]
    door = deployment.front_door("door")
    wait_until(lambda: agents_seen(door) == 2, 15, "the front door sees both agents")
    return agents, door
