"""The network of one account in one Region: VPCs, subnets, security groups and route tables.

Values are frozen; `Network` is the aggregate the operations (`vpcs`, `groups`, `tags`) take and
return anew, which the store reads and writes in one transaction. Invariants the operations keep:
every subnet, group and route table belongs to a VPC of the network; each VPC has exactly one main
route table and one group named `default`; subnets of a VPC do not overlap; a rule's group peer is
a group of the network (or was, until it was deleted: AWS keeps such rules, as does this).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from gureum.ec2.domain.errors import (
    GroupNotFound,
    RouteTableNotFound,
    SubnetNotFound,
    VpcNotFound,
)
from gureum.ec2.domain.rules import Rule
from gureum.ec2.domain.zones import Zone

Tags = tuple[tuple[str, str], ...]
# Makes an id of a kind: `new_id("vpc")` -> "vpc-" + 17 hex digits. Randomness comes in here.
NewId = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Vpc:
    id: str
    cidr: str
    cidr_association_id: str
    tags: Tags = ()
    tenancy: str = "default"

    @property
    def block(self) -> IPv4Network:
        return IPv4Network(self.cidr)


@dataclass(frozen=True, slots=True)
class Subnet:
    id: str
    vpc_id: str
    cidr: str
    zone: Zone
    tags: Tags = ()

    @property
    def block(self) -> IPv4Network:
        return IPv4Network(self.cidr)


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    id: str
    vpc_id: str
    name: str
    description: str
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()
    tags: Tags = ()

    @property
    def is_default(self) -> bool:
        return self.name == "default"


@dataclass(frozen=True, slots=True)
class Route:
    """A destination and its target (`local` for the VPC's own block)."""

    destination: str
    target_kind: str  # the wire member naming the target: GatewayId, NatGatewayId, ...
    target: str
    origin: str  # CreateRouteTable (the local route) or CreateRoute

    @property
    def is_local(self) -> bool:
        return self.target == "local"


@dataclass(frozen=True, slots=True)
class RouteTable:
    id: str
    vpc_id: str
    main: bool
    association_id: str
    routes: tuple[Route, ...] = ()
    tags: Tags = ()


@dataclass(frozen=True, slots=True)
class Network:
    vpcs: Mapping[str, Vpc] = field(default_factory=dict)
    subnets: Mapping[str, Subnet] = field(default_factory=dict)
    groups: Mapping[str, SecurityGroup] = field(default_factory=dict)
    route_tables: Mapping[str, RouteTable] = field(default_factory=dict)

    def vpc(self, vpc_id: str) -> Vpc:
        found = self.vpcs.get(vpc_id)
        if found is None:
            raise VpcNotFound(vpc_id)
        return found

    def subnet(self, subnet_id: str) -> Subnet:
        found = self.subnets.get(subnet_id)
        if found is None:
            raise SubnetNotFound(subnet_id)
        return found

    def group(self, group_id: str) -> SecurityGroup:
        found = self.groups.get(group_id)
        if found is None:
            raise GroupNotFound(group_id)
        return found

    def route_table(self, route_table_id: str) -> RouteTable:
        found = self.route_tables.get(route_table_id)
        if found is None:
            raise RouteTableNotFound(route_table_id)
        return found

    def subnets_of(self, vpc_id: str) -> list[Subnet]:
        return [s for s in self.subnets.values() if s.vpc_id == vpc_id]

    def groups_of(self, vpc_id: str) -> list[SecurityGroup]:
        return [g for g in self.groups.values() if g.vpc_id == vpc_id]

    def route_tables_of(self, vpc_id: str) -> list[RouteTable]:
        return [t for t in self.route_tables.values() if t.vpc_id == vpc_id]


def arn(region: str, account: str, kind: str, resource_id: str) -> str:
    """A resource's ARN, as EC2 writes it: `arn:aws:ec2:<region>:<account>:subnet/subnet-...`."""
    return f"arn:aws:ec2:{region}:{account}:{kind}/{resource_id}"
