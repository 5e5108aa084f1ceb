"""The pure rules of a function's VPC and file systems (spec 7.1, 7.2), with AWS's messages."""

from __future__ import annotations

from typing import Any

import pytest

from gureum.lambda_.domain import file_systems as fs
from gureum.lambda_.domain.errors import InvalidParameterValue

AP = "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-015c0e0eb72b405fd"
VPC = {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"], "VpcId": "vpc-1"}


def mounts(path: str = "/mnt/efs0", arn: str = AP) -> list[dict[str, Any]]:
    return [{"Arn": arn, "LocalMountPath": path}]


@pytest.mark.parametrize(
    ("arn", "parsed"),
    [
        (AP, fs.AccessPointRef("us-east-1", "123456789012", "fsap-015c0e0eb72b405fd")),
        (AP.replace("access-point/fsap-", "file-system/fs-"), None),
        (AP + "0", None),
        (AP.replace("123456789012", "1234"), None),
        (
            "arn:aws-cn:elasticfilesystem:cn-north-1:123456789012:access-point/fsap-015c0e0eb72b405fd",
            fs.AccessPointRef("cn-north-1", "123456789012", "fsap-015c0e0eb72b405fd"),
        ),
    ],
)
def test_access_point_arns(arn: str, parsed: fs.AccessPointRef | None) -> None:
    assert fs.parse_access_point_arn(arn) == parsed


@pytest.mark.parametrize(
    ("configs", "vpc", "previous", "previous_vpc", "message"),
    [
        (
            mounts(),
            None,
            [],
            None,
            f"Function must be configured to execute in a VPC to reference access point {AP}.",
        ),
        (
            mounts(),
            None,
            mounts(),
            VPC,
            f"Function VPC configuration cannot be removed with access point {AP} referenced.",
        ),
        (
            mounts() * 2,
            VPC,
            [],
            None,
            "Function can have a maximum of 1 file system configuration(s).",
        ),
        (mounts("/mnt/a/b"), VPC, [], None, "Invalid LocalMountPath: /mnt/a/b"),
        (mounts("/tmp/a"), VPC, [], None, "Invalid LocalMountPath: /tmp/a"),
        (
            mounts(arn="arn:aws:s3:::bucket"),
            VPC,
            [],
            None,
            "Invalid access point ARN: arn:aws:s3:::bucket",
        ),
        (
            mounts(arn=AP.replace("us-east-1", "eu-west-1")),
            VPC,
            [],
            None,
            f"The access point {AP.replace('us-east-1', 'eu-west-1')} must be in the same region "
            "as the function.",
        ),
    ],
)
def test_refused_configs(
    configs: list[dict[str, Any]],
    vpc: dict[str, Any] | None,
    previous: list[dict[str, Any]],
    previous_vpc: dict[str, Any] | None,
    message: str,
) -> None:
    with pytest.raises(InvalidParameterValue) as raised:
        fs.check_file_system_configs(configs, vpc, previous, previous_vpc, "us-east-1")
    assert raised.value.message == message


def test_accepted_configs() -> None:
    refs = fs.check_file_system_configs(mounts("/mnt/my-fs_1.x"), VPC, [], None, "us-east-1")
    assert [r.access_point_id for r in refs] == ["fsap-015c0e0eb72b405fd"]
    assert fs.check_file_system_configs([], None, mounts(), VPC, "us-east-1") == []


@pytest.mark.parametrize(
    ("subnets", "groups", "answer"),
    [
        ({"subnet-1": "vpc-1", "subnet-2": "vpc-1"}, {"sg-1": "vpc-1"}, "vpc-1"),
        (
            {"subnet-1": "vpc-1", "subnet-2": "vpc-2"},
            {"sg-1": "vpc-1"},
            "Subnets are required to be in the same VPC.",
        ),
        (
            {"subnet-1": "vpc-1"},
            {"sg-1": "vpc-2"},
            "Security Groups are required to be in the same VPC.",
        ),
    ],
)
def test_one_vpc(subnets: dict[str, str], groups: dict[str, str], answer: str) -> None:
    if answer.startswith("vpc-"):
        assert fs.vpc_of(subnets, groups) == answer
        return
    with pytest.raises(InvalidParameterValue) as raised:
        fs.vpc_of(subnets, groups)
    assert raised.value.message == answer


def test_subnets_and_groups_coexist() -> None:
    fs.check_vpc_members(["subnet-1"], ["sg-1"])
    fs.check_vpc_members([], [])
    for subnets, groups in ((["subnet-1"], []), ([], ["sg-1"])):
        with pytest.raises(InvalidParameterValue) as raised:
            fs.check_vpc_members(subnets, groups)
        assert (
            raised.value.message == "SubnetIds and SecurityIds must coexist or be both empty list."
        )


def test_mount_errors_carry_aws_identity() -> None:
    assert (fs.mount_refused(AP).code, fs.mount_refused(AP).status) == (
        "EFSMountFailureException",
        403,
    )
    assert (fs.unreachable(AP).code, fs.unreachable(AP).status) == (
        "EFSMountConnectivityException",
        408,
    )
    assert fs.timed_out(AP).message == (
        f"The function could not mount the EFS file system with access point {AP} due to mount "
        "time out."
    )


# --- as whom a mount's file operations are made ---------------------------------------------

STRANGER = fs.STRANGERS


@pytest.mark.parametrize(
    ("uid", "gid", "secondary", "root", "expected"),
    [
        (1001, 1001, [2002], False, (1001, 1001, (2002,))),
        (0, 0, [0, 5], False, (65534, 65534, (5,))),  # root squashed, everywhere
        (0, 0, [0, 5], True, (0, 0, (5,))),  # ClientRootAccess: root is root
        (1001, 1001, [1001, 2002, 2002], False, (1001, 1001, (2002,))),  # each gid once
    ],
)
def test_client_identity(
    uid: int,
    gid: int,
    secondary: list[int],
    root: bool,
    expected: tuple[int, int, tuple[int, ...]],
) -> None:
    found = fs.client_identity(uid, gid, secondary, root_access=root)
    assert (found.uid, found.gid, found.secondary_gids) == expected


def test_id_map_names_its_ids_and_makes_every_other_a_stranger() -> None:
    extents = fs.id_map([(1001, 20001), (2002, 60000)])
    assert extents == (
        (0, STRANGER, 1001),
        (1001, 20001, 1),
        (1002, STRANGER + 1002, 1000),
        (2002, 60000, 1),
        (2003, STRANGER + 2003, STRANGER - 1 - 2003),
    )
    # Every on-disk id below 2^31 - 1 is mapped exactly once, and no shown id twice.
    assert sum(count for _, _, count in extents) == STRANGER - 1
    shown = [(outside, outside + count) for _, outside, count in extents]
    for (a, b), (c, d) in zip(sorted(shown), sorted(shown)[1:], strict=False):
        assert b <= c, ((a, b), (c, d))


def test_id_map_of_root() -> None:
    assert fs.id_map([(0, 20001)]) == (
        (0, 20001, 1),
        (1, STRANGER + 1, STRANGER - 2),
    )


def test_id_map_of_an_id_above_the_strangers() -> None:
    highest = (1 << 32) - 2  # EFS takes PosixUser ids up to 2^32 - 1
    assert fs.id_map([(highest, 20001)]) == (
        (0, STRANGER, STRANGER - 1),
        (highest, 20001, 1),
    )


def test_a_mounts_maps() -> None:
    mount = fs.Mount("fs-1", "/src", "/mnt/a", 1001, 1001, (2002, 2003), True, "1")
    assert mount.supplementary_gids() == (60000, 60001)
    gids = {inside: outside for inside, outside, _ in mount.gid_map(20001)}
    assert (gids[1001], gids[2002], gids[2003]) == (20001, 60000, 60001)
    uids = {inside: outside for inside, outside, _ in mount.uid_map(20001)}
    assert uids[1001] == 20001
