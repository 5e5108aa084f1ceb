"""Mount targets: where a file system is reachable in a VPC, and the rules that place them.

A file system has at most one mount target per Availability Zone, and all of them in one VPC
(https://docs.aws.amazon.com/efs/latest/ug/accessing-fs.html). A mount target takes an IPv4
address of its subnet: the one asked for, or the lowest free one. AWS reserves the first four
and the last address of every subnet. Like a file system, a mount target is `creating` for a
moment, then `available`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from gureum.efs.domain.errors import (
    AvailabilityZonesMismatch,
    BadRequest,
    IncorrectMountTargetState,
    IpAddressInUse,
    MountTargetConflict,
    NoFreeAddressesInSubnet,
    SecurityGroupLimitExceeded,
    SecurityGroupNotFound,
)
from gureum.efs.domain.file_systems import LifeCycleState

MAX_SECURITY_GROUPS = 5


@dataclass(frozen=True, slots=True)
class Subnet:
    """What EFS needs to know of a subnet (from EC2)."""

    subnet_id: str
    vpc_id: str
    availability_zone: str
    availability_zone_id: str
    cidr: str


@dataclass(frozen=True, slots=True)
class MountTarget:
    account: str
    region: str
    mount_target_id: str
    file_system_id: str
    subnet: Subnet
    ip_address: str
    network_interface_id: str
    security_groups: tuple[str, ...]
    created: datetime
    ready: datetime

    def state(self, now: datetime) -> LifeCycleState:
        return LifeCycleState.AVAILABLE if now >= self.ready else LifeCycleState.CREATING

    def require_available(self, now: datetime) -> None:
        state = self.state(now)
        if state is not LifeCycleState.AVAILABLE:
            raise IncorrectMountTargetState(self.mount_target_id, state.value)

    def with_security_groups(self, groups: Sequence[str]) -> MountTarget:
        return replace(self, security_groups=tuple(groups))


def check_placement(
    existing: Collection[MountTarget], subnet: Subnet, one_zone: str | None = None
) -> None:
    """A new mount target of a file system in `subnet`, beside the file system's `existing`;
    `one_zone`: the Availability Zone of a One Zone file system, the only one it can be in."""
    if one_zone is not None and subnet.availability_zone != one_zone:
        raise AvailabilityZonesMismatch(
            f"The subnet {subnet.subnet_id} is in {subnet.availability_zone}, but the One Zone "
            f"file system is in {one_zone}."
        )
    for target in existing:
        if target.subnet.vpc_id != subnet.vpc_id:
            raise MountTargetConflict(
                "requested subnet for new mount target is not in the same VPC as existing "
                "mount targets"
            )
        if target.subnet.availability_zone == subnet.availability_zone:
            raise MountTargetConflict("mount target already exists in this AZ")


def check_security_groups(
    groups: Sequence[str], vpc_of: dict[str, str], vpc_id: str
) -> tuple[str, ...]:
    """`groups` as a mount target's: each must exist (`vpc_of` maps the ones that do to their
    VPC) in the mount target's VPC, at most five, no duplicates."""
    if len(groups) > MAX_SECURITY_GROUPS:
        raise SecurityGroupLimitExceeded(
            f"A mount target can have at most {MAX_SECURITY_GROUPS} security groups."
        )
    if len(set(groups)) != len(groups):
        raise BadRequest("Duplicate security group IDs are not allowed.")
    missing = [group for group in groups if vpc_of.get(group) != vpc_id]
    if missing:
        raise SecurityGroupNotFound(f"invalid security group ids: [{', '.join(missing)}]")
    return tuple(groups)


def allocate_address(subnet: Subnet, used: Collection[str], wanted: str | None) -> str:
    """The address of a new mount target in `subnet`: `wanted` if it is inside the subnet,
    usable and free, else the lowest free usable one."""
    network = ipaddress.IPv4Network(subnet.cidr)
    first, last = int(network.network_address) + 4, int(network.broadcast_address) - 1
    if wanted is not None:
        try:
            address = ipaddress.IPv4Address(wanted)
        except ValueError:
            raise BadRequest(f"Invalid IP address: {wanted}") from None
        if address not in network or not first <= int(address) <= last:
            raise BadRequest(
                f"IP address {wanted} is not within the subnet {subnet.subnet_id} "
                f"({subnet.cidr}) or is reserved."
            )
        if str(address) in used:
            raise IpAddressInUse(f"IP address {wanted} is already in use in the subnet.")
        return str(address)
    taken = {int(ipaddress.IPv4Address(address)) for address in used}
    for candidate in range(first, last + 1):
        if candidate not in taken:
            return str(ipaddress.IPv4Address(candidate))
    raise NoFreeAddressesInSubnet(f"There are no free IP addresses in subnet {subnet.subnet_id}.")
