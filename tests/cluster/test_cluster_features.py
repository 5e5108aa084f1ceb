"""Provisioned concurrency and SnapStart in a cluster (issue #24): front doors and agents.

Provisioned concurrency: the provisioner runs on the agent holding its lease and starts the
environments there; the agents' heartbeats report them idle, so a front door sends the
version's invocations to them (no Init in the REPORT line); those past the allocation spill
over on demand. When that agent dies (kill -9), the other takes the lease over and allocates
the configuration again on its own host.

SnapStart: publishing makes the snapshot on the agent that settles the version; an invocation
placed on the other agent makes one there on demand. Either way it is restored (Restore
Duration, not Init Duration, in its REPORT line).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.cluster.deployment import (
    THREADED,
    Deployment,
    agents_seen,
    create,
    two_agents_and_a_door,
)
from tests.support.functions import WAIT, Invoked, invoke
from tests.support.packages import zip_of
from tests.support.server import GureumProcess
from tests.support.waiting import wait_until

HANDLER = """\
import os
import time
import uuid

ENVIRONMENT = uuid.uuid4().hex  # one per Init: a restored environment keeps its template's


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {
        "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "environment": ENVIRONMENT,
        "version": context.function_version,
    }
"""
CODE = zip_of({"index.py": HANDLER})
PROVISIONER = "lambda-provisioner"
SETTLER = "lambda-settler"


def published(client: Any, name: str, **extra: Any) -> str:
    """Creates `name` through a front door and publishes a version, Active; returns it."""
    create(client, name, CODE, Timeout=30, **extra)
    version: str = client.publish_version(FunctionName=name)["Version"]
    client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier=version, WaiterConfig=WAIT
    )
    return version


def status_of(client: Any, name: str, qualifier: str) -> str:
    config = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
    status: str = config["Status"]
    return status


def leader(agents: list[GureumProcess], singleton: str) -> GureumProcess:
    """The one agent whose health page says it leads `singleton`."""
    holders: list[GureumProcess] = []

    def one() -> bool:
        holders[:] = [a for a in agents if singleton in a.health()["singletons"]]
        return len(holders) == 1

    wait_until(one, 15, f"one agent leads {singleton}")
    return holders[0]


def report(ran: Invoked) -> str:
    """The REPORT line of an invocation's log tail."""
    assert ran.function_error is None, ran.payload
    assert ran.log is not None
    (line,) = [line for line in ran.log.splitlines() if line.startswith("REPORT")]
    return line


def warm_provisioned(client: Any, name: str, version: str) -> Invoked:
    """An invocation served by a provisioned environment: Init ran ahead, not in this one."""
    ran = invoke(client, name, {}, Qualifier=version, LogType="Tail")
    assert ran.json()["type"] == "provisioned-concurrency"
    assert "Init Duration" not in report(ran)
    return ran


