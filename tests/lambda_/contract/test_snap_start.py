"""SnapStart over the wire (issue 22): the configuration and its refusals, PublishVersion taking
the snapshot (Init once, AWS's `snapshot_restore_py` hooks), restores instead of cold starts,
each restored environment a sandbox of its own, and AWS's errors when a hook fails.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.functions import WAIT, create, error_of, invoke
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

HANDLER = """\
import os
import random
import time
from pathlib import Path
import uuid

from snapshot_restore_py import register_after_restore, register_before_snapshot

INIT_ID = uuid.uuid4().hex
ORDER = []
BALLAST = b"x" * (int(os.environ.get("BALLAST_MB", "0")) << 20)
time.sleep(float(os.environ.get("INIT_SLEEP", "0")))
with open("/tmp/from-init", "w") as marker:
    marker.write("init")


@register_before_snapshot
def first_registered():
    ORDER.append("before-1")


@register_before_snapshot
def second_registered():
    ORDER.append("before-2")


@register_after_restore
def restored_one():
    ORDER.append("after-1")
    if os.environ.get("FAIL_RESTORE"):
        raise RuntimeError("after-restore hook failed on purpose")


@register_after_restore
def restored_two():
    ORDER.append("after-2")
    time.sleep(float(os.environ.get("RESTORE_SLEEP", "0")))


if os.environ.get("FAIL_SNAPSHOT"):
    register_before_snapshot(lambda: 1 / 0)


def handler(event, context):
    if event.get("whoami"):
        import boto3

        arn = boto3.client("sts").get_caller_identity()["Arn"]
        return {"arn": arn, "keys": "AWS_ACCESS_KEY_ID" in os.environ}
    if event.get("write"):
        with open("/tmp/" + event["write"], "w") as mine:
            mine.write("mine")
    time.sleep(event.get("sleep", 0))
    return {
        "init": INIT_ID,
        "order": ORDER,
        "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "uid": os.getuid(),
        "pid": os.getpid(),
        "random": random.random(),
        "uuid": uuid.uuid4().hex,
        "tmp": sorted(os.listdir("/tmp")),
        "log_group": os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME"),
        "version": context.function_version,
    }
