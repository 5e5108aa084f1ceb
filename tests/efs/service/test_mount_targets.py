"""Mount targets over the real store and the shipped network: placement, addresses, groups."""

from __future__ import annotations

import pytest

from gureum.efs.domain.access_points import AccessPointSpec
from gureum.efs.domain.errors import (
    AccessPointNotFound,
    AvailabilityZonesMismatch,
    BadRequest,
    FileSystemNotFound,
    IncorrectMountTargetState,
    IpAddressInUse,
    MountTargetConflict,
    MountTargetNotFound,
    SecurityGroupNotFound,
    SubnetNotFound,
)
from gureum.efs.domain.file_systems import LifeCycleState, file_system_spec
from tests.efs.service.conftest import (
    ACCOUNT,
    DEFAULT_SG,
    OTHER_VPC_SG,
    REGION,
    SG,
    SUBNET_A,
    SUBNET_A2,
    SUBNET_B,
    SUBNET_OTHER,
    Efs,
)


def test_a_mount_target_takes_its_subnets_vpc_az_and_an_address(efs: Efs) -> None:
    fs = efs.file_system()
    target = efs.mount_targets.create(ACCOUNT, REGION, fs.file_system_id, SUBNET_A.subnet_id)
    assert target.mount_target_id.startswith("fsmt-")
    assert len(target.mount_target_id) == len("fsmt-") + 17
    assert target.subnet == SUBNET_A
    assert target.ip_address == "10.0.1.4"
    assert target.security_groups == (DEFAULT_SG,)  # the VPC's default group
    assert target.network_interface_id.startswith("eni-")
    assert target.state(efs.clock.now()) is LifeCycleState.CREATING
    with pytest.raises(IncorrectMountTargetState):
        efs.mount_targets.security_groups(ACCOUNT, REGION, target.mount_target_id)
    efs.clock.advance(1)
    assert target.state(efs.clock.now()) is LifeCycleState.AVAILABLE


def test_addresses_are_unique_in_a_subnet_across_file_systems(efs: Efs) -> None:
    one, two = efs.file_system("1"), efs.file_system("2")
    first = efs.mount_targets.create(ACCOUNT, REGION, one.file_system_id, SUBNET_A.subnet_id)
    second = efs.mount_targets.create(ACCOUNT, REGION, two.file_system_id, SUBNET_A.subnet_id)
    assert (first.ip_address, second.ip_address) == ("10.0.1.4", "10.0.1.5")
    three = efs.file_system("3")
    with pytest.raises(IpAddressInUse):
        efs.mount_targets.create(
            ACCOUNT, REGION, three.file_system_id, SUBNET_A.subnet_id, "10.0.1.5"
        )
    given = efs.mount_targets.create(
        ACCOUNT, REGION, three.file_system_id, SUBNET_A.subnet_id, "10.0.1.200"
    )
    assert given.ip_address == "10.0.1.200"
    four = efs.file_system("4")
    with pytest.raises(BadRequest):
        efs.mount_targets.create(
            ACCOUNT, REGION, four.file_system_id, SUBNET_A.subnet_id, "10.0.9.9"
        )


def test_one_per_az_and_one_vpc(efs: Efs) -> None:
    fs = efs.file_system()
    efs.mount_targets.create(ACCOUNT, REGION, fs.file_system_id, SUBNET_A.subnet_id)
    with pytest.raises(MountTargetConflict, match="already exists in this AZ"):
        efs.mount_targets.create(ACCOUNT, REGION, fs.file_system_id, SUBNET_A2.subnet_id)
    with pytest.raises(MountTargetConflict, match="same VPC"):
        efs.mount_targets.create(ACCOUNT, REGION, fs.file_system_id, SUBNET_OTHER.subnet_id)
    efs.mount_targets.create(ACCOUNT, REGION, fs.file_system_id, SUBNET_B.subnet_id)
    found, _ = efs.mount_targets.describe(ACCOUNT, REGION, file_system=fs.file_system_id)
    assert sorted(t.subnet.availability_zone for t in found) == ["us-east-1a", "us-east-1b"]