def test_provisioned_concurrency_through_a_front_door_and_its_agents_death(
    deployment: Deployment,
) -> None:
    agents, door = two_agents_and_a_door(deployment)
    client = door.client(config=THREADED)
    version = published(client, "kept")
    answer = client.put_provisioned_concurrency_config(
        FunctionName="kept", Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    assert answer["Status"] == "IN_PROGRESS"
    wait_until(lambda: status_of(client, "kept", version) == "READY", 20, "READY")
    holder = leader(agents, PROVISIONER)
    (other,) = [agent for agent in agents if agent is not holder]
    assert holder.health()["environments"] == 1  # the provisioned one, on the lease holder
    assert other.health()["environments"] == 0
    time.sleep(1.5)  # the holder's heartbeat says it has an idle environment of the version
    first = warm_provisioned(client, "kept", version)
    # Back to back: a heartbeat taken during one of them (the provisioned environment busy)
    # must not send the next elsewhere.
    for _ in range(30):
        assert warm_provisioned(client, "kept", version).json() == first.json()

    # Past the allocation: one provisioned, the others spill over on demand; all succeed.
    barrier = threading.Barrier(3)

    def call(_: int) -> str:
        barrier.wait()
        kind: str = invoke(client, "kept", {"sleep": 1.0}, Qualifier=version).json()["type"]
        return kind

    with ThreadPoolExecutor(3) as pool:
        kinds = sorted(pool.map(call, range(3)))
    assert kinds == ["on-demand", "on-demand", "provisioned-concurrency"]
    # The front door placed one of the three on each agent at least, so the other one now has
    # an idle on-demand environment of the version too. The provisioned one still comes first:
    # whichever agent is less loaded (a long call of $LATEST placed on one of them, the cold
    # start going to the first by id), and once that call is done (ties go to the first by id).
    assert other.health()["environments"] >= 1
    time.sleep(1.5)  # the heartbeats say so
    with ThreadPoolExecutor(1) as pool:
        latest = pool.submit(invoke, client, "kept", {"sleep": 3.0})
        wait_until(
            lambda: any(agent["running"] for agent in door.health()["agents"]),
            10,
            "the call of $LATEST runs",
        )
        for _ in range(10):
            assert warm_provisioned(client, "kept", version).json() == first.json()
        assert latest.result().json()["type"] == "on-demand"
    for _ in range(10):
        assert warm_provisioned(client, "kept", version).json() == first.json()

    # The lease holder dies: the other agent leads the provisioner and allocates again.
    holder.kill()
    wait_until(lambda: PROVISIONER in other.health()["singletons"], 15, "the lease taken over")
    wait_until(lambda: agents_seen(door) == 1, 10, "the dead agent out of placement")
    wait_until(lambda: status_of(client, "kept", version) == "READY", 20, "READY again")
    time.sleep(1.5)  # the survivor's heartbeat reports its provisioned environment
    again = warm_provisioned(client, "kept", version)
    assert again.json()["environment"] != first.json()["environment"]  # Init ran anew, there
    for _ in range(5):
        assert warm_provisioned(client, "kept", version).json() == again.json()


def test_snap_start_through_a_front_door_restores_on_either_agent(
    deployment: Deployment,
) -> None:
    agents, door = two_agents_and_a_door(deployment)
    client = door.client(config=THREADED)
    version = published(client, "snapped", SnapStart={"ApplyOn": "PublishedVersions"})
    config = client.get_function_configuration(FunctionName="snapped", Qualifier=version)
    assert config["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    settling = leader(agents, SETTLER)
    (other,) = [agent for agent in agents if agent is not settling]
    assert settling.health()["snapshots"]["templates"] == 1  # made when the version settled
    assert other.health()["snapshots"]["templates"] == 0

    # Two at once: the front door places them on both agents (the second where less runs).
    with ThreadPoolExecutor(2) as pool:
        calls = [
            pool.submit(
                invoke, client, "snapped", {"sleep": 1.0}, Qualifier=version, LogType="Tail"
            )
            for _ in range(2)
        ]
        results = [call.result() for call in calls]
    for ran in results:
        assert ran.json()["type"] == "snap-start"
        line = report(ran)
        assert "Restore Duration: " in line
        assert "Init Duration" not in line
    assert [agent.health()["environments"] for agent in agents] == [1, 1]
    assert other.health()["snapshots"]["templates"] == 1  # made there on demand
    # Each agent ran Init once, for its own snapshot.
    assert results[0].json()["environment"] != results[1].json()["environment"]

    # The settling agent stops cleanly: the other one runs the version, restoring a new
    # environment from the snapshot it made (the second of two at once: the first may take
    # the idle one, which is warm and restores nothing).
    assert settling.stop() == 0
    wait_until(lambda: agents_seen(door) == 1, 10, "the stopped agent out of placement")
    with ThreadPoolExecutor(2) as pool:
        calls = [
            pool.submit(
                invoke, client, "snapped", {"sleep": 1.0}, Qualifier=version, LogType="Tail"
            )
            for _ in range(2)
        ]
        lines = [report(call.result()) for call in calls]
        assert [call.result().json()["type"] for call in calls] == ["snap-start"] * 2
    assert not any("Init Duration" in line for line in lines)
    assert any("Restore Duration: " in line for line in lines)
    assert other.health()["environments"] == 2
