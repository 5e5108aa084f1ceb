"""Describe* filters and pages, as EC2 applies them.

A resource passes the filters when it passes every one; it passes a filter when one of the
filter's values matches one of the resource's values for that name (`*` and `?` are wildcards).
`tag:<key>` matches the value of that tag, `tag-key` any tag's key, `tag-value` any tag's value.
A filter name the resource kind does not know is refused, as AWS refuses it
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Using_Filtering.html).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from gureum.ec2.domain.errors import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
)
from gureum.ec2.domain.network import RouteTable, SecurityGroup, Subnet, Tags, Vpc
from gureum.ec2.domain.peering import VpcPeering
from gureum.ec2.domain.rules import Rule
from gureum.ec2.domain.zones import Zone

Attributes = Mapping[str, Collection[str]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    values: tuple[str, ...]


def _pattern(value: str) -> re.Pattern[str]:
    text = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)
    return re.compile(text, re.DOTALL)


def _passes(wanted: Filter, attributes: Attributes, tags: Tags) -> bool:
    if wanted.name.startswith("tag:"):
        key = wanted.name[4:]
        have: Collection[str] = [v for k, v in tags if k == key]
    elif wanted.name == "tag-key":
        have = [k for k, _ in tags]
    elif wanted.name == "tag-value":
        have = [v for _, v in tags]
    elif wanted.name in attributes:
        have = attributes[wanted.name]
    else:
        raise InvalidParameterValue(f"The filter '{wanted.name}' is invalid")
    patterns = [_pattern(value) for value in wanted.values]
    return any(p.fullmatch(h) for p in patterns for h in have)


def matches(filters: Sequence[Filter], attributes: Attributes, tags: Tags = ()) -> bool:
    return all(_passes(f, attributes, tags) for f in filters)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def vpc_attributes(vpc: Vpc, owner: str) -> Attributes:
    return {
        "vpc-id": [vpc.id],
        "cidr": [vpc.cidr],
        "cidr-block-association.cidr-block": [vpc.cidr],
        "cidr-block-association.association-id": [vpc.cidr_association_id],
        "cidr-block-association.state": ["associated"],
        "state": ["available"],
        "is-default": ["false"],
        "owner-id": [owner],
        "instance-tenancy": [vpc.tenancy],
        "dhcp-options-id": ["default"],
    }


def subnet_attributes(subnet: Subnet, owner: str, arn: str, available: int) -> Attributes:
    return {
        "subnet-id": [subnet.id],
        "vpc-id": [subnet.vpc_id],
        "cidr-block": [subnet.cidr],
        "cidr": [subnet.cidr],
        "cidrBlock": [subnet.cidr],
        "availability-zone": [subnet.zone.name],
        "availabilityZone": [subnet.zone.name],
        "availability-zone-id": [subnet.zone.id],
        "availabilityZoneId": [subnet.zone.id],
        "available-ip-address-count": [str(available)],
        "default-for-az": ["false"],
        "defaultForAz": ["false"],
        "map-public-ip-on-launch": ["false"],
        "owner-id": [owner],
        "state": ["available"],
        "subnet-arn": [arn],
    }


def _rule_attributes(prefix: str, rules: Sequence[Rule]) -> dict[str, list[str]]:
    return {
        f"{prefix}ip-permission.cidr": [
            r.peer.cidr for r in rules if r.peer.cidr and "." in r.peer.cidr
        ],
        f"{prefix}ip-permission.ipv6-cidr": [
            r.peer.cidr for r in rules if r.peer.cidr and ":" in r.peer.cidr
        ],
        f"{prefix}ip-permission.group-id": [r.peer.group_id for r in rules if r.peer.group_id],
        f"{prefix}ip-permission.protocol": [r.protocol for r in rules],
        f"{prefix}ip-permission.from-port": [
            str(r.from_port) for r in rules if r.from_port is not None
        ],
        f"{prefix}ip-permission.to-port": [str(r.to_port) for r in rules if r.to_port is not None],
    }


def group_attributes(group: SecurityGroup, owner: str) -> Attributes:
    return {
        "group-id": [group.id],
        "group-name": [group.name],
        "description": [group.description],
        "vpc-id": [group.vpc_id],
        "owner-id": [owner],
        **_rule_attributes("", group.ingress),
        **_rule_attributes("egress.", group.egress),
    }


def route_table_attributes(table: RouteTable, owner: str) -> Attributes:
    return {
        "route-table-id": [table.id],
        "vpc-id": [table.vpc_id],
        "owner-id": [owner],
        "association.main": [_flag(table.main)] if table.main else [],
        "association.route-table-association-id": [table.association_id] if table.main else [],
        "association.route-table-id": [table.id] if table.main else [],
        "route.destination-cidr-block": [r.destination for r in table.routes],
        "route.gateway-id": [r.target for r in table.routes if r.target_kind == "GatewayId"],
        "route.nat-gateway-id": [r.target for r in table.routes if r.target_kind == "NatGatewayId"],
        "route.vpc-peering-connection-id": [
            r.target for r in table.routes if r.target_kind == "VpcPeeringConnectionId"
        ],
        "route.origin": [r.origin for r in table.routes],
        "route.state": ["active" for _ in table.routes],
    }


def peering_attributes(peering: VpcPeering) -> Attributes:
    requester, accepter = peering.requester, peering.accepter
    return {
        "vpc-peering-connection-id": [peering.id],
        "status-code": [peering.status.value],
        "status-message": [peering.message],
        "requester-vpc-info.vpc-id": [requester.vpc_id],
        "requester-vpc-info.owner-id": [requester.account],
        "requester-vpc-info.cidr-block": [requester.cidr],
        "accepter-vpc-info.vpc-id": [accepter.vpc_id],
        "accepter-vpc-info.owner-id": [accepter.account],
        "accepter-vpc-info.cidr-block": [accepter.cidr],
        "expiration-time": [],
    }


def zone_attributes(zone: Zone) -> Attributes:
    return {
        "zone-name": [zone.name],
        "zone-id": [zone.id],
        "region-name": [zone.region],
        "group-name": [zone.region],
        "state": ["available"],
        "zone-type": ["availability-zone"],
        "opt-in-status": ["opt-in-not-required"],
    }


# --- pages ---------------------------------------------------------------------------------------

_FEWEST, _MOST = 5, 1000


@dataclass(frozen=True, slots=True)
class PageRequest:
    max_results: int | None = None
    token: str | None = None
    most: int = _MOST


def _offset(token: str) -> int:
    try:
        offset = int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidNextToken(f"The token '{token}' is invalid") from None
    if offset < 0:
        raise InvalidNextToken(f"The token '{token}' is invalid")
    return offset


def page(
    items: Sequence[T], request: PageRequest, ids_named: str = ""
) -> tuple[list[T], str | None]:
    """One page of `items`, and the token of the next if there is one. `ids_named`: the member
    naming ids in the request, when it did (AWS refuses pages of named resources)."""
    if request.max_results is None and request.token is None:
        return list(items), None
    if ids_named and request.max_results is not None:
        raise InvalidParameterCombination(
            f"The parameter {ids_named} cannot be used with the parameter maxResults"
        )
    size = request.most if request.max_results is None else request.max_results
    if size < _FEWEST:
        raise InvalidParameterValue(
            f"Value ( {size} ) for parameter maxResults is invalid. "
            f"Expecting a value greater than {_FEWEST}."
        )
    if size > request.most:
        raise InvalidParameterValue(
            f"Value ( {size} ) for parameter maxResults is invalid. "
            f"Expecting a value less than {request.most}."
        )
    start = 0 if request.token is None else _offset(request.token)
    end = start + size
    following = None
    if end < len(items):
        following = base64.urlsafe_b64encode(str(end).encode()).decode()
    return list(items[start:end]), following
