"""A function's network and file systems (spec 7.1, 7.2): VpcConfig and FileSystemConfigs as
AWS checks them, and the errors an environment's mount gives. Pure: what EC2 and EFS say comes
in as arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gureum.lambda_.domain.errors import (
    EfsIO,
    EfsMountConnectivity,
    EfsMountFailure,
    EfsMountTimeout,
    InvalidParameterValue,
)

# Lambda's model pattern for FileSystemConfig.Arn (EFS access points; S3 Files' are not served).
ACCESS_POINT_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:elasticfilesystem:([a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}):"
    r"(\d{12}):access-point/(fsap-[a-f0-9]{17})"
)
LOCAL_MOUNT_PATH = re.compile(r"/mnt/[a-zA-Z0-9-_.]+")
MAX_FILE_SYSTEMS = 1


@dataclass(frozen=True, slots=True)
class AccessPointRef:
    region: str
    account: str
    access_point_id: str


def parse_access_point_arn(arn: str) -> AccessPointRef | None:
    found = ACCESS_POINT_ARN.fullmatch(arn)
    if found is None:
        return None
    return AccessPointRef(found.group(1), found.group(6), found.group(7))


def check_vpc_members(subnet_ids: Sequence[str], group_ids: Sequence[str]) -> None:
    """AWS's 400 for a VpcConfig naming subnets without groups, or groups without subnets."""
    if bool(subnet_ids) != bool(group_ids):
        raise InvalidParameterValue("SubnetIds and SecurityIds must coexist or be both empty list.")


def vpc_of(subnet_vpcs: Mapping[str, str], group_vpcs: Mapping[str, str]) -> str:
    """The one VPC the function's subnets and groups are in (both exist: the caller checked)."""
    vpcs = set(subnet_vpcs.values())
    if len(vpcs) > 1:
        raise InvalidParameterValue("Subnets are required to be in the same VPC.")
    (vpc_id,) = vpcs
    if any(v != vpc_id for v in group_vpcs.values()):
        raise InvalidParameterValue("Security Groups are required to be in the same VPC.")
    return vpc_id


def subnet_missing(subnet_id: str) -> InvalidParameterValue:
    """EC2's refusal of DescribeSubnets, as Lambda passes it on."""
    return InvalidParameterValue(
        "Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. "
        f"EC2 Error Message: The subnet ID '{subnet_id}' does not exist"
    )


def group_missing(group_id: str) -> InvalidParameterValue:
    """EC2's refusal of DescribeSecurityGroups, as Lambda passes it on."""
    return InvalidParameterValue(
        "Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. "
        f"EC2 Error Message: The security group '{group_id}' does not exist"
    )


def check_file_system_configs(
    configs: Sequence[Mapping[str, Any]],
    vpc: Mapping[str, Any] | None,
    previous: Sequence[Mapping[str, Any]],
    previous_vpc: Mapping[str, Any] | None,
    region: str,
) -> list[AccessPointRef]:
    """The access points FileSystemConfigs names, checked as AWS does before EFS is asked."""
    if len(configs) > MAX_FILE_SYSTEMS:
        raise InvalidParameterValue(
            "Function can have a maximum of 1 file system configuration(s)."
        )
    refs = []
    for config in configs:
        arn = str(config.get("Arn", ""))
        ref = parse_access_point_arn(arn)
        if ref is None:
            raise InvalidParameterValue(f"Invalid access point ARN: {arn}")
        path = str(config.get("LocalMountPath", ""))
        if LOCAL_MOUNT_PATH.fullmatch(path) is None:
            raise InvalidParameterValue(f"Invalid LocalMountPath: {path}")
        if vpc is None:
            if previous_vpc is not None and any(c.get("Arn") == arn for c in previous):
                raise InvalidParameterValue(
                    f"Function VPC configuration cannot be removed with access point {arn} "
                    "referenced."
                )
            raise InvalidParameterValue(
                f"Function must be configured to execute in a VPC to reference access point {arn}."
            )
        if ref.region != region:
            raise InvalidParameterValue(
                f"The access point {arn} must be in the same region as the function."
            )
        refs.append(ref)
    return refs


def mount_refused(arn: str) -> EfsMountFailure:
    return EfsMountFailure(
        f"The function could not mount the EFS file system with access point {arn}."
    )


def unreachable(arn: str) -> EfsMountConnectivity:
    return EfsMountConnectivity(
        f"The function couldn't connect to the Amazon EFS file system with access point {arn}. "
        "Check your network configuration and try again."
    )


