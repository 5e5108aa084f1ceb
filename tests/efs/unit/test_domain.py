"""EFS's pure core: ids and ARNs, paging, file system and access point requests, mount target
placement and addresses, and what a file system policy lets a client do."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gureum.aws.errors import ClientError
from gureum.aws.policy import parse_policy
from gureum.efs.domain import resources
from gureum.efs.domain.access_points import CreationInfo, RootDirectory, posix_user, root_directory
from gureum.efs.domain.errors import (
    AvailabilityZonesMismatch,
    BadRequest,
    FileSystemNotFound,
    IncorrectFileSystemLifeCycleState,
    InvalidPolicy,
    IpAddressInUse,
    MountTargetConflict,
    NoFreeAddressesInSubnet,
    SecurityGroupLimitExceeded,
    SecurityGroupNotFound,
)
from gureum.efs.domain.file_systems import (
    LifeCycleState,
    PerformanceMode,
    ThroughputMode,
    file_system_spec,
    new_file_system,
)
from gureum.efs.domain.mount_targets import (
    MountTarget,
    Subnet,
    allocate_address,
    check_placement,
    check_security_groups,
)
from gureum.efs.domain.paging import page
from gureum.efs.domain.policies import (
    FULL_ACCESS,
    ClientAccess,
    check_lockout,
    checked_policy,
    client_access,
)
from gureum.efs.domain.resources import Kind, ResourceRef

ACCOUNT, REGION = "111122223333", "us-east-1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_ids_are_a_prefix_and_17_hex_digits() -> None:
    assert resources.new_id("fs-", "0123456789ABCDEF01") == "fs-0123456789abcdef0"
    with pytest.raises(ValueError, match="17 hex"):
        resources.new_id("fs-", "xyz")


def test_arns() -> None:
    assert (
        resources.arn(REGION, ACCOUNT, Kind.ACCESS_POINT, "fsap-0123456789abcdef0")
        == "arn:aws:elasticfilesystem:us-east-1:111122223333:access-point/fsap-0123456789abcdef0"
    )


FS_ID = "fs-0123456789abcdef0"
AP_ID = "fsap-0123456789abcdef0"


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        (FS_ID, None, ResourceRef(Kind.FILE_SYSTEM, FS_ID)),
        (AP_ID, None, ResourceRef(Kind.ACCESS_POINT, AP_ID)),
        (
            resources.arn(REGION, ACCOUNT, Kind.FILE_SYSTEM, FS_ID),
            None,
            ResourceRef(Kind.FILE_SYSTEM, FS_ID),
        ),
        (
            resources.arn(REGION, ACCOUNT, Kind.ACCESS_POINT, AP_ID),
            Kind.ACCESS_POINT,
            ResourceRef(Kind.ACCESS_POINT, AP_ID),
        ),
    ],
)
def test_resources_are_named_by_id_or_arn(
    text: str, kind: Kind | None, expected: ResourceRef
) -> None:
    assert resources.resolve(text, ACCOUNT, REGION, kind) == expected


def test_an_arn_of_another_account_or_region_is_not_found() -> None:
    for account, region in (("444455556666", REGION), (ACCOUNT, "eu-west-1")):
        with pytest.raises(FileSystemNotFound):
            resources.resolve(
                resources.arn(region, account, Kind.FILE_SYSTEM, FS_ID), ACCOUNT, REGION
            )


def test_an_access_point_where_a_file_system_is_expected_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        resources.resolve(AP_ID, ACCOUNT, REGION, Kind.FILE_SYSTEM)


def test_pages_run_from_the_marker() -> None:
    items = [f"fs-{i:017x}" for i in range(5)]
    first, marker = page(items, str, None, 2)
    assert (first, marker) == (items[:2], items[2])
    second, marker = page(items, str, marker, 2)
    assert (second, marker) == (items[2:4], items[4])
    third, marker = page(items, str, marker, 2)
    assert (third, marker) == (items[4:], None)
    # A marker whose item was deleted meanwhile still continues where it was.
    assert page(items[:2] + items[3:], str, items[2], 10) == (items[3:], None)
    with pytest.raises(BadRequest):
        page(items, str, "bogus", 2)


def test_a_file_system_is_creating_until_its_delay_passes() -> None:
    fs = new_file_system(ACCOUNT, REGION, FS_ID, file_system_spec("t"), NOW, timedelta(seconds=1))
    assert fs.state(NOW) is LifeCycleState.CREATING
    with pytest.raises(IncorrectFileSystemLifeCycleState) as caught:
        fs.require_available(NOW)
    assert caught.value.status == 409
    assert fs.state(NOW + timedelta(seconds=1)) is LifeCycleState.AVAILABLE
    fs.require_available(NOW + timedelta(seconds=1))


def test_file_system_defaults_and_name() -> None:
    spec = file_system_spec("t", tags={"Name": "data"})
    assert spec.performance_mode is PerformanceMode.GENERAL_PURPOSE
    assert spec.throughput_mode is ThroughputMode.BURSTING
    assert not spec.encrypted
    fs = new_file_system(ACCOUNT, REGION, FS_ID, spec, NOW, timedelta())
    assert fs.name == "data"
    assert fs.with_tags({}).name is None


@pytest.mark.parametrize(
    "options",
    [
        {"throughput_mode": "provisioned"},
        {"throughput_mode": "bursting", "provisioned_throughput": 10.0},
        {"throughput_mode": "provisioned", "provisioned_throughput": 0.5},
        {"performance_mode": "maxIO", "throughput_mode": "elastic"},
        {"kms_key_id": "alias/mine"},
        {"availability_zone": "us-east-1a", "performance_mode": "maxIO"},
    ],
)
def test_inconsistent_file_system_requests_are_bad_requests(options: dict[str, Any]) -> None:
    with pytest.raises(BadRequest) as caught:
        file_system_spec("t", **options)
    assert caught.value.fields["ErrorCode"] == "BadRequest"


SUBNET = Subnet(
    "subnet-0aaaaaaaaaaaaaaaa", "vpc-0aaaaaaaaaaaaaaaa", "us-east-1a", "use1-az1", "10.0.1.0/28"
)


def target_in(subnet: Subnet, ip: str = "10.0.1.4") -> MountTarget:
    return MountTarget(
        ACCOUNT, REGION, "fsmt-0aaaaaaaaaaaaaaaa", FS_ID, subnet, ip, "eni-x", (), NOW, NOW
    )


def test_one_mount_target_per_availability_zone() -> None:
    other_subnet = Subnet(
        "subnet-0bbbbbbbbbbbbbbbb", SUBNET.vpc_id, "us-east-1a", "use1-az1", "10.0.2.0/24"
    )
    with pytest.raises(MountTargetConflict, match="mount target already exists in this AZ"):
        check_placement([target_in(SUBNET)], other_subnet)
    check_placement(
        [target_in(SUBNET)],
        Subnet("subnet-0c", SUBNET.vpc_id, "us-east-1b", "use1-az2", "10.0.3.0/24"),
    )


def test_a_one_zone_file_system_takes_mount_targets_in_its_zone_only() -> None:
    check_placement([], SUBNET, "us-east-1a")
    with pytest.raises(AvailabilityZonesMismatch) as caught:
        check_placement([], SUBNET, "us-east-1b")
    assert caught.value.status == 400


def test_every_mount_target_of_a_file_system_is_in_one_vpc() -> None:
    elsewhere = Subnet(
        "subnet-0c", "vpc-0bbbbbbbbbbbbbbbb", "us-east-1b", "use1-az2", "10.1.0.0/24"
    )
    with pytest.raises(MountTargetConflict, match="not in the same VPC"):
        check_placement([target_in(SUBNET)], elsewhere)


def test_addresses_are_the_lowest_free_past_the_four_reserved() -> None:
    assert allocate_address(SUBNET, [], None) == "10.0.1.4"
    assert allocate_address(SUBNET, ["10.0.1.4", "10.0.1.6"], None) == "10.0.1.5"
    # A /28 has 16 addresses: 4 reserved at the start, 1 at the end.
    used = [f"10.0.1.{i}" for i in range(4, 15)]
    with pytest.raises(NoFreeAddressesInSubnet):
        allocate_address(SUBNET, used, None)


def test_an_asked_for_address_must_be_usable_and_free() -> None:
    assert allocate_address(SUBNET, [], "10.0.1.9") == "10.0.1.9"
    with pytest.raises(IpAddressInUse):
        allocate_address(SUBNET, ["10.0.1.9"], "10.0.1.9")
    for outside in ("10.0.2.9", "10.0.1.1", "10.0.1.15", "10.0.1.300"):
        with pytest.raises(BadRequest):
            allocate_address(SUBNET, [], outside)


def test_security_groups_must_exist_in_the_mount_targets_vpc() -> None:
    vpc = SUBNET.vpc_id
    assert check_security_groups(["sg-1"], {"sg-1": vpc}, vpc) == ("sg-1",)
    with pytest.raises(SecurityGroupNotFound, match=r"sg-2"):
        check_security_groups(["sg-1", "sg-2"], {"sg-1": vpc}, vpc)
    with pytest.raises(SecurityGroupNotFound):
        check_security_groups(["sg-1"], {"sg-1": "vpc-other"}, vpc)
    with pytest.raises(SecurityGroupLimitExceeded):
        check_security_groups(
            [f"sg-{i}" for i in range(6)], {f"sg-{i}": vpc for i in range(6)}, vpc
        )
    with pytest.raises(BadRequest):
        check_security_groups(["sg-1", "sg-1"], {"sg-1": vpc}, vpc)


def test_access_point_root_directory_defaults_to_slash() -> None:
    assert root_directory(None) == RootDirectory("/", None)
    assert root_directory({"Path": "/a/b"}).components == ("a", "b")


def test_creation_info_keeps_permissions_as_given() -> None:
    root = root_directory(
        {"Path": "/app", "CreationInfo": {"OwnerUid": 1, "OwnerGid": 2, "Permissions": "755"}}
    )
    assert root.creation_info == CreationInfo(1, 2, "755")
    assert root.creation_info is not None
    assert root.creation_info.mode == 0o755


@pytest.mark.parametrize("path", ["app", "/a/../b", "/a/./b", "/a//b", "/a/", "/a/b/c/d/e", "/.."])
def test_root_paths_that_could_escape_or_are_not_normal_are_refused(path: str) -> None:
    with pytest.raises(BadRequest):
        root_directory({"Path": path})


@pytest.mark.parametrize("permissions", ["75", "0789", "rwx", "07555"])
def test_permissions_are_three_or_four_octal_digits(permissions: str) -> None:
    with pytest.raises(BadRequest):
        root_directory(
            {
                "Path": "/a",
                "CreationInfo": {"OwnerUid": 1, "OwnerGid": 1, "Permissions": permissions},
            }
        )


def test_posix_user() -> None:
    user = posix_user({"Uid": 1000, "Gid": 1001, "SecondaryGids": [5, 6]})
    assert user is not None
    assert (user.uid, user.gid, user.secondary_gids) == (1000, 1001, (5, 6))
    assert posix_user(None) is None


FS_ARN = resources.arn(REGION, ACCOUNT, Kind.FILE_SYSTEM, FS_ID)
AP_ARN = resources.arn(REGION, ACCOUNT, Kind.ACCESS_POINT, AP_ID)
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fn"


def efs_policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ANYONE: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": "*"}}

ACCESS = [
    (None, FULL_ACCESS),
    (
        efs_policy({**ANYONE, "Action": "elasticfilesystem:ClientMount"}),
        ClientAccess(True, False, False),
    ),
    (
        efs_policy(
            {**ANYONE, "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]}
        ),
        ClientAccess(True, True, False),
    ),
    (efs_policy({**ANYONE, "Action": "elasticfilesystem:Client*"}), FULL_ACCESS),
    # Write without mount is nothing: a client that cannot mount cannot write.
    (
        efs_policy({**ANYONE, "Action": "elasticfilesystem:ClientWrite"}),
        ClientAccess(False, False, False),
    ),
    (
        efs_policy(
            {**ANYONE, "Action": "elasticfilesystem:*"},
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "elasticfilesystem:ClientRootAccess",
            },
        ),
        ClientAccess(True, True, False),
    ),
    (
        efs_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/other"},
                "Action": "*",
            }
        ),
        ClientAccess(False, False, False),
    ),
    (
        efs_policy(
            {
                **ANYONE,
                "Action": "elasticfilesystem:*",
                "Condition": {"StringEquals": {"elasticfilesystem:AccessPointArn": AP_ARN}},
            }
        ),
        FULL_ACCESS,
    ),
    (
        efs_policy(
            {
                **ANYONE,
                "Action": "elasticfilesystem:*",
                "Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}},
            }
        ),
        FULL_ACCESS,
    ),
]


@pytest.mark.parametrize(("policy", "expected"), ACCESS)
def test_client_access_follows_the_policy(policy: str | None, expected: ClientAccess) -> None:
    assert client_access(policy, FS_ARN, ROLE, AP_ARN) == expected


def test_an_access_point_condition_refuses_other_access_points_and_none() -> None:
    policy = efs_policy(
        {
            **ANYONE,
            "Action": "elasticfilesystem:*",
            "Condition": {"StringEquals": {"elasticfilesystem:AccessPointArn": AP_ARN}},
        }
    )
    other = AP_ARN.replace("fsap-0", "fsap-f")
    assert not client_access(policy, FS_ARN, ROLE, other).mount
    assert not client_access(policy, FS_ARN, ROLE, None).mount


OTHER_ROLE = "arn:aws:iam::555555555555:role/fn"
MOUNT_WRITE = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
NAMING_OTHER = efs_policy(
    {"Effect": "Allow", "Principal": {"AWS": OTHER_ROLE}, "Action": MOUNT_WRITE}
)
DESCRIBE_ONLY = efs_policy(
    {**ANYONE, "Action": "elasticfilesystem:DescribeMountTargets", "Resource": FS_ARN}
)
ROLE_MAY_MOUNT = efs_policy({"Effect": "Allow", "Action": MOUNT_WRITE, "Resource": FS_ARN})


@pytest.mark.parametrize(
    ("policy", "principal", "identity", "expected"),
    [
        # --iam off: the file system policy alone.
        (NAMING_OTHER, OTHER_ROLE, None, ClientAccess(True, True, False)),
        (None, OTHER_ROLE, None, FULL_ACCESS),  # AWS's default names anyone
        # Enforced, from another account: both must allow.
        (NAMING_OTHER, OTHER_ROLE, [], ClientAccess(False, False, False)),
        (NAMING_OTHER, OTHER_ROLE, [ROLE_MAY_MOUNT], ClientAccess(True, True, False)),
        (None, OTHER_ROLE, [ROLE_MAY_MOUNT], ClientAccess(True, True, False)),
        (DESCRIBE_ONLY, OTHER_ROLE, [ROLE_MAY_MOUNT], ClientAccess(False, False, False)),
        # Enforced, in the file system's account: either may allow.
        (DESCRIBE_ONLY, ROLE, [ROLE_MAY_MOUNT], ClientAccess(True, True, False)),
        (NAMING_OTHER, ROLE, [], ClientAccess(False, False, False)),
    ],
)
def test_client_access_across_accounts(
    policy: str | None, principal: str, identity: list[Any] | None, expected: ClientAccess
) -> None:
    parsed = None if identity is None else [parse_policy(p) for p in identity]
    assert client_access(policy, FS_ARN, principal, AP_ARN, identity=parsed) == expected


def test_an_invalid_policy_is_an_invalid_policy_exception() -> None:
    with pytest.raises(InvalidPolicy) as caught:
        checked_policy('{"Version": "2012-10-17"}')
    assert isinstance(caught.value, ClientError)
    assert caught.value.code == "InvalidPolicyException"
    assert (
        caught.value.message == "Policy is invalid: Policy is missing required element: Statement."
    )


ROOT = f"arn:aws:iam::{ACCOUNT}:root"
LOCKOUT = [
    ({"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*"}, True),
    ({"Effect": "Deny", "Principal": {"AWS": ACCOUNT}, "Action": "elasticfilesystem:Put*"}, True),
    (
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "elasticfilesystem:ClientWrite"},
        False,
    ),
    ({"Effect": "Deny", "Principal": {"AWS": "444455556666"}, "Action": "*"}, False),
    # An Allow that leaves PutFileSystemPolicy out is no lockout: identity policies still grant.
    ({**ANYONE, "Action": "elasticfilesystem:ClientMount"}, False),
]


@pytest.mark.parametrize(("statement", "locks_out"), LOCKOUT)
def test_the_lockout_check_refuses_only_an_explicit_deny_of_the_caller(
    statement: dict[str, Any], locks_out: bool
) -> None:
    policy = checked_policy(efs_policy(statement))
    if locks_out:
        with pytest.raises(InvalidPolicy, match="BypassPolicyLockoutSafetyCheck"):
            check_lockout(policy, FS_ARN, ROOT)
    else:
        check_lockout(policy, FS_ARN, ROOT)
