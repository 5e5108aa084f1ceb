"""Functions in a VPC with an EFS file system (spec 7.1, 7.2), against the real server with boto3:
VpcConfig checked against EC2, FileSystemConfigs against EFS, with AWS's codes and messages."""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import ROLE, aws_error
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

MISSING_AP = "arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/fsap-0123456789abcdef0"


def message(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return str(raised.value.response["Error"]["Message"])


@dataclass(frozen=True)
class Cloud:
    """A VPC with one subnet, a group for functions and one for the mount target (2049 in from
    the functions' group), a file system with its mount target and an access point."""

    vpc: str
    subnet: str
    group: str
    target_group: str
    file_system: str
    access_point: str

    def vpc_config(self) -> dict[str, Any]:
        return {"SubnetIds": [self.subnet], "SecurityGroupIds": [self.group]}

    def mounts(self, path: str = "/mnt/shared") -> list[dict[str, str]]:
        return [{"Arn": self.access_point, "LocalMountPath": path}]


def build_cloud(server: GureumProcess, tag: str, *, nfs_open: bool = True) -> Cloud:
    ec2, efs = server.client("ec2"), server.client("efs")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24", AvailabilityZone="us-east-1a")
    subnet_id = subnet["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"fn-{tag}", Description="f", VpcId=vpc)["GroupId"]
    target_group = ec2.create_security_group(GroupName=f"mt-{tag}", Description="m", VpcId=vpc)[
        "GroupId"
    ]
    if nfs_open:
        ec2.authorize_security_group_ingress(
            GroupId=target_group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 2049,
                    "ToPort": 2049,
                    "UserIdGroupPairs": [{"GroupId": group}],
                }
            ],
        )
    fs = efs.create_file_system(CreationToken=f"fs-{tag}")["FileSystemId"]
    for _ in range(500):
        state = efs.describe_file_systems(FileSystemId=fs)["FileSystems"][0]["LifeCycleState"]
        if state == "available":
            break
        time.sleep(0.01)
    efs.create_mount_target(FileSystemId=fs, SubnetId=subnet_id, SecurityGroups=[target_group])
    point = efs.create_access_point(
        FileSystemId=fs,
        PosixUser={"Uid": 1001, "Gid": 1001},
        RootDirectory={
            "Path": "/shared",
            "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "755"},
        },
    )["AccessPointArn"]
    return Cloud(vpc, subnet_id, group, target_group, fs, point)


@pytest.fixture(scope="module")
def cloud(server: GureumProcess) -> Cloud:
    return build_cloud(server, "main")


def test_vpc_config_shows_its_vpc(make_function: Callable[..., Any], cloud: Cloud) -> None:
    created = make_function(VpcConfig=cloud.vpc_config())
    assert created["VpcConfig"]["VpcId"] == cloud.vpc
    assert created["VpcConfig"]["SubnetIds"] == [cloud.subnet]
    assert created["State"] == "Pending"  # while its network interfaces are set up


def test_unknown_subnet_and_group(make_function: Callable[..., Any], cloud: Cloud) -> None:
    with aws_error("InvalidParameterValueException", 400) as raised:
        make_function(
            VpcConfig={"SubnetIds": ["subnet-0123456789abcdef0"], "SecurityGroupIds": [cloud.group]}
        )
    assert message(raised) == (
        "Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. "
        "EC2 Error Message: The subnet ID 'subnet-0123456789abcdef0' does not exist"
    )
    with aws_error("InvalidParameterValueException", 400) as raised:
        make_function(
            VpcConfig={"SubnetIds": [cloud.subnet], "SecurityGroupIds": ["sg-0123456789abcdef0"]}
        )
    assert message(raised) == (
        "Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. "
        "EC2 Error Message: The security group 'sg-0123456789abcdef0' does not exist"
    )
    with aws_error("InvalidParameterValueException", 400) as raised:
        make_function(VpcConfig={"SubnetIds": [cloud.subnet], "SecurityGroupIds": []})
    assert message(raised) == "SubnetIds and SecurityIds must coexist or be both empty list."


def test_group_of_another_vpc(
    make_function: Callable[..., Any], cloud: Cloud, server: GureumProcess
) -> None:
    ec2 = server.client("ec2")
    other = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="elsewhere", Description="x", VpcId=other)
    with aws_error("InvalidParameterValueException", 400) as raised:
        make_function(
            VpcConfig={"SubnetIds": [cloud.subnet], "SecurityGroupIds": [group["GroupId"]]}
        )
    assert message(raised) == "Security Groups are required to be in the same VPC."