def timed_out(arn: str) -> EfsMountTimeout:
    return EfsMountTimeout(
        f"The function could not mount the EFS file system with access point {arn} due to "
        "mount time out."
    )


# EFS's anonymous user and group: what uid and gid 0 become without ClientRootAccess.
NOBODY = 65534
# Host gids an environment holds as its supplementary groups, one per SecondaryGid of the access
# point (AWS allows 16), shown on disk as those gids through the mount's id map. Above the range
# of environment uids (sandbox.uids), so no environment's own uid or gid is among them; shared by
# every environment, which is harmless: an environment's files get its primary gid, and the
# mapped gids mean something only through its own mount.
SUPPLEMENTARY_GIDS = 60000
MAX_SECONDARY_GIDS = 16


def io_failed() -> EfsIO:
    return EfsIO(
        "This function instance was stopped because Lambda detected an IO process that was "
        "taking too long."
    )


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """As whom a mount's file operations are made on disk: the access point's PosixUser, with
    root squashed to EFS's anonymous user unless the client has ClientRootAccess."""

    uid: int
    gid: int
    secondary_gids: tuple[int, ...]


def client_identity(
    uid: int, gid: int, secondary_gids: Sequence[int], root_access: bool
) -> ClientIdentity:
    """EFS's root squashing (https://docs.aws.amazon.com/efs/latest/ug/
    iam-access-control-nfs-efs.html): without `elasticfilesystem:ClientRootAccess`, uid 0 and
    gid 0 are made as 65534; with it, as themselves. The secondary gids the primary gid already
    is are left out (a gid maps once)."""

    def squash(value: int) -> int:
        return NOBODY if value == 0 and not root_access else value

    primary = squash(gid)
    secondary = [squash(g) for g in secondary_gids[:MAX_SECONDARY_GIDS]]
    kept = tuple(dict.fromkeys(g for g in secondary if g != primary))
    return ClientIdentity(squash(uid), primary, kept)


@dataclass(frozen=True, slots=True)
class Mount:
    """One file system mounted in an environment: the host directory of the access point's root,
    where it shows, as whom file operations are made (None: the environment's own uid) and
    whether writes are allowed (ClientWrite). `account` owns the file system (another than the
    function's when mounted across accounts): its connections are counted there."""

    file_system_id: str
    source: str
    target: str
    uid: int | None
    gid: int | None
    secondary_gids: tuple[int, ...]
    writable: bool
    account: str = ""
    access_point_arn: str = ""

    def supplementary_gids(self) -> tuple[int, ...]:
        """The host gids the environment holds so that each secondary gid applies (in order)."""
        return tuple(SUPPLEMENTARY_GIDS + i for i in range(len(self.secondary_gids)))

    def uid_map(self, environment_uid: int) -> tuple[Extent, ...]:
        """The mount's uid map: PosixUser's uid as the environment's own, every other as a
        stranger (`id_map`)."""
        assert self.uid is not None
        return id_map([(self.uid, environment_uid)])

    def gid_map(self, environment_gid: int) -> tuple[Extent, ...]:
        """The mount's gid map: the primary gid as the environment's own, each secondary gid as
        one of its supplementary gids, every other as a stranger."""
        assert self.gid is not None
        pairs = zip(self.secondary_gids, self.supplementary_gids(), strict=True)
        return id_map([(self.gid, environment_gid), *pairs])


# An id map's entry, as the kernel takes it: first id on disk, first id shown, how many.
Extent = tuple[int, int, int]
# Ids on disk that no entry names show as STRANGERS + id: mapped (an id-mapped mount refuses to
# write to a file whose owner is not mapped at all, whatever its mode), and owned by nobody on
# the host, so that only the "other" permission bits apply to them. The last id is left out:
# 2^32 - 1 is no id.
STRANGERS = 1 << 31
_LAST = (1 << 31) - 1


def id_map(pairs: Sequence[tuple[int, int]]) -> tuple[Extent, ...]:
    """The extents mapping each (on disk, shown) pair, and every other on-disk id below 2^31 - 1
    to STRANGERS + itself, in order and without overlaps (as the kernel requires)."""
    extents: list[Extent] = []
    start = 0
    for inside, outside in sorted(dict(pairs).items()):
        upto = min(inside, _LAST)  # strangers stop below 2^31 - 1, named ids need not
        if start < upto:
            extents.append((start, STRANGERS + start, upto - start))
        extents.append((inside, outside, 1))
        start = max(start, inside + 1)
    if start < _LAST:
        extents.append((start, STRANGERS + start, _LAST - start))
    return tuple(extents)
