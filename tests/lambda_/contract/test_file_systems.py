"""Functions in a VPC with an EFS file system (spec 7.1, 7.2), against the real server with boto3:
VpcConfig checked against EC2, FileSystemConfigs against EFS, with AWS's codes and messages."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import aws_error
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


def test_subnet_in_use_cannot_be_deleted(
    make_function: Callable[..., Any], cloud: Cloud, server: GureumProcess
) -> None:
    make_function(VpcConfig=cloud.vpc_config())
    with aws_error("DependencyViolation", 400):
        server.client("ec2").delete_security_group(GroupId=cloud.group)


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
