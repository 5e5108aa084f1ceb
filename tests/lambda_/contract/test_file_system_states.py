"""A function whose file system cannot be mounted as it is set up (spec 7.1, 11.1): its access
point deleted between the request and the end of `Pending` (or `InProgress`) fails the version
with StateReasonCode (or LastUpdateStatusReasonCode) EFSMountFailure; a network that does not
reach the mount target is no such reason (AWS finds it per environment, at Invoke)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_.contract.test_file_systems import FILE_HANDLER, Cloud, build_cloud
from tests.support.aws import ROLE, aws_error
from tests.support.packages import zip_of
from tests.support.server import GureumProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    # Versions stay Pending / InProgress for a second: time to delete the access point.
    data = tmp_path_factory.mktemp("gureum-fs-states") / "data"
    process = GureumProcess(data, "--settle-delay", "1").start()
    yield process
    process.stop()


def settled(client: Any, name: str) -> dict[str, Any]:
    for _ in range(200):
        found: dict[str, Any] = client.get_function_configuration(FunctionName=name)
        if found["State"] != "Pending" and found.get("LastUpdateStatus") != "InProgress":
            return found
        time.sleep(0.05)
    raise AssertionError(f"{name} did not settle")


def create(client: Any, cloud: Cloud, name: str) -> None:
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": FILE_HANDLER})},
        VpcConfig=cloud.vpc_config(),
        FileSystemConfigs=cloud.mounts(),
    )


def delete_access_point(server: GureumProcess, cloud: Cloud) -> None:
    server.client("efs").delete_access_point(AccessPointId=cloud.access_point.rsplit("/", 1)[1])


def test_access_point_gone_while_pending(server: GureumProcess) -> None:
    cloud, client = build_cloud(server, "gone-pending"), server.client()
    create(client, cloud, "gone-pending")
    delete_access_point(server, cloud)
    found = settled(client, "gone-pending")
    assert (found["State"], found["StateReasonCode"]) == ("Failed", "EFSMountFailure")
    assert found["StateReason"] == (
        f"The function could not mount the EFS file system with access point {cloud.access_point}."
    )


def test_access_point_gone_while_updating(server: GureumProcess) -> None:
    cloud, client = build_cloud(server, "gone-update"), server.client()
    create(client, cloud, "gone-update")
    settled(client, "gone-update")
    client.update_function_configuration(FunctionName="gone-update", Description="next")
    delete_access_point(server, cloud)
    found = settled(client, "gone-update")
    assert found["State"] == "Active"
    assert (found["LastUpdateStatus"], found["LastUpdateStatusReasonCode"]) == (
        "Failed",
        "EFSMountFailure",
    )


def test_an_unreachable_mount_target_still_settles(server: GureumProcess) -> None:
    cloud, client = build_cloud(server, "closed", nfs_open=False), server.client()
    create(client, cloud, "closed")
    assert settled(client, "closed")["State"] == "Active"


HOLDING = """
import os, time

def handler(event, context):
    open("/mnt/shared/holding", "w").close()
    for _ in range(200):  # until the file system is gone from under it
        if not os.path.exists("/mnt/shared/holding"):
            break
        time.sleep(0.05)
    with open("/mnt/shared/after", "w") as f:
        f.write("x")
    return "written"
"""


def test_file_system_deleted_under_a_running_function(server: GureumProcess) -> None:
    cloud, client = build_cloud(server, "io"), server.client()
    client.create_function(
        FunctionName="io",
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Timeout=30,
        Code={"ZipFile": zip_of({"index.py": HOLDING})},
        VpcConfig=cloud.vpc_config(),
        FileSystemConfigs=cloud.mounts(),
    )
    settled(client, "io")
    answers: list[Any] = []

    def invoke() -> None:
        try:
            answers.append(client.invoke(FunctionName="io", Payload=b"{}"))
        except ClientError as error:
            answers.append(error)

    running = threading.Thread(target=invoke)
    running.start()
    holding = server.data_dir / "efs" / cloud.file_system / "shared" / "holding"
    for _ in range(400):
        if holding.exists():
            break
        time.sleep(0.025)
    efs = server.client("efs")
    (target,) = efs.describe_mount_targets(FileSystemId=cloud.file_system)["MountTargets"]
    efs.delete_mount_target(MountTargetId=target["MountTargetId"])
    efs.delete_access_point(AccessPointId=cloud.access_point.rsplit("/", 1)[1])
    efs.delete_file_system(FileSystemId=cloud.file_system)
    running.join(timeout=60)
    (answer,) = answers
    assert isinstance(answer, ClientError), answer
    assert answer.response["Error"]["Code"] == "EFSIOException"
    assert answer.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    assert answer.response["Error"]["Message"] == (
        "This function instance was stopped because Lambda detected an IO process that was "
        "taking too long."
    )
    # The instance was stopped: the next invocation starts anew, and cannot mount.
    with aws_error("EFSMountFailureException", 403):
        client.invoke(FunctionName="io", Payload=b"{}")


SLEEPER = """
import os, time

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return sorted(os.listdir("/mnt/shared"))
"""


def test_file_system_gone_when_a_timed_out_runtime_restarts(server: GureumProcess) -> None:
    """After a timeout the environment restarts its runtime on the next invocation, mounting
    again: with the file system gone, that instance is stopped with EFSIOException; a new one
    then cannot mount the access point (EFSMountFailureException)."""
    cloud, client = build_cloud(server, "restart"), server.client()
    client.create_function(
        FunctionName="restart",
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Timeout=1,
        Code={"ZipFile": zip_of({"index.py": SLEEPER})},
        VpcConfig=cloud.vpc_config(),
        FileSystemConfigs=cloud.mounts(),
    )
    settled(client, "restart")
    assert "FunctionError" not in client.invoke(FunctionName="restart", Payload=b"{}")
    timed_out = client.invoke(FunctionName="restart", Payload=b'{"sleep": 5}')
    assert timed_out["FunctionError"] == "Unhandled"
    efs = server.client("efs")
    (target,) = efs.describe_mount_targets(FileSystemId=cloud.file_system)["MountTargets"]
    efs.delete_mount_target(MountTargetId=target["MountTargetId"])
    efs.delete_access_point(AccessPointId=cloud.access_point.rsplit("/", 1)[1])
    efs.delete_file_system(FileSystemId=cloud.file_system)
    with aws_error("EFSIOException", 410):
        client.invoke(FunctionName="restart", Payload=b"{}")
    with aws_error(
        "EFSMountFailureException",
        403,
        f"The function could not mount the EFS file system with access point {cloud.access_point}.",
    ):
        client.invoke(FunctionName="restart", Payload=b"{}")