"""
CODE = zip_of({"index.py": HANDLER})
SNAP = {"ApplyOn": "PublishedVersions"}


def _snap_function(client: Any, name: str, **variables: str) -> None:
    create(
        client,
        name,
        Code={"ZipFile": CODE},
        SnapStart=SNAP,
        Timeout=30,
        Environment={"Variables": variables},
    )


def _publish(client: Any, name: str) -> dict[str, Any]:
    published: dict[str, Any] = client.publish_version(FunctionName=name)
    return published


def _wait_settled(client: Any, name: str, version: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        config: dict[str, Any] = client.get_function_configuration(
            FunctionName=name, Qualifier=version
        )
        if config["State"] != "Pending" or time.monotonic() > deadline:
            return config
        time.sleep(0.05)


def test_snap_start_is_refused_where_aws_refuses_it(lambda_client: Any, function_name: str) -> None:
    common = {
        "FunctionName": function_name,
        "Role": "arn:aws:iam::000000000000:role/lambda-role",
        "Handler": "index.handler",
        "Code": {"ZipFile": CODE},
        "SnapStart": SNAP,
    }
    status, code, message = error_of(lambda_client.create_function, Runtime="nodejs20.x", **common)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == "nodejs20.x is not supported for SnapStart enabled functions."
    status, code, message = error_of(
        lambda_client.create_function,
        Runtime="python3.12",
        EphemeralStorage={"Size": 1024},
        **common,
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "ephemeral storage greater than 512 MB" in message
    status, code, message = error_of(
        lambda_client.create_function,
        Runtime="python3.12",
        **{**common, "SnapStart": {"ApplyOn": "Always"}},
    )
    assert (status, code) == (400, "ValidationException")
    assert "Member must satisfy enum value set: [PublishedVersions, None]" in message


def test_publish_takes_the_snapshot_and_invokes_restore_from_it(
    lambda_client: Any, function_name: str, server: GureumProcess
) -> None:
    _snap_function(lambda_client, function_name, INIT_SLEEP="0.5")
    latest = lambda_client.get_function_configuration(FunctionName=function_name)
    assert latest["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    published = _publish(lambda_client, function_name)
    assert published["State"] == "Pending"
    assert published["StateReasonCode"] == "Creating"
    lambda_client.get_waiter("published_version_active").wait(
        FunctionName=function_name, Qualifier=published["Version"], WaiterConfig=WAIT
    )
    version = lambda_client.get_function_configuration(
        FunctionName=function_name, Qualifier=published["Version"]
    )
    assert version["State"] == "Active"
    assert version["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}

    with ThreadPoolExecutor(2) as pool:
        calls = [
            pool.submit(
                invoke,
                lambda_client,
                function_name,
                {"sleep": 1.0},
                Qualifier=published["Version"],
                LogType="Tail",
            )
            for index in range(2)
        ]
        results = [call.result() for call in calls]
    bodies = [result.json() for result in results]
    for body, result in zip(bodies, results, strict=True):
        assert result.function_error is None, result.payload
        assert body["type"] == "snap-start"
        # Before-snapshot hooks in reverse order of registration, then after-restore in order.
        assert body["order"] == ["before-2", "before-1", "after-1", "after-2"]
        assert body["log_group"] is None  # absent in SnapStart environments, as on AWS
        assert "from-init" in body["tmp"]  # the snapshot's disk, as AWS keeps it
        assert body["pid"] == 1  # its own pid namespace
        assert result.log is not None
        assert "Restore Duration: " in result.log
        assert "Billed Restore Duration: " in result.log
        assert "Init Duration" not in result.log
    # Init ran once: both environments were restored from it ...
    assert bodies[0]["init"] == bodies[1]["init"]
    # ... and each is its own: uid, /tmp, random state and ids.
    assert bodies[0]["uid"] != bodies[1]["uid"]
    again = invoke(lambda_client, function_name, {}, Qualifier=published["Version"]).json()
    assert again["init"] == bodies[0]["init"]
    assert bodies[0]["random"] != bodies[1]["random"]
    assert bodies[0]["uuid"] != bodies[1]["uuid"]
    # $LATEST is not restored: it cold-starts, running Init itself.
    cold = invoke(lambda_client, function_name, {}).json()
    assert cold["type"] == "on-demand"
    assert cold["init"] != bodies[0]["init"]

    group = f"/aws/lambda/{function_name}"
    messages = _all_messages(server, group)
    assert any(m.startswith("RESTORE_START Runtime Version: python:3.12") for m in messages)
    assert any(m.startswith("RESTORE_REPORT Restore Duration: ") for m in messages)


def test_restored_environments_act_as_the_role_through_container_credentials(
    lambda_client: Any, function_name: str
) -> None:
    # A snapshot keeps its variables: like AWS, gureum gives SnapStart environments no keys but
    # AWS_CONTAINER_CREDENTIALS_FULL_URI, so the SDK fetches a fresh session of the role.
    _snap_function(lambda_client, function_name)
    published = _publish(lambda_client, function_name)["Version"]
    assert _wait_settled(lambda_client, function_name, published)["State"] == "Active"
    body = invoke(lambda_client, function_name, {"whoami": True}, Qualifier=published).json()
    assert body == {
        "arn": f"arn:aws:sts::000000000000:assumed-role/lambda-role/{function_name}",
        "keys": False,
    }


def test_a_restored_environment_cannot_see_its_siblings_tmp(
    lambda_client: Any, function_name: str
) -> None:
    _snap_function(lambda_client, function_name)
    published = _publish(lambda_client, function_name)["Version"]
    assert _wait_settled(lambda_client, function_name, published)["State"] == "Active"
    with ThreadPoolExecutor(2) as pool:
        calls = [
            pool.submit(
                invoke,
                lambda_client,
                function_name,
                {"sleep": 1.0, "write": name},
                Qualifier=published,
            )
            for name in ("first", "second")
        ]
        bodies = [call.result().json() for call in calls]
    # Both wrote while both ran: each sees its own file and not the other's.
    assert "first" in bodies[0]["tmp"]
    assert "second" not in bodies[0]["tmp"]
    assert "second" in bodies[1]["tmp"]
    assert "first" not in bodies[1]["tmp"]


def test_a_failing_before_snapshot_hook_fails_the_version(
    lambda_client: Any, function_name: str
) -> None:
    _snap_function(lambda_client, function_name, FAIL_SNAPSHOT="1")
    published = _publish(lambda_client, function_name)["Version"]
    config = _wait_settled(lambda_client, function_name, published)
    assert config["State"] == "Failed"
    assert config["StateReasonCode"] == "FunctionError"
    assert "Runtime.BeforeSnapshotError" in config["StateReason"]
    status, code, _ = error_of(
        lambda_client.invoke, FunctionName=function_name, Qualifier=published, Payload=b"{}"
    )
    assert (status, code) == (409, "ResourceConflictException")


def test_a_failing_after_restore_hook_is_a_snap_start_exception(
    lambda_client: Any, function_name: str
) -> None:
    _snap_function(lambda_client, function_name, FAIL_RESTORE="1")
    published = _publish(lambda_client, function_name)["Version"]
    assert _wait_settled(lambda_client, function_name, published)["State"] == "Active"
    status, code, message = error_of(
        lambda_client.invoke, FunctionName=function_name, Qualifier=published, Payload=b"{}"
    )
    assert (status, code) == (400, "SnapStartException")
    assert message.startswith("The afterRestore() runtime hook encountered an error.")


@pytest.mark.slow
def test_an_after_restore_hook_past_ten_seconds_is_a_snap_start_timeout(
    lambda_client: Any, function_name: str
) -> None:
    _snap_function(lambda_client, function_name, RESTORE_SLEEP="11")
    published = _publish(lambda_client, function_name)["Version"]
    assert _wait_settled(lambda_client, function_name, published)["State"] == "Active"
    status, code, message = error_of(
        lambda_client.invoke, FunctionName=function_name, Qualifier=published, Payload=b"{}"
    )
    assert (status, code) == (408, "SnapStartTimeoutException")
    assert message == "Lambda couldn't restore the snapshot within the timeout limit."


def test_provisioned_concurrency_is_refused_on_a_snap_start_version(
    lambda_client: Any, function_name: str
) -> None:
    _snap_function(lambda_client, function_name)
    published = _publish(lambda_client, function_name)["Version"]
    _wait_settled(lambda_client, function_name, published)
    status, code, message = error_of(
        lambda_client.put_provisioned_concurrency_config,
        FunctionName=function_name,
        Qualifier=published,
        ProvisionedConcurrentExecutions=1,
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "SnapStart" in message


def test_deleting_the_version_drops_its_snapshot(
    lambda_client: Any, function_name: str, server: GureumProcess
) -> None:
    _snap_function(lambda_client, function_name)
    published = _publish(lambda_client, function_name)["Version"]
    assert _wait_settled(lambda_client, function_name, published)["State"] == "Active"
    before = _health(server)["snapshots"]["templates"]
    assert before >= 1
    lambda_client.delete_function(FunctionName=function_name, Qualifier=published)
    deadline = time.monotonic() + 30
    while _health(server)["snapshots"]["templates"] >= before:
        assert time.monotonic() < deadline, "the snapshot outlived its version"
        time.sleep(0.1)


def _health(server: GureumProcess) -> dict[str, Any]:
    document: dict[str, Any] = server.health()
    return document


def _all_messages(server: GureumProcess, group: str) -> list[str]:
    logs = server.client("logs")
    messages: list[str] = []
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
        )["events"]
        messages += [event["message"] for event in events]
    return messages


pytestmark = pytest.mark.usefixtures("server")


def test_snapshots_are_made_again_after_a_restart(tmp_path: Path) -> None:
    private = GureumProcess(tmp_path / "data").start()
    try:
        client = private.client()
        _snap_function(client, "survivor")
        version = _publish(client, "survivor")["Version"]
        assert _wait_settled(client, "survivor", version)["State"] == "Active"
        before = invoke(client, "survivor", {}, Qualifier=version).json()
        assert private.stop() == 0
        private.start()
        deadline = time.monotonic() + 60
        while private.health()["snapshots"]["templates"] < 1:  # made again at start-up
            assert time.monotonic() < deadline, "the snapshot was not made again"
            time.sleep(0.1)
        after = invoke(client, "survivor", {}, Qualifier=version)
        assert after.function_error is None, after.payload
        assert after.json()["type"] == "snap-start"
        assert after.json()["init"] != before["init"]  # Init ran again, once, at start-up
    finally:
        private.stop()


ESCAPE = """\
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
NEWUSER, NEWNS, NEWNET = 0x10000000, 0x20000, 0x40000000
NEWPID, NEWIPC, NEWUTS = 0x20000000, 0x08000000, 0x04000000