def test_subnet_and_group_in_use_cannot_be_deleted(
    make_function: Callable[..., Any], cloud: Cloud, server: GureumProcess
) -> None:
    ec2 = server.client("ec2")
    subnet = ec2.create_subnet(VpcId=cloud.vpc, CidrBlock="10.1.9.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="held", Description="h", VpcId=cloud.vpc)
    make_function(VpcConfig={"SubnetIds": [subnet], "SecurityGroupIds": [group["GroupId"]]})
    with aws_error("DependencyViolation", 400):
        ec2.delete_subnet(SubnetId=subnet)
    with aws_error("DependencyViolation", 400):
        ec2.delete_security_group(GroupId=group["GroupId"])


def test_file_system_needs_a_vpc(make_function: Callable[..., Any], cloud: Cloud) -> None:
    with aws_error("InvalidParameterValueException", 400) as raised:
        make_function(FileSystemConfigs=cloud.mounts())
    assert message(raised) == (
        "Function must be configured to execute in a VPC to reference access point "
        f"{cloud.access_point}."
    )


def test_vpc_cannot_be_removed_under_an_access_point(
    make_function: Callable[..., Any], cloud: Cloud, lambda_client: Any, function_name: str
) -> None:
    created = make_function(VpcConfig=cloud.vpc_config(), FileSystemConfigs=cloud.mounts())
    assert created["FileSystemConfigs"] == cloud.mounts()
    with aws_error("InvalidParameterValueException", 400) as raised:
        lambda_client.update_function_configuration(
            FunctionName=function_name, VpcConfig={"SubnetIds": [], "SecurityGroupIds": []}
        )
    assert message(raised) == (
        f"Function VPC configuration cannot be removed with access point {cloud.access_point} "
        "referenced."
    )


def test_bad_file_system_configs(make_function: Callable[..., Any], cloud: Cloud) -> None:
    vpc = cloud.vpc_config()
    # One file system per function: the model's own limit (a ValidationException).
    with aws_error("ValidationException", 400):
        make_function(VpcConfig=vpc, FileSystemConfigs=cloud.mounts() + cloud.mounts("/mnt/b"))
    with aws_error("ValidationException", 400):
        make_function(VpcConfig=vpc, FileSystemConfigs=cloud.mounts("/mnt/a/b"))
    file_system_arn = cloud.access_point.replace(":access-point/fsap-", ":file-system/fs-")
    with aws_error("ValidationException", 400):
        make_function(
            VpcConfig=vpc, FileSystemConfigs=[{"Arn": file_system_arn, "LocalMountPath": "/mnt/a"}]
        )
    with aws_error("InvalidParameterValueException", 400):
        make_function(
            VpcConfig=vpc, FileSystemConfigs=[{"Arn": MISSING_AP, "LocalMountPath": "/mnt/a"}]
        )


def test_file_system_configs_frozen_on_publish(
    make_function: Callable[..., Any], cloud: Cloud, lambda_client: Any, function_name: str
) -> None:
    make_function(VpcConfig=cloud.vpc_config(), FileSystemConfigs=cloud.mounts())
    published = lambda_client.publish_version(FunctionName=function_name)
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=function_name)
    lambda_client.update_function_configuration(FunctionName=function_name, FileSystemConfigs=[])
    version = lambda_client.get_function_configuration(
        FunctionName=function_name, Qualifier=published["Version"]
    )
    assert version["FileSystemConfigs"] == cloud.mounts()
    latest = lambda_client.get_function_configuration(FunctionName=function_name)
    assert "FileSystemConfigs" not in latest


# A handler that runs the file operation an event names, under the mount, and answers what
# happened: its result, or the error's errno.
FILE_HANDLER = """
import json, os

def handler(event, context):
    path = event["path"]
    try:
        if event["op"] == "write":
            with open(path, "w") as f:
                f.write(event["data"])
            st = os.stat(path)
            return {"ok": True, "uid": st.st_uid, "gid": st.st_gid}
        if event["op"] == "read":
            with open(path) as f:
                return {"ok": True, "data": f.read()}
        if event["op"] == "listdir":
            return {"ok": True, "names": sorted(os.listdir(path))}
        if event["op"] == "symlink":
            os.symlink(event["data"], path)
            return {"ok": True}
        if event["op"] == "realpath":
            return {"ok": True, "path": os.path.realpath(path)}
    except OSError as exc:
        return {"ok": False, "errno": exc.errno, "error": str(exc)}
    return {"ok": False}
"""


def run(lambda_client: Any, name: str, **event: Any) -> dict[str, Any]:
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def host_root(server: GureumProcess, cloud: Cloud, path: str = "shared") -> Path:
    return server.data_dir / "efs" / cloud.file_system / path


