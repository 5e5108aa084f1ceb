"""As whom a function's file operations on EFS are made (spec 7.1), against a real server with
real sandboxes: the access point's SecondaryGids count for permissions, and uid 0 is squashed to
65534 unless the file system policy grants ClientRootAccess (EFS's root squashing)."""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import ROLE
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

HANDLER = """
import os

def handler(event, context):
    path = event["path"]
    try:
        if event["op"] == "write":
            with open(path, "w") as f:
                f.write("x")
            return {"ok": True}
        if event["op"] == "groups":
            return {"ok": True, "groups": sorted(os.getgroups())}
        return {"ok": True, "names": sorted(os.listdir(path))}
    except OSError as exc:
        return {"ok": False, "errno": exc.errno}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path_factory.mktemp("gureum-fsid") / "data").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def network(server: GureumProcess) -> dict[str, str]:
    """A VPC, a subnet, a function group and a file system with a mount target that takes
    2049 from it."""
    ec2, efs = server.client("ec2"), server.client("efs")
    vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.5.1.0/24", AvailabilityZone="us-east-1a")
    group = ec2.create_security_group(GroupName="fn", Description="f", VpcId=vpc)["GroupId"]
    target = ec2.create_security_group(GroupName="mt", Description="m", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=target,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 2049,
                "ToPort": 2049,
                "UserIdGroupPairs": [{"GroupId": group}],
            }
        ],
    )
    fs = efs.create_file_system(CreationToken="identity")["FileSystemId"]
    for _ in range(500):
        if efs.describe_file_systems(FileSystemId=fs)["FileSystems"][0]["LifeCycleState"] == (
            "available"
        ):
            break
        time.sleep(0.01)
    efs.create_mount_target(
        FileSystemId=fs, SubnetId=subnet["Subnet"]["SubnetId"], SecurityGroups=[target]
    )
    return {"fs": fs, "subnet": subnet["Subnet"]["SubnetId"], "group": group}


@pytest.fixture
def mounted(
    server: GureumProcess, network: dict[str, str], function_name: str
) -> Callable[..., tuple[Any, Path]]:
    """A function mounting a new access point (`posix_user`, root `/<path>`); the client and
    the root's directory on the host."""

    def make(posix_user: dict[str, Any], path: str) -> tuple[Any, Path]:
        point = server.client("efs").create_access_point(
            FileSystemId=network["fs"],
            PosixUser=posix_user,
            RootDirectory={
                "Path": f"/{path}",
                "CreationInfo": {"OwnerUid": 0, "OwnerGid": 0, "Permissions": "777"},
            },
        )["AccessPointArn"]
        client = server.client()
        client.create_function(
            FunctionName=function_name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": zip_of({"index.py": HANDLER})},
            VpcConfig={"SubnetIds": [network["subnet"]], "SecurityGroupIds": [network["group"]]},
            FileSystemConfigs=[{"Arn": point, "LocalMountPath": "/mnt/fs"}],
        )
        client.get_waiter("function_active_v2").wait(
            FunctionName=function_name, WaiterConfig={"Delay": 0.1}
        )
        return client, server.data_dir / "efs" / network["fs"] / path

    return make


def run(client: Any, name: str, **event: Any) -> dict[str, Any]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def group_only(root: Path, gid: int) -> Path:
    """A directory under the access point's root that only group `gid` may write to."""
    run_dir = root / f"group-{gid}"
    run_dir.mkdir()
    os.chown(run_dir, 0, gid)
    run_dir.chmod(0o070)
    return run_dir


def test_secondary_gids_grant_group_access(
    mounted: Callable[..., tuple[Any, Path]], function_name: str
) -> None:
    client, root = mounted({"Uid": 1001, "Gid": 1001, "SecondaryGids": [2002, 2003]}, "second")
    run(client, function_name, op="list", path="/mnt/fs")  # the root is made
    group_only(root, 2003)
    group_only(root, 2004)
    assert run(client, function_name, op="write", path="/mnt/fs/group-2003/f") == {"ok": True}
    stat = (root / "group-2003" / "f").stat()
    assert (stat.st_uid, stat.st_gid) == (1001, 1001)  # made as the primary group
    denied = run(client, function_name, op="write", path="/mnt/fs/group-2004/f")
    assert denied == {"ok": False, "errno": errno.EACCES}


def test_without_secondary_gids_no_group_access(
    mounted: Callable[..., tuple[Any, Path]], function_name: str
) -> None:
    client, root = mounted({"Uid": 1001, "Gid": 1001}, "nosecond")
    run(client, function_name, op="list", path="/mnt/fs")
    group_only(root, 2003)
    denied = run(client, function_name, op="write", path="/mnt/fs/group-2003/f")
    assert denied == {"ok": False, "errno": errno.EACCES}


def policy(fs: str, actions: list[str]) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": ROLE},
        "Action": actions,
        "Resource": f"arn:aws:elasticfilesystem:us-east-1:000000000000:file-system/{fs}",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_root_with_and_without_client_root_access(
    mounted: Callable[..., tuple[Any, Path]],
    function_name: str,
    server: GureumProcess,
    network: dict[str, str],
) -> None:
    efs = server.client("efs")
    # No policy: AWS's default grants ClientRootAccess, so uid 0 is itself.
    client, root = mounted({"Uid": 0, "Gid": 0}, "rooted")
    assert run(client, function_name, op="write", path="/mnt/fs/as-root") == {"ok": True}
    stat = (root / "as-root").stat()
    assert (stat.st_uid, stat.st_gid) == (0, 0)
    # Mount and write but no root access: squashed to 65534, for the next environment.
    efs.put_file_system_policy(
        FileSystemId=network["fs"],
        Policy=policy(
            network["fs"], ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
        ),
        BypassPolicyLockoutSafetyCheck=True,
    )
    try:
        client.update_function_configuration(FunctionName=function_name, Description="squash")
        client.get_waiter("function_updated_v2").wait(
            FunctionName=function_name, WaiterConfig={"Delay": 0.1}
        )
        assert run(client, function_name, op="write", path="/mnt/fs/squashed") == {"ok": True}
        stat = (root / "squashed").stat()
        assert (stat.st_uid, stat.st_gid) == (65534, 65534)
        private = root / "root-only"
        private.mkdir()
        private.chmod(0o700)
        denied = run(client, function_name, op="write", path="/mnt/fs/root-only/f")
        assert denied == {"ok": False, "errno": errno.EACCES}
    finally:
        efs.delete_file_system_policy(FileSystemId=network["fs"])