def attempt(result):
    return "ok" if result == 0 else os.strerror(ctypes.get_errno())


def handler(event, context):
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    tried = {"caps": status["CapEff"].strip()}
    tried["network"] = attempt(libc.unshare(NEWUSER | NEWNET))
    pid = os.fork()
    if pid == 0:
        # The one unshare SnapStart environments may make: root in a namespace of its own,
        # and still no mount of any kind.
        first = attempt(libc.unshare(NEWUSER | NEWNS | NEWPID | NEWIPC | NEWUTS))
        mounted = attempt(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
        os.write(1, f"ESCAPE {first} {mounted}\\n".encode())
        os._exit(0)
    os.waitpid(pid, 0)
    return tried
"""


def test_a_restored_environment_gets_no_capability_and_no_mount(
    lambda_client: Any, function_name: str
) -> None:
    create(
        lambda_client,
        function_name,
        Code={"ZipFile": zip_of({"index.py": ESCAPE})},
        SnapStart=SNAP,
    )
    version = _publish(lambda_client, function_name)["Version"]
    assert _wait_settled(lambda_client, function_name, version)["State"] == "Active"
    result = invoke(lambda_client, function_name, {}, Qualifier=version, LogType="Tail")
    assert result.json() == {"caps": "0000000000000000", "network": "Operation not permitted"}
    assert result.log is not None
    assert "ESCAPE ok Operation not permitted" in result.log


def test_a_crash_while_the_snapshot_is_taken_leaves_it_to_be_taken_again(tmp_path: Path) -> None:
    private = GureumProcess(tmp_path / "data").start()
    try:
        client = private.client()
        _snap_function(client, "crashed", INIT_SLEEP="2")
        version = _publish(client, "crashed")["Version"]  # Init runs for 2 s ...
        time.sleep(0.5)
        private.kill()  # ... and the server dies under it
        private.start()
        config = _wait_settled(client, "crashed", version)
        assert config["State"] == "Active"  # never Active without its snapshot: taken again
        assert invoke(client, "crashed", {}, Qualifier=version).json()["type"] == "snap-start"
    finally:
        private.stop()


def test_snapshots_stay_within_the_memory_budget(tmp_path: Path) -> None:
    # A budget one snapshot fits in and two do not: the older idle one is dropped, and made
    # again when its version is next invoked.
    private = GureumProcess(tmp_path / "data", "--snapshot-memory", "40").start()
    try:
        client = private.client()
        versions = []
        for name in ("first", "second"):
            _snap_function(client, name, BALLAST_MB="30")
            version = _publish(client, name)["Version"]
            assert _wait_settled(client, name, version)["State"] == "Active"
            versions.append((name, version))
        health = private.health()["snapshots"]
        assert health["templates"] == 1, health
        assert health["memoryBytes"] <= health["budgetBytes"]
        name, version = versions[0]
        again = invoke(client, name, {}, Qualifier=version)
        assert again.function_error is None, again.payload
        assert again.json()["type"] == "snap-start"
    finally:
        private.stop()
