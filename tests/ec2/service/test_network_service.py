"""The network service over its real store: what EFS and Lambda will read of it, the resources
they hold, accounts and Regions kept apart, and changes that are whole or absent. Every test runs
on SQLite and on PostgreSQL (the `stores` fixture): the store's contract suite (issue #24)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator

import pytest

from gureum.aws.errors import AwsError
from gureum.aws.sql import Backend
from gureum.ec2.domain.rules import Permission, allows
from gureum.ec2.services.network import NetworkService, Query
from gureum.ec2.store.network import NetworkStore

ACCOUNT, OTHER = "111111111111", "222222222222"
REGION = "eu-west-1"


@pytest.fixture
def service(stores: Callable[[], Backend]) -> Iterator[NetworkService]:
    store = NetworkStore(stores())
    yield NetworkService(store)
    store.close()


class MountTargets:
    """A holder, as EFS will be one: the subnets and groups its mount targets use."""

    def __init__(self) -> None:
        self.holding: set[str] = set()
        self.interfaces: dict[str, set[str]] = {}

    def held(self, account: str, region: str, resource_ids: Collection[str]) -> Collection[str]:
        return self.holding & set(resource_ids) if account == ACCOUNT else set()

    def addresses(self, account: str, region: str, subnet_id: str) -> Collection[str]:
        return self.interfaces.get(subnet_id, set()) if account == ACCOUNT else set()


def test_what_efs_and_lambda_read(service: NetworkService) -> None:
    vpc = service.create_vpc(ACCOUNT, REGION, "10.0.0.0/16", [])
    subnet = service.create_subnet(ACCOUNT, REGION, vpc.id, "10.0.1.0/24", (None, "euw1-az2"), [])
    target = service.create_group(ACCOUNT, REGION, vpc.id, "mount-target", "nfs", [])
    client = service.create_group(ACCOUNT, REGION, vpc.id, "function", "fn", [])
    assert [s.zone.name for s in service.subnets(ACCOUNT, REGION, [subnet.id])] == ["eu-west-1b"]
    with pytest.raises(AwsError) as missing:
        service.subnets(ACCOUNT, REGION, [subnet.id, "subnet-00000000000000000"])
    assert missing.value.code == "InvalidSubnetID.NotFound"
    groups = service.security_groups
    assert not allows(groups(ACCOUNT, REGION, [client.id]), groups(ACCOUNT, REGION, [target.id]))
    nfs = Permission("tcp", 2049, 2049, groups=((client.id, ""),))
    service.authorize(ACCOUNT, REGION, (target.id, None), [nfs], egress=False)
    assert allows(groups(ACCOUNT, REGION, [client.id]), groups(ACCOUNT, REGION, [target.id]))
    assert service.vpc(ACCOUNT, REGION, vpc.id) == vpc


def test_held_subnets_and_groups_cannot_be_deleted(service: NetworkService) -> None:
    holder = MountTargets()
    service.register(holder)
    vpc = service.create_vpc(ACCOUNT, REGION, "10.0.0.0/16", [])
    subnet = service.create_subnet(ACCOUNT, REGION, vpc.id, "10.0.1.0/24", (None, None), [])
    group = service.create_group(ACCOUNT, REGION, vpc.id, "g", "d", [])
    holder.holding = {subnet.id, group.id}
    for delete in (
        lambda: service.delete_subnet(ACCOUNT, REGION, subnet.id),
        lambda: service.delete_group(ACCOUNT, REGION, group.id, None),
    ):
        with pytest.raises(AwsError) as refused:
            delete()
        assert refused.value.code == "DependencyViolation"
    holder.holding = set()
    service.delete_subnet(ACCOUNT, REGION, subnet.id)
    assert service.delete_group(ACCOUNT, REGION, group.id, None) == group.id


def test_interfaces_take_addresses_of_their_subnet(service: NetworkService) -> None:
    holder = MountTargets()
    service.register(holder)
    vpc = service.create_vpc(ACCOUNT, REGION, "10.0.0.0/16", [])
    subnet = service.create_subnet(ACCOUNT, REGION, vpc.id, "10.0.1.0/28", (None, None), [])
    taken: set[str] = set()
    holder.interfaces[subnet.id] = taken
    for _ in range(11):
        taken.add(service.free_address(ACCOUNT, REGION, subnet.id))
    assert sorted(taken, key=lambda a: int(a.rsplit(".", 1)[1]))[0] == "10.0.1.4"
    [(described, available)], _ = service.describe_subnets(ACCOUNT, REGION, Query(ids=[subnet.id]))
    assert (described, available) == (subnet, 0)
    with pytest.raises(AwsError) as full:
        service.free_address(ACCOUNT, REGION, subnet.id)
    assert full.value.code == "InsufficientFreeAddressesInSubnet"
    taken.discard("10.0.1.7")
    assert service.free_address(ACCOUNT, REGION, subnet.id) == "10.0.1.7"


def test_accounts_and_regions_are_apart(service: NetworkService) -> None:
    mine = service.create_vpc(ACCOUNT, REGION, "10.0.0.0/16", [])
    service.create_vpc(OTHER, REGION, "10.0.0.0/16", [])
    service.create_vpc(ACCOUNT, "us-east-1", "10.0.0.0/16", [])
    found, _ = service.describe_vpcs(ACCOUNT, REGION, Query())
    assert [v.id for v in found] == [mine.id]
    with pytest.raises(AwsError) as missing:
        service.describe_vpcs(OTHER, REGION, Query(ids=[mine.id]))
    assert missing.value.code == "InvalidVpcID.NotFound"


def test_a_refused_change_writes_nothing(service: NetworkService) -> None:
    vpc = service.create_vpc(ACCOUNT, REGION, "10.0.0.0/16", [])
    group = service.create_group(ACCOUNT, REGION, vpc.id, "g", "d", [])
    good = Permission("tcp", 22, 22, cidrs=(("10.0.0.0/8", ""),))
    bad = Permission("tcp", 23, 23, groups=(("sg-00000000000000000", ""),))
    with pytest.raises(AwsError):
        service.authorize(ACCOUNT, REGION, (group.id, None), [good, bad], egress=False)
    assert service.security_groups(ACCOUNT, REGION, [group.id])[0].ingress == ()


def test_the_network_is_on_disk(service: NetworkService, stores: Callable[[], Backend]) -> None:
    vpc = service.create_vpc(ACCOUNT, REGION, "10.0.0.0/16", [])
    subnet = service.create_subnet(ACCOUNT, REGION, vpc.id, "10.0.1.0/24", (None, None), [])
    group = service.create_group(ACCOUNT, REGION, vpc.id, "g", "d", [])
    nfs = Permission("tcp", 2049, 2049, cidrs=(("10.0.1.0/24", "fn"),))
    service.authorize(ACCOUNT, REGION, (group.id, None), [nfs], egress=False)
    service.create_tags(ACCOUNT, REGION, [subnet.id], (("Name", "a"),))
    before = service.network(ACCOUNT, REGION)
    reopened = NetworkStore(stores())
    try:
        assert reopened.read(ACCOUNT, REGION) == before
    finally:
        reopened.close()
