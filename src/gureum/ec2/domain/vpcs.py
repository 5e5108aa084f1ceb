"""VPCs, their subnets and their routes, as operations on a `Network`.

A VPC is made with its main route table (one `local` route to its block) and its default security
group (all traffic in from itself, all out), as AWS makes them; deleting the VPC takes both, and
is refused while anything else is in it (https://docs.aws.amazon.com/vpc/latest/userguide/
delete-vpc.html).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from gureum.ec2.domain import cidr
from gureum.ec2.domain.errors import (
    DependencyViolation,
    InvalidParameterValue,
    MissingParameter,
    RouteAlreadyExists,
    RouteNotFound,
)
from gureum.ec2.domain.network import (
    Network,
    NewId,
    Route,
    RouteTable,
    SecurityGroup,
    Subnet,
    Tags,
    Vpc,
)
from gureum.ec2.domain.rules import ALL, Peer, Rule, default_egress
from gureum.ec2.domain.zones import Zone

# The route targets CreateRoute takes, by their wire member.
ROUTE_TARGETS = (
    "GatewayId",
    "NatGatewayId",
    "NetworkInterfaceId",
    "VpcPeeringConnectionId",
    "EgressOnlyInternetGatewayId",
    "TransitGatewayId",
    "LocalGatewayId",
    "CarrierGatewayId",
    "VpcEndpointId",
    "InstanceId",
    "CoreNetworkArn",
)


def create_vpc(network: Network, new_id: NewId, block: str, tags: Tags = ()) -> tuple[Network, Vpc]:
    checked = str(cidr.vpc_block(block))
    vpc = Vpc(new_id("vpc"), checked, new_id("vpc-cidr-assoc"), tags)
    local = Route(checked, "GatewayId", "local", "CreateRouteTable")
    table = RouteTable(new_id("rtb"), vpc.id, True, new_id("rtbassoc"), (local,))
    group_id = new_id("sg")
    itself = Rule(new_id("sgr"), False, ALL, None, None, Peer(group_id=group_id))
    group = SecurityGroup(
        group_id,
        vpc.id,
        "default",
        "default VPC security group",
        (itself,),
        (default_egress(new_id("sgr")),),
    )
    return replace(
        network,
        vpcs={**network.vpcs, vpc.id: vpc},
        route_tables={**network.route_tables, table.id: table},
        groups={**network.groups, group.id: group},
    ), vpc


def delete_vpc(network: Network, vpc_id: str) -> Network:
    network.vpc(vpc_id)
    extra_groups = [g for g in network.groups_of(vpc_id) if not g.is_default]
    extra_tables = [t for t in network.route_tables_of(vpc_id) if not t.main]
    if network.subnets_of(vpc_id) or extra_groups or extra_tables:
        raise DependencyViolation(f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
    return replace(
        network,
        vpcs={k: v for k, v in network.vpcs.items() if k != vpc_id},
        groups={k: g for k, g in network.groups.items() if g.vpc_id != vpc_id},
        route_tables={k: t for k, t in network.route_tables.items() if t.vpc_id != vpc_id},
    )


def create_subnet(
    network: Network, new_id: NewId, vpc_id: str, block: str | None, zone: Zone, tags: Tags = ()
) -> tuple[Network, Subnet]:
    vpc = network.vpc(vpc_id)
    if block is None:
        raise MissingParameter("Either 'cidrBlock' or 'ipv6CidrBlock' should be provided.")
    others = [s.block for s in network.subnets_of(vpc_id)]
    checked = str(cidr.subnet_block(block, vpc.block, others))
    subnet = Subnet(new_id("subnet"), vpc_id, checked, zone, tags)
    return replace(network, subnets={**network.subnets, subnet.id: subnet}), subnet


def delete_subnet(network: Network, subnet_id: str, in_use: Collection[str] = ()) -> Network:
    network.subnet(subnet_id)
    if subnet_id in in_use:
        raise DependencyViolation(
            f"The subnet '{subnet_id}' has dependencies and cannot be deleted."
        )
    return replace(network, subnets={k: v for k, v in network.subnets.items() if k != subnet_id})


def _target(targets: dict[str, str | None]) -> tuple[str, str]:
    given = [(kind, value) for kind, value in targets.items() if value]
    if len(given) != 1:
        names = ", ".join(kind[0].lower() + kind[1:] for kind in ROUTE_TARGETS)
        raise MissingParameter(f"The request must contain exactly one of {names}")
    return given[0][0], given[0][1] or ""


def create_route(
    network: Network, table_id: str, destination: str | None, targets: dict[str, str | None]
) -> Network:
    table = network.route_table(table_id)
    if destination is None:
        raise MissingParameter("The request must contain the parameter destinationCidrBlock")
    block = str(cidr.route_destination(destination))
    kind, target = _target(targets)
    if any(route.destination == block for route in table.routes):
        raise RouteAlreadyExists(block)
    route = Route(block, kind, target, "CreateRoute")
    updated = replace(table, routes=(*table.routes, route))
    return replace(network, route_tables={**network.route_tables, table_id: updated})


def delete_route(network: Network, table_id: str, destination: str | None) -> Network:
    table = network.route_table(table_id)
    if destination is None:
        raise MissingParameter("The request must contain the parameter destinationCidrBlock")
    found = [r for r in table.routes if r.destination == destination]
    if not found:
        raise RouteNotFound(table_id, destination)
    if found[0].is_local:
        raise InvalidParameterValue(
            f"cannot remove local route {destination} in route table {table_id}"
        )
    routes = tuple(r for r in table.routes if r.destination != destination)
    updated = replace(table, routes=routes)
    return replace(network, route_tables={**network.route_tables, table_id: updated})