def test_two_functions_share_files_as_the_posix_user(
    make_function: Callable[..., Any],
    cloud: Cloud,
    lambda_client: Any,
    function_name: str,
    server: GureumProcess,
) -> None:
    options = {
        "VpcConfig": cloud.vpc_config(),
        "FileSystemConfigs": cloud.mounts(),
        "Code": {"ZipFile": zip_of({"index.py": FILE_HANDLER})},
    }
    make_function(**options)
    make_function(name=function_name + "-b", **options)
    written = run(lambda_client, function_name, op="write", path="/mnt/shared/hello", data="hi")
    # Inside, the file shows as the environment's own; on disk it is the access point's user.
    assert written["ok"], written
    on_disk = host_root(server, cloud) / "hello"
    assert (on_disk.stat().st_uid, on_disk.stat().st_gid) == (1001, 1001)
    assert on_disk.read_text() == "hi"
    read = run(lambda_client, function_name + "-b", op="read", path="/mnt/shared/hello")
    assert read == {"ok": True, "data": "hi"}


def test_permissions_are_the_posix_users(
    make_function: Callable[..., Any],
    cloud: Cloud,
    lambda_client: Any,
    function_name: str,
    server: GureumProcess,
) -> None:
    make_function(
        VpcConfig=cloud.vpc_config(),
        FileSystemConfigs=cloud.mounts(),
        Code={"ZipFile": zip_of({"index.py": FILE_HANDLER})},
    )
    run(lambda_client, function_name, op="listdir", path="/mnt/shared")  # made on first mount
    private = host_root(server, cloud) / "root-only"
    private.mkdir(exist_ok=True)
    os.chown(private, 0, 0)
    private.chmod(0o700)
    denied = run(lambda_client, function_name, op="write", path="/mnt/shared/root-only/x", data="")
    assert (denied["ok"], denied.get("errno")) == (False, errno.EACCES), denied


def test_nothing_above_the_root_directory(
    make_function: Callable[..., Any],
    cloud: Cloud,
    lambda_client: Any,
    function_name: str,
    server: GureumProcess,
) -> None:
    make_function(
        VpcConfig=cloud.vpc_config(),
        FileSystemConfigs=cloud.mounts(),
        Code={"ZipFile": zip_of({"index.py": FILE_HANDLER})},
    )
    run(lambda_client, function_name, op="listdir", path="/mnt/shared")
    # A file beside the access point's root, in the same file system: never reachable.
    beside = server.data_dir / "efs" / cloud.file_system / "secret"
    beside.write_text("s3cret")
    up = run(lambda_client, function_name, op="read", path="/mnt/shared/../secret")
    assert (up["ok"], up.get("errno")) == (False, errno.ENOENT), up
    for name, link in (("up", "../secret"), ("abs", str(beside)), ("deep", "../../../../secret")):
        run(lambda_client, function_name, op="symlink", path=f"/mnt/shared/{name}", data=link)
        through = run(lambda_client, function_name, op="read", path=f"/mnt/shared/{name}")
        assert through["ok"] is False, (name, through)
    listed = run(lambda_client, function_name, op="listdir", path="/mnt/shared/..")
    assert "secret" not in listed["names"]


def file_function(make_function: Callable[..., Any], cloud: Cloud, name: str) -> None:
    make_function(
        name=name,
        VpcConfig=cloud.vpc_config(),
        FileSystemConfigs=cloud.mounts(),
        Code={"ZipFile": zip_of({"index.py": FILE_HANDLER})},
    )


def test_no_nfs_in_the_mount_targets_group(
    make_function: Callable[..., Any], server: GureumProcess, lambda_client: Any, function_name: str
) -> None:
    closed = build_cloud(server, "closed", nfs_open=False)
    file_function(make_function, closed, function_name)
    with aws_error(
        "EFSMountConnectivityException",
        408,
        "The function couldn't connect to the Amazon EFS file system with access point "
        f"{closed.access_point}. Check your network configuration and try again.",
    ):
        lambda_client.invoke(FunctionName=function_name, Payload=b"{}")
    # Opened, the next environment mounts it.
    server.client("ec2").authorize_security_group_ingress(
        GroupId=closed.target_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 2049,
                "ToPort": 2049,
                "UserIdGroupPairs": [{"GroupId": closed.group}],
            }
        ],
    )
    listed = run(lambda_client, function_name, op="listdir", path="/mnt/shared")
    assert listed == {"ok": True, "names": []}


