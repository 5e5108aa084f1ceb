"""EFS against a real server, with boto3's `efs` client and the AWS CLI: AWS's ids, ARNs, error
codes, statuses and messages; durable across a restart and a kill -9.

The server has no EC2 yet (issue #13): its network model is empty, so mount targets are
covered over the wire by their refusals here, and by the service tests for the rest.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import aws_error
from tests.support.cli import run_aws
from tests.support.server import GureumProcess

ACCOUNT, REGION = "000000000000", "us-east-1"
ARGS = ("--isolation", "none", "--time-scale", "0.01")
MISSING_FS = "fs-0123456789abcdef0"
MISSING_AP = "fsap-0123456789abcdef0"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path_factory.mktemp("gureum-efs") / "data", *ARGS).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def efs(server: GureumProcess) -> Any:
    return server.client("efs")


def available(efs: Any, token: str, **options: Any) -> dict[str, Any]:
    """A new file system, once it is available."""
    created: dict[str, Any] = efs.create_file_system(CreationToken=token, **options)
    for _ in range(200):
        found = efs.describe_file_systems(FileSystemId=created["FileSystemId"])["FileSystems"]
        if found[0]["LifeCycleState"] == "available":
            return created
        time.sleep(0.01)
    raise AssertionError("the file system never became available")


def test_create_file_system(
    efs: Any, server: GureumProcess, request: pytest.FixtureRequest
) -> None:
    token = request.node.name
    created = efs.create_file_system(
        CreationToken=token,
        PerformanceMode="maxIO",
        ThroughputMode="provisioned",
        ProvisionedThroughputInMibps=64.0,
        Encrypted=True,
        Tags=[{"Key": "Name", "Value": "shared"}, {"Key": "team", "Value": "a"}],
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    fs_id = created["FileSystemId"]
    assert re.fullmatch(r"fs-[0-9a-f]{17}", fs_id)
    assert (
        created["FileSystemArn"]
        == f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/{fs_id}"
    )
    assert created["LifeCycleState"] == "creating"
    assert created["OwnerId"] == ACCOUNT
    assert created["Name"] == "shared"
    assert created["NumberOfMountTargets"] == 0
    assert (created["PerformanceMode"], created["ThroughputMode"]) == ("maxIO", "provisioned")
    assert created["ProvisionedThroughputInMibps"] == 64.0
    assert created["Encrypted"] is True
    assert created["Tags"] == [{"Key": "Name", "Value": "shared"}, {"Key": "team", "Value": "a"}]
    assert (server.data_dir / "efs" / fs_id).is_dir()
    time.sleep(0.05)
    described = efs.describe_file_systems(CreationToken=token)["FileSystems"]
    assert [fs["FileSystemId"] for fs in described] == [fs_id]
    assert described[0]["LifeCycleState"] == "available"


def test_a_creation_token_used_again_names_the_file_system(
    efs: Any, request: pytest.FixtureRequest
) -> None:
    token = request.node.name
    first = efs.create_file_system(CreationToken=token)
    with aws_error("FileSystemAlreadyExists", 409) as caught:
        efs.create_file_system(CreationToken=token)
    response = caught.value.response
    assert response["FileSystemId"] == first["FileSystemId"]
    assert response["ErrorCode"] == "FileSystemAlreadyExists"
    assert response["Error"]["Message"] == (
        f"File system '{first['FileSystemId']}' already exists with creation token '{token}'"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"ThroughputMode": "provisioned"},
            "ProvisionedThroughputInMibps is required when ThroughputMode is provisioned.",
        ),
        ({"KmsKeyId": "alias/mine"}, "KmsKeyId can only be specified when Encrypted is true."),
    ],
)
def test_bad_requests(efs: Any, options: dict[str, Any], message: str) -> None:
    with aws_error("BadRequest", 400, message):
        efs.create_file_system(CreationToken=f"bad-{message[:20]}", **options)


def test_not_found(efs: Any) -> None:
    message = f"File system '{MISSING_FS}' does not exist."
    with aws_error("FileSystemNotFound", 404, message):
        efs.describe_file_systems(FileSystemId=MISSING_FS)
    with aws_error("FileSystemNotFound", 404, message):
        efs.delete_file_system(FileSystemId=MISSING_FS)
    with aws_error("AccessPointNotFound", 404, f"Access point '{MISSING_AP}' does not exist."):
        efs.delete_access_point(AccessPointId=MISSING_AP)
    with aws_error(
        "MountTargetNotFound", 404, "Mount target 'fsmt-0123456789abcdef0' does not exist."
    ):
        efs.describe_mount_targets(MountTargetId="fsmt-0123456789abcdef0")
    with aws_error("MountTargetNotFound", 404):
        efs.delete_mount_target(MountTargetId="fsmt-0123456789abcdef0")
    with aws_error("FileSystemNotFound", 404):
        efs.describe_file_system_policy(FileSystemId=MISSING_FS)


def test_file_systems_page(efs: Any, request: pytest.FixtureRequest) -> None:
    made = {
        efs.create_file_system(CreationToken=f"{request.node.name}-{i}")["FileSystemId"]
        for i in range(3)
    }
    seen: list[str] = []
    pages = efs.get_paginator("describe_file_systems").paginate(PaginationConfig={"PageSize": 2})
    for page in pages:
        assert len(page["FileSystems"]) <= 2
        seen += [fs["FileSystemId"] for fs in page["FileSystems"]]
    assert made <= set(seen)
    assert len(seen) == len(set(seen))


def test_delete_file_system_removes_its_data(
    efs: Any, server: GureumProcess, request: pytest.FixtureRequest
) -> None:
    fs_id = efs.create_file_system(CreationToken=request.node.name)["FileSystemId"]
    (server.data_dir / "efs" / fs_id / "file").write_text("x")
    response = efs.delete_file_system(FileSystemId=fs_id)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not (server.data_dir / "efs" / fs_id).exists()


def test_access_points(efs: Any, request: pytest.FixtureRequest) -> None:
    fs_id = available(efs, request.node.name)["FileSystemId"]
    created = efs.create_access_point(
        ClientToken="one",
        FileSystemId=fs_id,
        PosixUser={"Uid": 1000, "Gid": 1000, "SecondaryGids": [10, 11]},
        RootDirectory={
            "Path": "/lambda",
            "CreationInfo": {"OwnerUid": 1000, "OwnerGid": 1000, "Permissions": "750"},
        },
        Tags=[{"Key": "Name", "Value": "fn"}],
    )
    ap_id = created["AccessPointId"]
    assert re.fullmatch(r"fsap-[0-9a-f]{17}", ap_id)
    assert (
        created["AccessPointArn"]
        == f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:access-point/{ap_id}"
    )
    assert created["Name"] == "fn"
    assert created["LifeCycleState"] == "available"
    assert created["PosixUser"] == {"Uid": 1000, "Gid": 1000, "SecondaryGids": [10, 11]}
    assert created["RootDirectory"] == {
        "Path": "/lambda",
        "CreationInfo": {"OwnerUid": 1000, "OwnerGid": 1000, "Permissions": "750"},
    }
    # The same token again, even with the same request: AWS's 409 naming the access point.
    with aws_error("AccessPointAlreadyExists", 409) as caught:
        efs.create_access_point(ClientToken="one", FileSystemId=fs_id)
    assert caught.value.response["AccessPointId"] == ap_id
    assert caught.value.response["ErrorCode"] == "AccessPointAlreadyExists"
    default = efs.create_access_point(FileSystemId=fs_id)  # botocore fills ClientToken
    assert default["RootDirectory"] == {"Path": "/"}
    assert "PosixUser" not in default
    listed = efs.describe_access_points(FileSystemId=fs_id)["AccessPoints"]
    assert sorted(p["AccessPointId"] for p in listed) == sorted([ap_id, default["AccessPointId"]])
    by_arn = efs.describe_access_points(AccessPointId=created["AccessPointArn"])["AccessPoints"]
    assert [p["AccessPointId"] for p in by_arn] == [ap_id]
    first = efs.describe_access_points(FileSystemId=fs_id, MaxResults=1)
    assert len(first["AccessPoints"]) == 1
    assert first["NextToken"]
    efs.delete_access_point(AccessPointId=ap_id)
    with aws_error("AccessPointNotFound", 404):
        efs.describe_access_points(AccessPointId=ap_id)


@pytest.mark.parametrize(
    "root",
    [
        {"Path": "relative"},
        {"Path": "/a/../b"},
        {"Path": "/a", "CreationInfo": {"OwnerUid": 1, "OwnerGid": 1, "Permissions": "999"}},
    ],
)
def test_invalid_access_points_are_refused(
    efs: Any, root: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    fs_id = available(efs, request.node.name)["FileSystemId"]
    with pytest.raises(efs.exceptions.ClientError) as caught:
        efs.create_access_point(FileSystemId=fs_id, RootDirectory=root)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert efs.describe_access_points(FileSystemId=fs_id)["AccessPoints"] == []


def test_a_creating_file_system_takes_no_access_point(tmp_path: Path) -> None:
    # A server whose file systems stay `creating` for a second.
    slow = GureumProcess(tmp_path / "data", "--isolation", "none").start()
    try:
        efs = slow.client("efs")
        fs_id = efs.create_file_system(CreationToken="t")["FileSystemId"]
        with aws_error("IncorrectFileSystemLifeCycleState", 409):
            efs.create_access_point(FileSystemId=fs_id)
    finally:
        slow.stop()


POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            "Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}},
        }
    ],
}


def test_file_system_policies(efs: Any, request: pytest.FixtureRequest) -> None:
    fs_id = available(efs, request.node.name)["FileSystemId"]
    with aws_error("PolicyNotFound", 404):
        efs.describe_file_system_policy(FileSystemId=fs_id)
    text = json.dumps(POLICY)
    put = efs.put_file_system_policy(FileSystemId=fs_id, Policy=text)
    assert (put["FileSystemId"], put["Policy"]) == (fs_id, text)
    assert efs.describe_file_system_policy(FileSystemId=fs_id)["Policy"] == text
    for bad, message in [
        ("{", "Policy is invalid: Policy is not valid JSON."),
        (
            '{"Version": "2012-10-17", "Statement": []}',
            "Policy is invalid: Policy has an empty Statement list.",
        ),
        (
            json.dumps({"Statement": [{"Effect": "Permit", "Action": "*"}]}),
            "Policy is invalid: Statement Effect must be Allow or Deny.",
        ),
    ]:
        with aws_error("InvalidPolicyException", 400, message):
            efs.put_file_system_policy(FileSystemId=fs_id, Policy=bad)
    assert efs.describe_file_system_policy(FileSystemId=fs_id)["Policy"] == text
    efs.delete_file_system_policy(FileSystemId=fs_id)
    with aws_error("PolicyNotFound", 404):
        efs.describe_file_system_policy(FileSystemId=fs_id)


def test_the_policy_lockout_safety_check(efs: Any, request: pytest.FixtureRequest) -> None:
    fs_id = available(efs, request.node.name)["FileSystemId"]
    lockout = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*"}],
        }
    )
    with aws_error("InvalidPolicyException", 400) as caught:
        efs.put_file_system_policy(FileSystemId=fs_id, Policy=lockout)
    assert "BypassPolicyLockoutSafetyCheck" in caught.value.response["Error"]["Message"]
    with aws_error("PolicyNotFound", 404):
        efs.describe_file_system_policy(FileSystemId=fs_id)
    efs.put_file_system_policy(
        FileSystemId=fs_id, Policy=lockout, BypassPolicyLockoutSafetyCheck=True
    )
    assert efs.describe_file_system_policy(FileSystemId=fs_id)["Policy"] == lockout


def test_tags(efs: Any, request: pytest.FixtureRequest) -> None:
    created = available(efs, request.node.name)
    fs_id, fs_arn = created["FileSystemId"], created["FileSystemArn"]
    efs.tag_resource(
        ResourceId=fs_arn, Tags=[{"Key": "Name", "Value": "renamed"}, {"Key": "a", "Value": "1"}]
    )
    assert efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["Name"] == "renamed"
    efs.untag_resource(ResourceId=fs_id, TagKeys=["a"])
    assert efs.list_tags_for_resource(ResourceId=fs_id)["Tags"] == [
        {"Key": "Name", "Value": "renamed"}
    ]
    # The older operations still answer.
    efs.create_tags(FileSystemId=fs_id, Tags=[{"Key": "b", "Value": "2"}])
    assert {"Key": "b", "Value": "2"} in efs.describe_tags(FileSystemId=fs_id)["Tags"]
    efs.delete_tags(FileSystemId=fs_id, TagKeys=["b"])
    ap_id = efs.create_access_point(FileSystemId=fs_id)["AccessPointId"]
    efs.tag_resource(ResourceId=ap_id, Tags=[{"Key": "k", "Value": "v"}])
    assert efs.list_tags_for_resource(ResourceId=ap_id)["Tags"] == [{"Key": "k", "Value": "v"}]
    with aws_error("AccessPointNotFound", 404):
        efs.list_tags_for_resource(ResourceId=MISSING_AP)
    with aws_error("FileSystemNotFound", 404):
        efs.tag_resource(ResourceId=MISSING_FS, Tags=[{"Key": "k", "Value": "v"}])


def test_mount_targets_refused_without_a_subnet(efs: Any, request: pytest.FixtureRequest) -> None:
    fs_id = available(efs, request.node.name)["FileSystemId"]
    with aws_error(
        "SubnetNotFound", 400, "The subnet ID 'subnet-0123456789abcdef0' does not exist"
    ):
        efs.create_mount_target(FileSystemId=fs_id, SubnetId="subnet-0123456789abcdef0")
    assert efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"] == []
    with aws_error("BadRequest", 400):
        efs.describe_mount_targets()


def test_mount_targets_in_an_ec2_subnet(
    efs: Any, server: GureumProcess, request: pytest.FixtureRequest
) -> None:
    # EFS places mount targets in the subnets and groups EC2 has, and EC2 knows they are held.
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone="us-east-1b")[
        "Subnet"
    ]
    group = ec2.create_security_group(GroupName="nfs", Description="nfs", VpcId=vpc)["GroupId"]
    fs_id = available(efs, request.node.name)["FileSystemId"]
    target = efs.create_mount_target(
        FileSystemId=fs_id, SubnetId=subnet["SubnetId"], SecurityGroups=[group]
    )
    assert target["VpcId"] == vpc
    assert target["AvailabilityZoneName"] == "us-east-1b"
    assert target["AvailabilityZoneId"] == subnet["AvailabilityZoneId"]
    assert ipaddress.ip_address(target["IpAddress"]) in ipaddress.ip_network("10.20.1.0/24")
    # Without groups: the VPC's default group.
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24", AvailabilityZone="us-east-1c")
    second = efs.create_mount_target(FileSystemId=fs_id, SubnetId=other["Subnet"]["SubnetId"])
    for _ in range(500):  # creating, then available (a scaled moment)
        (state,) = efs.describe_mount_targets(MountTargetId=second["MountTargetId"])["MountTargets"]
        if state["LifeCycleState"] == "available":
            break
        time.sleep(0.01)
    (default,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    assert efs.describe_mount_target_security_groups(MountTargetId=second["MountTargetId"])[
        "SecurityGroups"
    ] == [default["GroupId"]]
    # EC2 counts the address taken and refuses to delete what a mount target holds.
    (seen,) = ec2.describe_subnets(SubnetIds=[subnet["SubnetId"]])["Subnets"]
    assert seen["AvailableIpAddressCount"] == subnet["AvailableIpAddressCount"] - 1
    with aws_error("DependencyViolation", 400):
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    with aws_error("DependencyViolation", 400):
        ec2.delete_security_group(GroupId=group)
    efs.delete_mount_target(MountTargetId=target["MountTargetId"])
    ec2.delete_security_group(GroupId=group)
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])


def test_everything_survives_a_restart_and_a_kill(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data", *ARGS).start()
    try:
        efs = process.client("efs")
        fs = available(efs, "durable", Tags=[{"Key": "Name", "Value": "d"}])
        fs_id = fs["FileSystemId"]
        ap_id = efs.create_access_point(
            FileSystemId=fs_id, RootDirectory={"Path": "/x"}, Tags=[{"Key": "k", "Value": "v"}]
        )["AccessPointId"]
        efs.put_file_system_policy(FileSystemId=fs_id, Policy=json.dumps(POLICY))
        (process.data_dir / "efs" / fs_id / "kept.txt").write_text("data")
        process.stop()
        process.start()
        efs = process.client("efs")
        found = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]
        assert (found["Name"], found["LifeCycleState"]) == ("d", "available")
        process.kill()
        process.start()
        efs = process.client("efs")
        assert efs.describe_access_points(AccessPointId=ap_id)["AccessPoints"][0]["Tags"] == [
            {"Key": "k", "Value": "v"}
        ]
        assert json.loads(efs.describe_file_system_policy(FileSystemId=fs_id)["Policy"]) == POLICY
        assert (process.data_dir / "efs" / fs_id / "kept.txt").read_text() == "data"
        with aws_error("FileSystemAlreadyExists", 409):
            efs.create_file_system(CreationToken="durable")
        # An empty directory no file system owns (a create killed before its commit) is swept
        # away at start; the file systems' own data is not.
        orphan = process.data_dir / "efs" / "fs-0123456789abcdef0"
        orphan.mkdir()
        process.kill()
        process.start()
        assert not orphan.exists()
        assert (process.data_dir / "efs" / fs_id / "kept.txt").read_text() == "data"
    finally:
        process.stop()


def aws_cli(server: GureumProcess, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`aws --endpoint-url <gureum> efs ...`, isolated from the host's AWS configuration."""
    return run_aws(server, home, "efs", *args, region=REGION)