def test_unknown_subnets_groups_and_file_systems(efs: Efs) -> None:
    fs = efs.file_system()
    with pytest.raises(SubnetNotFound) as caught:
        efs.mount_targets.create(ACCOUNT, REGION, fs.file_system_id, "subnet-0123456789abcdef0")
    assert caught.value.status == 400
    with pytest.raises(SecurityGroupNotFound):
        efs.mount_targets.create(
            ACCOUNT, REGION, fs.file_system_id, SUBNET_A.subnet_id, security_groups=[OTHER_VPC_SG]
        )
    with pytest.raises(FileSystemNotFound):
        efs.mount_targets.create(ACCOUNT, REGION, "fs-0123456789abcdef0", SUBNET_A.subnet_id)
    # Another account sees none of this account's subnets.
    with pytest.raises(SubnetNotFound):
        efs.mount_targets.create("444455556666", REGION, fs.file_system_id, SUBNET_A.subnet_id)
    # Nothing half-made: no mount target was recorded by the refusals.
    assert efs.mount_targets.describe(ACCOUNT, REGION, file_system=fs.file_system_id) == ([], None)


def test_security_groups_are_read_and_replaced(efs: Efs) -> None:
    fs = efs.file_system()
    target = efs.mount_targets.create(
        ACCOUNT, REGION, fs.file_system_id, SUBNET_A.subnet_id, security_groups=[SG]
    )
    efs.clock.advance(1)
    assert efs.mount_targets.security_groups(ACCOUNT, REGION, target.mount_target_id) == (SG,)
    efs.mount_targets.modify_security_groups(
        ACCOUNT, REGION, target.mount_target_id, [DEFAULT_SG, SG]
    )
    assert efs.mount_targets.security_groups(ACCOUNT, REGION, target.mount_target_id) == (
        DEFAULT_SG,
        SG,
    )
    with pytest.raises(SecurityGroupNotFound):
        efs.mount_targets.modify_security_groups(
            ACCOUNT, REGION, target.mount_target_id, [OTHER_VPC_SG]
        )
    with pytest.raises(MountTargetNotFound):
        efs.mount_targets.security_groups(ACCOUNT, REGION, "fsmt-0123456789abcdef0")


def test_describe_by_exactly_one_of_file_system_mount_target_or_access_point(efs: Efs) -> None:
    fs = efs.file_system()
    target = efs.mount_targets.create(ACCOUNT, REGION, fs.file_system_id, SUBNET_A.subnet_id)
    point = efs.access_points.create(ACCOUNT, REGION, AccessPointSpec("c", fs.file_system_id))
    by_point, _ = efs.mount_targets.describe(ACCOUNT, REGION, access_point=point.access_point_id)
    assert by_point == [target]
    with pytest.raises(BadRequest):
        efs.mount_targets.describe(ACCOUNT, REGION)
    with pytest.raises(BadRequest):
        efs.mount_targets.describe(
            ACCOUNT, REGION, file_system=fs.file_system_id, mount_target_id=target.mount_target_id
        )
    with pytest.raises(AccessPointNotFound):
        efs.mount_targets.describe(ACCOUNT, REGION, access_point="fsap-0123456789abcdef0")
    with pytest.raises(MountTargetNotFound):
        efs.mount_targets.delete(ACCOUNT, REGION, "fsmt-0123456789abcdef0")


def test_ec2_is_told_which_subnets_and_groups_mount_targets_hold(efs: Efs) -> None:
    fs = efs.file_system()
    efs.mount_targets.create(
        ACCOUNT, REGION, fs.file_system_id, SUBNET_A.subnet_id, security_groups=[SG]
    )
    asked = [SUBNET_A.subnet_id, SUBNET_B.subnet_id, SG, DEFAULT_SG]
    assert set(efs.mount_targets.held(ACCOUNT, REGION, asked)) == {SUBNET_A.subnet_id, SG}
    assert not efs.mount_targets.held("444455556666", REGION, asked)


def test_a_one_zone_file_system_refuses_other_zones(efs: Efs) -> None:
    fs = efs.file_systems.create(
        ACCOUNT, REGION, file_system_spec("one-zone", availability_zone="us-east-1b")
    )
    efs.clock.advance(1)
    with pytest.raises(AvailabilityZonesMismatch):
        efs.mount_targets.create(ACCOUNT, REGION, fs.file_system_id, SUBNET_A.subnet_id)
    target = efs.mount_targets.create(ACCOUNT, REGION, fs.file_system_id, SUBNET_B.subnet_id)
    assert target.subnet.availability_zone == "us-east-1b"
