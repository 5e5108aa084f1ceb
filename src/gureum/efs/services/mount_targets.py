"""The mount target service: where each file system is reachable, placed in EC2's network.

Subnets and security groups are read through the `NetworkModel` port. The placement rules (one
per AZ, one VPC per file system, a free address of the subnet) are checked and the mount target
inserted in one transaction, so two concurrent creates cannot both take the same AZ or address.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta

from gureum.clock import Clock
from gureum.efs.domain import resources
from gureum.efs.domain.errors import (
    AccessPointNotFound,
    BadRequest,
    MountTargetNotFound,
    SecurityGroupNotFound,
    SubnetNotFound,
)
from gureum.efs.domain.file_systems import CREATION_DELAY
from gureum.efs.domain.mount_targets import (
    MountTarget,
    allocate_address,
    check_placement,
    check_security_groups,
)
from gureum.efs.domain.paging import page
from gureum.efs.domain.resources import Kind
from gureum.efs.services.file_systems import RandomHex, file_system_named, random_hex
from gureum.efs.services.network import NetworkModel
from gureum.efs.store.records import EfsStore, Records


def _mount_target_in(records: Records, account: str, region: str, target_id: str) -> MountTarget:
    found = records.mount_target(account, region, target_id)
    if found is None:
        raise MountTargetNotFound(target_id)
    return found


class MountTargetService:
    """Mount targets per file system; reads the network, never changes it."""

    def __init__(
        self,
        store: EfsStore,
        network: NetworkModel,
        clock: Clock,
        time_scale: float,
        draw: RandomHex = random_hex,
    ) -> None:
        self._store = store
        self._network = network
        self._clock = clock
        self._delay = timedelta(seconds=CREATION_DELAY.total_seconds() * time_scale)
        self._draw = draw

    def create(
        self,
        account: str,
        region: str,
        file_system: str,
        subnet_id: str,
        ip_address: str | None = None,
        security_groups: Sequence[str] | None = None,
    ) -> MountTarget:
        subnet = self._network.subnet(account, region, subnet_id)
        if subnet is None:
            raise SubnetNotFound(subnet_id)
        groups = self._groups(account, region, subnet.vpc_id, security_groups)
        now = self._clock.now()
        with self._store.write() as records:
            fs = file_system_named(records, account, region, file_system)
            fs.require_available(now)
            existing = records.mount_targets_of(fs.file_system_id)
            check_placement(existing, subnet, fs.spec.availability_zone)
            used = [
                target.ip_address
                for target in records.mount_targets_in(account, region)
                if target.subnet.subnet_id == subnet.subnet_id
            ]
            address = allocate_address(subnet, used, ip_address)
            target = MountTarget(
                account,
                region,
                resources.new_id("fsmt-", self._draw()),
                fs.file_system_id,
                subnet,
                address,
                resources.new_id("eni-", self._draw()),
                groups,
                now,
                now + self._delay,
            )
            records.put_mount_target(target)
            return target

    def _groups(
        self, account: str, region: str, vpc_id: str, wanted: Sequence[str] | None
    ) -> tuple[str, ...]:
        """The mount target's groups: those asked for, else the VPC's default group."""
        if not wanted:
            default = self._network.default_group(account, region, vpc_id)
            if default is None:
                raise SecurityGroupNotFound(f"The VPC {vpc_id} has no default security group.")
            return (default,)
        vpc_of = dict(self._network.security_groups(account, region, wanted))
        return check_security_groups(wanted, vpc_of, vpc_id)

    def describe(
        self,
        account: str,
        region: str,
        *,
        file_system: str | None = None,
        mount_target_id: str | None = None,
        access_point: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> tuple[list[MountTarget], str | None]:
        """Exactly one of the three filters, as EFS requires."""
        given = [f for f in (file_system, mount_target_id, access_point) if f is not None]
        if len(given) != 1:
            raise BadRequest(
                "Must specify exactly one mutually exclusive parameter: FileSystemId, "
                "MountTargetId or AccessPointId."
            )
        with self._store.read() as records:
            if mount_target_id is not None:
                found = [_mount_target_in(records, account, region, mount_target_id)]
            elif file_system is not None:
                fs = file_system_named(records, account, region, file_system)
                found = records.mount_targets_of(fs.file_system_id)
            else:
                assert access_point is not None
                ref = resources.resolve(access_point, account, region, Kind.ACCESS_POINT)
                point = records.access_point(account, region, ref.resource_id)
                if point is None:
                    raise AccessPointNotFound(ref.resource_id)
                found = records.mount_targets_of(point.file_system_id)
        return page(found, lambda t: t.mount_target_id, marker, max_items)

    def security_groups(self, account: str, region: str, target_id: str) -> tuple[str, ...]:
        with self._store.read() as records:
            target = _mount_target_in(records, account, region, target_id)
        target.require_available(self._clock.now())
        return target.security_groups

    def modify_security_groups(
        self, account: str, region: str, target_id: str, groups: Sequence[str]
    ) -> None:
        with self._store.read() as records:
            target = _mount_target_in(records, account, region, target_id)
        target.require_available(self._clock.now())
        vpc_id = target.subnet.vpc_id
        checked = self._groups(account, region, vpc_id, groups)
        with self._store.write() as records:
            current = _mount_target_in(records, account, region, target_id)
            records.put_mount_target(current.with_security_groups(checked))

    def delete(self, account: str, region: str, target_id: str) -> None:
        with self._store.write() as records:
            _mount_target_in(records, account, region, target_id)
            records.delete_mount_target(target_id)

    def held(self, account: str, region: str, resource_ids: Collection[str]) -> Collection[str]:
        """Which of `resource_ids` (subnets, security groups) a mount target uses: EC2 refuses
        to delete those (DependencyViolation). EC2's `Holder`."""
        wanted = set(resource_ids)
        with self._store.read() as records:
            targets = records.mount_targets_in(account, region)
        used = {t.subnet.subnet_id for t in targets}
        used.update(group for t in targets for group in t.security_groups)
        return wanted & used

    def addresses(self, account: str, region: str, subnet_id: str) -> Collection[str]:
        """The addresses mount targets hold in the subnet (EC2's `Holder`: they are not free)."""
        with self._store.read() as records:
            targets = records.mount_targets_in(account, region)
        return [t.ip_address for t in targets if t.subnet.subnet_id == subnet_id]
