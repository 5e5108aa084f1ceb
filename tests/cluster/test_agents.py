"""Front doors and agents (issue #24, item 3), as separate processes on one machine.

Agents (`gureum agent`) own the sandboxes; a front door (`gureum serve --sandboxes agents`)
runs none and sends every invocation over the hop. A warm invoke goes where its version has an
idle environment; errors keep their AWS identity across the hop; queued Events are delivered by
the agents; a streamed response streams through. The faults: an agent killed during an invoke
(the caller gets AWS's 500, the lease comes back after its TTL), an agent stopped past its
heartbeat (out of placement, then back), a front door killed with Event accepts in flight
(every 202 is delivered).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cluster.deployment import (
    THREADED,
    Deployment,
    agents_seen,
    create,
    delivered,
    reporting,
    run,
    two_agents_and_a_door,
)
from tests.support.packages import zip_of
from tests.support.server import GureumProcess
from tests.support.waiting import wait_until

STREAMING = """\
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  for (const part of ["one ", "two ", "three"]) {
    responseStream.write(part);
  }
  responseStream.end();
});
"""


def test_a_front_door_runs_functions_on_agents_warm_where_they_are_warm(
    deployment: Deployment,
) -> None:
    agents, door = two_agents_and_a_door(deployment)
    health = door.health()
    assert health["environments"] == 0  # a front door holds no sandbox
    assert health["singletons"] == []  # nor any of the work that needs one
    client = door.client()
    create(client, "placed")
    first = run(client, "placed", {"n": 1})
    assert first["n"] == 1
    time.sleep(1.5)  # the agent's heartbeat says it has an idle environment of the version
    for n in range(2, 6):
        assert run(client, "placed", {"n": n})["environment"] == first["environment"]
    held = [agent.health()["environments"] for agent in agents]
    assert sorted(held) == [0, 1]


def test_errors_keep_their_aws_identity_across_the_hop(deployment: Deployment) -> None:
    deployment.agent("agent1")
    door = deployment.front_door("door")
    wait_until(lambda: agents_seen(door) == 1, 15, "the front door sees the agent")
    client = door.client(config=THREADED)
    create(client, "throttled")
    client.put_function_concurrency(FunctionName="throttled", ReservedConcurrentExecutions=1)
    outcomes: list[str] = []

    def call() -> None:
        try:
            run(client, "throttled", {"sleep": 2})
            outcomes.append("ran")
        except ClientError as error:
            response = error.response
            status = response["ResponseMetadata"]["HTTPStatusCode"]
            outcomes.append(f"{response['Error']['Code']} {status} {response.get('Reason')}")

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    throttled = "TooManyRequestsException 429 ReservedFunctionConcurrentInvocationLimitExceeded"
    assert sorted(outcomes) == sorted(["ran", throttled, throttled])
    with pytest.raises(ClientError) as missing:
        client.invoke(FunctionName="throttled", Qualifier="9")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_events_accepted_by_a_front_door_are_delivered_by_agents(deployment: Deployment) -> None:
    deployment.agent("agent1")
    door = deployment.front_door("door")
    client, sqs = door.client(), door.client("sqs")
    queue = reporting(client, sqs, "queued")
    for n in range(5):
        client.invoke(FunctionName="queued", InvocationType="Event", Payload=json.dumps({"n": n}))
    assert delivered(sqs, queue, set(range(5))) == set(range(5))


def test_a_streamed_response_streams_through_the_front_door(deployment: Deployment) -> None:
    deployment.agent("agent1")
    door = deployment.front_door("door")
    client = door.client()
    create(client, "streamed", zip_of({"index.js": STREAMING}), Runtime="nodejs22.x")
    reply = client.invoke_with_response_stream(FunctionName="streamed", Payload=b"{}")
    parts = [
        event["PayloadChunk"]["Payload"]
        for event in reply["EventStream"]
        if "PayloadChunk" in event
    ]
    assert b"".join(parts) == b"one two three"


def test_an_agent_killed_during_an_invoke(deployment: Deployment) -> None:
    """The caller gets AWS's 500; the killed agent's lease expires with its TTL, so the
    function's one reserved slot is free again; the other agent runs what follows."""
    doomed = deployment.agent("agent1")
    door = deployment.front_door("door")
    client = door.client()
    create(client, "dies")
    client.put_function_concurrency(FunctionName="dies", ReservedConcurrentExecutions=1)
    run(client, "dies")  # warm on the doomed agent: the next one goes there
    time.sleep(1.5)
    survivor = deployment.agent("agent2")
    wait_until(lambda: agents_seen(door) == 2, 15, "the front door sees both agents")
    outcome: list[Any] = []

    def call() -> None:
        try:
            outcome.append(run(client, "dies", {"sleep": 30}))
        except ClientError as error:
            outcome.append(error.response)

    caller = threading.Thread(target=call)
    caller.start()
    wait_until(lambda: doomed.health()["environments"] >= 1, 10, "the invocation runs")
    time.sleep(1.0)
    doomed.kill()
    caller.join(timeout=30)
    (response,) = outcome
    assert response["Error"]["Code"] == "ServiceException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    # The lease is back after its TTL (--lease-ttl 3): the one reserved slot runs again.
    refusals: set[str] = set()

    def runs_again() -> bool:
        try:
            return bool(run(client, "dies", {"n": 1})["n"] == 1)
        except ClientError as error:
            refusals.add(error.response["Error"]["Code"])
            return False

    wait_until(runs_again, 20, "the dead agent's lease expired")
    assert refusals <= {"TooManyRequestsException"}
    assert survivor.health()["environments"] >= 1