def test_the_aws_cli_round_trip(server: GureumProcess, tmp_path: Path) -> None:
    def aws(*args: str) -> Any:
        done = aws_cli(server, tmp_path, *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    fs = aws("create-file-system", "--creation-token", "cli", "--tags", "Key=Name,Value=cli")
    fs_id = fs["FileSystemId"]
    time.sleep(0.05)
    listed = aws("describe-file-systems", "--file-system-id", fs_id)["FileSystems"]
    assert listed[0]["Name"] == "cli"
    point = aws(
        "create-access-point",
        "--file-system-id",
        fs_id,
        "--posix-user",
        "Uid=1000,Gid=1000",
        "--root-directory",
        "Path=/cli,CreationInfo={OwnerUid=1000,OwnerGid=1000,Permissions=0755}",
    )
    assert point["RootDirectory"]["CreationInfo"]["Permissions"] == "0755"
    aws("put-file-system-policy", "--file-system-id", fs_id, "--policy", json.dumps(POLICY))
    assert (
        json.loads(aws("describe-file-system-policy", "--file-system-id", fs_id)["Policy"])
        == POLICY
    )
    aws("delete-access-point", "--access-point-id", point["AccessPointId"])
    aws("delete-file-system", "--file-system-id", fs_id)
    missing = aws_cli(server, tmp_path, "describe-file-systems", "--file-system-id", fs_id)
    assert missing.returncode != 0
    expected = (
        "(FileSystemNotFound) when calling the DescribeFileSystems operation: "
        f"File system '{fs_id}' does not exist."
    )
    assert expected in missing.stderr
