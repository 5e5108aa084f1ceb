"""Tags of VPCs, subnets, security groups and route tables: set on create (TagSpecifications),
by CreateTags and DeleteTags, listed by DescribeTags."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from gureum.ec2.domain.errors import InvalidId, InvalidParameterValue
from gureum.ec2.domain.network import Network, Tags

# An id's prefix -> the resource type AWS names it by.
RESOURCE_TYPES = {"vpc": "vpc", "subnet": "subnet", "sg": "security-group", "rtb": "route-table"}


@dataclass(frozen=True, slots=True)
class TagSpecification:
    resource_type: str
    tags: Tags


@dataclass(frozen=True, slots=True)
class TagDescription:
    resource_id: str
    resource_type: str
    key: str
    value: str


def resource_type(resource_id: str) -> str | None:
    return RESOURCE_TYPES.get(resource_id.rsplit("-", 1)[0])


def tags_for(specifications: Sequence[TagSpecification], wanted: str) -> Tags:
    """The tags a create operation puts on its resource of type `wanted`."""
    tags: dict[str, str] = {}
    for specification in specifications:
        if specification.resource_type != wanted:
            raise InvalidParameterValue(
                f"'{specification.resource_type}' is not a valid taggable resource type for "
                "this operation."
            )
        tags.update(specification.tags)
    return tuple(tags.items())


def with_tags(current: Tags, added: Tags) -> Tags:
    merged = dict(current)
    merged.update(added)
    return tuple(merged.items())


def without_tags(current: Tags, removed: Sequence[tuple[str, str | None]]) -> Tags:
    """`current` less each key (only where its value is the one given, when one is)."""

    def goes(key: str, value: str) -> bool:
        return any(k == key and (v is None or v == value) for k, v in removed)

    if not removed:
        return ()  # DeleteTags without Tags deletes them all
    return tuple((k, v) for k, v in current if not goes(k, v))


def retag(network: Network, resource_ids: Iterable[str], change: Callable[[Tags], Tags]) -> Network:
    """`network` with `change` applied to the tags of each resource; every id must exist."""
    vpcs, subnets = dict(network.vpcs), dict(network.subnets)
    groups, tables = dict(network.groups), dict(network.route_tables)
    for resource_id in resource_ids:
        kind = resource_type(resource_id)
        if kind == "vpc":
            found_vpc = network.vpc(resource_id)
            vpcs[resource_id] = replace(found_vpc, tags=change(vpcs[resource_id].tags))
        elif kind == "subnet":
            found = network.subnet(resource_id)
            subnets[resource_id] = replace(found, tags=change(subnets[resource_id].tags))
        elif kind == "security-group":
            found_group = network.group(resource_id)
            groups[resource_id] = replace(found_group, tags=change(groups[resource_id].tags))
        elif kind == "route-table":
            found_table = network.route_table(resource_id)
            tables[resource_id] = replace(found_table, tags=change(tables[resource_id].tags))
        else:
            raise InvalidId(resource_id)
    return replace(network, vpcs=vpcs, subnets=subnets, groups=groups, route_tables=tables)


def described(network: Network) -> list[TagDescription]:
    """Every tag of the network, resource by resource."""
    resources: list[tuple[str, Tags]] = [
        *((v.id, v.tags) for v in network.vpcs.values()),
        *((s.id, s.tags) for s in network.subnets.values()),
        *((g.id, g.tags) for g in network.groups.values()),
        *((t.id, t.tags) for t in network.route_tables.values()),
    ]
    return [
        TagDescription(resource_id, resource_type(resource_id) or "", key, value)
        for resource_id, tags in resources
        for key, value in tags
    ]