def test_an_agent_stopped_during_an_invoke(deployment: Deployment) -> None:
    """An agent that stops answering mid-invoke (SIGSTOP: no hop answer, no heartbeat, no lease
    renewal; a host cut off from the network is `test_network_cut`) fails its caller within
    seconds, with AWS's 500; the call is never run a second time elsewhere; the function's one
    reserved slot is held until the stopped agent's lease expires, and then runs on the other
    agent."""
    cut = deployment.agent("agent1")
    door = deployment.front_door("door")
    client, logs = door.client(), door.client("logs")
    create(client, "cut")
    client.put_function_concurrency(FunctionName="cut", ReservedConcurrentExecutions=1)
    run(client, "cut")  # warm on the agent to be cut off: the next call goes there
    time.sleep(1.5)
    deployment.agent("agent2")
    wait_until(lambda: agents_seen(door) == 2, 15, "both agents live")
    outcome: list[Any] = []

    def call() -> None:
        started = time.monotonic()
        try:
            run(client, "cut", {"sleep": 8, "n": 99})
            outcome.append("ran")
        except ClientError as error:
            outcome.append((error.response, time.monotonic() - started))

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(1.0)
    assert cut.process is not None
    cut.process.send_signal(signal.SIGSTOP)
    try:
        caller.join(timeout=20)
        ((response, waited),) = outcome
        assert response["Error"]["Code"] == "ServiceException"
        assert waited < 8, "the caller waited for the function's whole sleep"
        refusals: set[str] = set()

        def runs_elsewhere() -> bool:
            try:
                return bool(run(client, "cut", {"n": 1})["n"] == 1)
            except ClientError as error:
                refusals.add(error.response["Error"]["Code"])
                return False

        wait_until(runs_elsewhere, 20, "the cut-off agent's lease expired")
        assert refusals <= {"TooManyRequestsException", "ServiceException"}
    finally:
        cut.process.send_signal(signal.SIGCONT)

    def marks() -> int:
        found = logs.filter_log_events(logGroupName="/aws/lambda/cut", filterPattern='"ran 99"')
        return len(found["events"])

    time.sleep(2)  # the cut-off agent finishes the call it had, answering no one
    assert marks() == 1  # it ran once, where it was sent


def test_a_stopped_agent_leaves_placement_and_comes_back(deployment: Deployment) -> None:
    stopped = deployment.agent("agent1")
    other = deployment.agent("agent2")
    door = deployment.front_door("door")
    wait_until(lambda: agents_seen(door) == 2, 15, "both agents live")
    assert stopped.process is not None
    stopped.process.send_signal(signal.SIGSTOP)
    try:
        wait_until(lambda: agents_seen(door) == 1, 10, "the stopped agent out of placement")
        client = door.client()
        create(client, "while-stopped")
        for n in range(3):
            assert run(client, "while-stopped", {"n": n})["n"] == n
        assert other.health()["environments"] >= 1
    finally:
        stopped.process.send_signal(signal.SIGCONT)
    wait_until(lambda: agents_seen(door) == 2, 15, "the agent back in placement")


def test_a_front_door_killed_with_event_accepts_in_flight(deployment: Deployment) -> None:
    """Every Event a killed front door answered 202 is delivered (at least once)."""
    deployment.agent("agent1")
    doomed, other = deployment.front_door("door1"), deployment.front_door("door2")
    sqs = other.client("sqs")
    client = doomed.client(config=THREADED)
    queue = reporting(client, sqs, "accepted")
    answered: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def send(start: int) -> None:
        n = start
        while not stop.is_set():
            try:
                client.invoke(
                    FunctionName="accepted", InvocationType="Event", Payload=json.dumps({"n": n})
                )
            except Exception:
                return  # the front door is gone: this one was never answered
            with lock:
                answered.append(n)
            n += 10

    senders = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    for sender in senders:
        sender.start()
    wait_until(lambda: len(answered) >= 50, 30, "accepts under way")
    doomed.kill()
    stop.set()
    for sender in senders:
        sender.join(timeout=30)
    assert delivered(sqs, queue, set(answered), seconds=120) >= set(answered)


def test_with_no_agent_live_an_invoke_answers_awss_500(deployment: Deployment) -> None:
    agent = deployment.agent("agent1")
    door = deployment.front_door("door")
    client = door.client()
    create(client, "orphaned")
    agent.stop()  # a clean stop takes it out of placement at once
    wait_until(lambda: agents_seen(door) == 0, 10, "no agent left")
    with pytest.raises(ClientError) as caught:
        run(client, "orphaned")
    assert caught.value.response["Error"]["Code"] == "ServiceException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_an_event_whose_agent_is_killed_mid_delivery_is_delivered_again(
    deployment: Deployment,
) -> None:
    """An agent delivering a queued Event dies (kill -9) while the function runs: its claim
    on the event ends with its database session, and the other agent delivers the event."""
    agents, door = two_agents_and_a_door(deployment)
    client, sqs = door.client(), door.client("sqs")
    queue = reporting(client, sqs, "redelivered")
    client.invoke(
        FunctionName="redelivered", InvocationType="Event", Payload=json.dumps({"n": 7, "sleep": 2})
    )

    def running() -> list[GureumProcess]:
        return [agent for agent in agents if agent.health()["environments"] >= 1]

    wait_until(lambda: len(running()) == 1, 30, "one agent runs the event")
    (doomed,) = running()  # within the function's 2 s (its timeout is 3 s)
    doomed.kill()
    reply = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=20)
    (record,) = [json.loads(message["Body"]) for message in reply["Messages"]]
    assert record["responsePayload"]["n"] == 7
    (survivor,) = [agent for agent in agents if agent is not doomed]
    assert survivor.health()["environments"] == 1  # it ran there, after the kill
