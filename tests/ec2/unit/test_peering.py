"""VPC peering, pure: the lifecycle table, who may answer, and `reachability.reaches` across a
peering connection (an active connection and a route each way, then the security groups)."""

from __future__ import annotations

from dataclasses import replace
from itertools import count

import pytest

from gureum.ec2.domain import peering, vpcs
from gureum.ec2.domain.errors import InvalidStateTransition, OperationNotPermitted
from gureum.ec2.domain.network import Network, Subnet
from gureum.ec2.domain.peering import PeeringStatus, VpcPeering
from gureum.ec2.domain.reachability import Interface, reaches, route_for
from gureum.ec2.domain.rules import ALL, EVERYWHERE, Peer, Rule
from gureum.ec2.domain.zones import zone_for

A, B = "111111111111", "222222222222"
_ids = count()


def new_id(kind: str) -> str:
    return f"{kind}-{next(_ids):017x}"


def network_with(block: str, subnet_block: str) -> tuple[Network, Subnet]:
    network, vpc = vpcs.create_vpc(Network(), new_id, block)
    zone = zone_for("us-east-1", "us-east-1a", None)
    return vpcs.create_subnet(network, new_id, vpc.id, subnet_block, zone)


def connection(near: Network, far: Network) -> VpcPeering:
    (mine,), (theirs,) = near.vpcs.values(), far.vpcs.values()
    return peering.request("pcx-1", mine, A, theirs, B, "us-east-1")


@pytest.mark.parametrize(
    ("status", "move", "account", "expected"),
    [
        (PeeringStatus.PENDING, peering.accept, B, PeeringStatus.ACTIVE),
        (PeeringStatus.PENDING, peering.reject, B, PeeringStatus.REJECTED),
        (PeeringStatus.PENDING, peering.delete, A, PeeringStatus.DELETED),
        (PeeringStatus.ACTIVE, peering.delete, B, PeeringStatus.DELETED),
        (PeeringStatus.ACTIVE, peering.accept, B, InvalidStateTransition),
        (PeeringStatus.REJECTED, peering.delete, A, InvalidStateTransition),
        (PeeringStatus.FAILED, peering.accept, B, InvalidStateTransition),
        (PeeringStatus.DELETED, peering.delete, A, InvalidStateTransition),
        (PeeringStatus.PENDING, peering.accept, A, OperationNotPermitted),
        (PeeringStatus.PENDING, peering.reject, A, OperationNotPermitted),
    ],
)
def test_lifecycle(status: PeeringStatus, move: object, account: str, expected: object) -> None:
    near, _ = network_with("10.1.0.0/16", "10.1.1.0/24")
    far, _ = network_with("10.2.0.0/16", "10.2.1.0/24")
    current = replace(connection(near, far), status=status)
    assert callable(move)
    if isinstance(expected, type) and issubclass(expected, Exception):
        with pytest.raises(expected):
            move(current, account)
    else:
        assert move(current, account).status is expected


def test_overlapping_blocks_fail_at_once() -> None:
    near, _ = network_with("10.1.0.0/16", "10.1.1.0/24")
    far, _ = network_with("10.1.128.0/17", "10.1.129.0/24")
    assert connection(near, far).status is PeeringStatus.FAILED


def test_the_most_specific_route_wins() -> None:
    near, subnet = network_with("10.1.0.0/16", "10.1.1.0/24")
    (table,) = near.route_tables.values()
    near = vpcs.create_route(near, table.id, "10.0.0.0/8", {"GatewayId": "igw-1"})
    near = vpcs.create_route(near, table.id, "10.2.0.0/16", {"VpcPeeringConnectionId": "pcx-1"})
    chosen = route_for(near, subnet, "10.2.3.4")
    assert chosen is not None
    assert chosen.target == "pcx-1"
    local = route_for(near, subnet, "10.1.9.9")
    assert local is not None
    assert local.is_local
    assert route_for(near, subnet, "192.168.0.1") is None


OPEN = (Rule("sgr-o", True, ALL, None, None, Peer(cidr=EVERYWHERE)),)


def ends(
    near: Network, near_subnet: Subnet, far: Network, far_subnet: Subnet, nfs_from: str
) -> tuple[Interface, Interface]:
    mine = next(iter(near.groups.values()))
    theirs = next(iter(far.groups.values()))
    client_group = replace(mine, egress=OPEN)
    server_group = replace(
        theirs, ingress=(Rule("sgr-i", False, "tcp", 2049, 2049, Peer(cidr=nfs_from)),)
    )
    return (
        Interface(A, near_subnet, [client_group], near_subnet.cidr),
        Interface(B, far_subnet, [server_group], "10.2.1.10"),
    )


@pytest.mark.parametrize(
    ("active", "route_out", "route_back", "nfs_from", "reached"),
    [
        (True, True, True, "10.1.0.0/16", True),
        (False, True, True, "10.1.0.0/16", False),  # pending: not carrying traffic
        (True, False, True, "10.1.0.0/16", False),  # no route there
        (True, True, False, "10.1.0.0/16", False),  # no route back
        (True, True, True, "10.9.0.0/16", False),  # 2049 not admitted from A's side
    ],
)
def test_reaches_across_a_peering(
    active: bool, route_out: bool, route_back: bool, nfs_from: str, reached: bool
) -> None:
    near, near_subnet = network_with("10.1.0.0/16", "10.1.1.0/24")
    far, far_subnet = network_with("10.2.0.0/16", "10.2.1.0/24")
    made = connection(near, far)
    if active:
        made = peering.accept(made, B)
    if route_out:
        (table,) = near.route_tables.values()
        near = vpcs.create_route(near, table.id, "10.2.0.0/16", {"VpcPeeringConnectionId": made.id})
    if route_back:
        (table,) = far.route_tables.values()
        far = vpcs.create_route(far, table.id, "10.1.1.0/24", {"VpcPeeringConnectionId": made.id})
    client, server = ends(near, near_subnet, far, far_subnet, nfs_from)
    assert reaches(client, near, server, far, [made]) is reached


def test_a_route_to_another_connection_does_not_reach() -> None:
    near, near_subnet = network_with("10.1.0.0/16", "10.1.1.0/24")
    far, far_subnet = network_with("10.2.0.0/16", "10.2.1.0/24")
    made = peering.accept(connection(near, far), B)
    (table,) = near.route_tables.values()
    near = vpcs.create_route(near, table.id, "10.2.0.0/16", {"VpcPeeringConnectionId": "pcx-9"})
    (table,) = far.route_tables.values()
    far = vpcs.create_route(far, table.id, "10.1.0.0/16", {"VpcPeeringConnectionId": made.id})
    client, server = ends(near, near_subnet, far, far_subnet, "10.1.0.0/16")
    assert reaches(client, near, server, far, [made]) is False