def test_function_group_without_nfs_out(
    make_function: Callable[..., Any], server: GureumProcess, lambda_client: Any, function_name: str
) -> None:
    cloud = build_cloud(server, "egress")
    ec2 = server.client("ec2")
    ec2.revoke_security_group_egress(
        GroupId=cloud.group,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    file_function(make_function, cloud, function_name)
    with aws_error("EFSMountConnectivityException", 408):
        lambda_client.invoke(FunctionName=function_name, Payload=b"{}")


def policy(cloud: Cloud, actions: list[str]) -> str:
    fs_arn = f"arn:aws:elasticfilesystem:us-east-1:000000000000:file-system/{cloud.file_system}"
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": ROLE},
        "Action": actions,
        "Resource": fs_arn,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_file_system_policy(
    make_function: Callable[..., Any], server: GureumProcess, lambda_client: Any, function_name: str
) -> None:
    cloud = build_cloud(server, "policy")
    efs = server.client("efs")
    file_function(make_function, cloud, function_name)
    # ClientMount without ClientWrite: a read-only mount.
    efs.put_file_system_policy(
        FileSystemId=cloud.file_system,
        Policy=policy(cloud, ["elasticfilesystem:ClientMount"]),
        BypassPolicyLockoutSafetyCheck=True,
    )
    written = run(lambda_client, function_name, op="write", path="/mnt/shared/x", data="")
    assert (written["ok"], written.get("errno")) == (False, errno.EROFS), written
    # Nothing for this role: no mount at all (on the next environment).
    efs.put_file_system_policy(
        FileSystemId=cloud.file_system,
        Policy=policy(cloud, ["elasticfilesystem:DescribeMountTargets"]),
        BypassPolicyLockoutSafetyCheck=True,
    )
    lambda_client.update_function_configuration(FunctionName=function_name, Timeout=4)
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=function_name)
    with aws_error(
        "EFSMountFailureException",
        403,
        f"The function could not mount the EFS file system with access point {cloud.access_point}.",
    ):
        lambda_client.invoke(FunctionName=function_name, Payload=b"{}")


def test_deleted_access_point(
    make_function: Callable[..., Any], server: GureumProcess, lambda_client: Any, function_name: str
) -> None:
    cloud = build_cloud(server, "deleted")
    file_function(make_function, cloud, function_name)
    server.client("efs").delete_access_point(AccessPointId=cloud.access_point.rsplit("/", 1)[1])
    with aws_error("EFSMountFailureException", 403):
        lambda_client.invoke(FunctionName=function_name, Payload=b"{}")


def test_files_survive_a_restart(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data").start()
    try:
        cloud = build_cloud(process, "durable")
        client = process.client()
        client.create_function(
            FunctionName="durable",
            Runtime="python3.12",
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": zip_of({"index.py": FILE_HANDLER})},
            VpcConfig=cloud.vpc_config(),
            FileSystemConfigs=cloud.mounts(),
        )
        client.get_waiter("function_active_v2").wait(
            FunctionName="durable", WaiterConfig={"Delay": 0.1}
        )
        run(client, "durable", op="write", path="/mnt/shared/kept", data="still here")
        process.stop()
        process.start()
        client = process.client()
        assert run(client, "durable", op="read", path="/mnt/shared/kept") == {
            "ok": True,
            "data": "still here",
        }
    finally:
        process.stop()


def test_connection_limit_per_file_system(tmp_path: Path) -> None:
    """One connection per environment: with a limit of one, a second environment on the same
    file system (another function's) cannot mount it until the first is gone."""
    process = GureumProcess(tmp_path / "data", "--efs-connection-limit", "1").start()
    try:
        cloud = build_cloud(process, "limited")
        client = process.client()
        for name in ("first", "second"):
            client.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=ROLE,
                Handler="index.handler",
                Code={"ZipFile": zip_of({"index.py": FILE_HANDLER})},
                VpcConfig=cloud.vpc_config(),
                FileSystemConfigs=cloud.mounts(),
            )
            client.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 0.1}
            )
        run(client, "first", op="listdir", path="/mnt/shared")
        run(client, "first", op="listdir", path="/mnt/shared")  # warm: the same connection
        with aws_error(
            "EFSMountFailureException",
            403,
            "The function could not mount the EFS file system with access point "
            f"{cloud.access_point}.",
        ):
            client.invoke(FunctionName="second", Payload=b"{}")
    finally:
        process.stop()


def test_client_connections_in_cloudwatch(
    make_function: Callable[..., Any], server: GureumProcess, lambda_client: Any, function_name: str
) -> None:
    cloud = build_cloud(server, "watched")
    file_function(make_function, cloud, function_name)
    run(lambda_client, function_name, op="listdir", path="/mnt/shared")
    cloudwatch = server.client("cloudwatch")
    dimensions = [{"Name": "FileSystemId", "Value": cloud.file_system}]
    for _ in range(100):
        found = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "c",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/EFS",
                            "MetricName": "ClientConnections",
                            "Dimensions": dimensions,
                        },
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                }
            ],
            StartTime=time.time() - 600,
            EndTime=time.time() + 60,
        )["MetricDataResults"][0]["Values"]
        if found:
            break
        time.sleep(0.1)
    assert found == [1.0]  # one environment, one connection
