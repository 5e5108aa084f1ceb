"""Security groups and their rules, as operations on a `Network`.

A new group allows all traffic out and nothing in; a rule that is already there (or asked for twice)
is `InvalidPermission.Duplicate`, and nothing of the request is applied; revoking a rule that is not
there is `InvalidPermission.NotFound`. The default group of a VPC cannot be deleted, nor a group
another group's rule refers to, nor one another service holds (a mount target's, say).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable
from dataclasses import replace

from gureum.ec2.domain.errors import (
    CannotDelete,
    DependencyViolation,
    GroupDuplicate,
    GroupNotFound,
    InvalidParameterValue,
    MissingParameter,
    PermissionDuplicate,
    PermissionNotFound,
    VpcIdNotSpecified,
)
from gureum.ec2.domain.network import Network, NewId, SecurityGroup, Tags
from gureum.ec2.domain.rules import (
    Peer,
    Permission,
    Rule,
    default_egress,
    duplicate_message,
    expand,
)

_LONGEST_NAME = 255


def create_group(
    network: Network,
    new_id: NewId,
    vpc_id: str | None,
    name: str,
    description: str,
    tags: Tags = (),
) -> tuple[Network, SecurityGroup]:
    if vpc_id is None:
        # gureum makes no default VPC, so a group must name its VPC.
        raise VpcIdNotSpecified("No default VPC for this user")
    network.vpc(vpc_id)
    if name.lower().startswith("sg-"):
        raise InvalidParameterValue("Group names may not be in the format sg-*")
    if not name or len(name) > _LONGEST_NAME:
        raise InvalidParameterValue(f"Value ({name}) for parameter GroupName is invalid.")
    if any(group.name == name for group in network.groups_of(vpc_id)):
        raise GroupDuplicate(f"The security group '{name}' already exists for VPC '{vpc_id}'")
    group = SecurityGroup(
        new_id("sg"), vpc_id, name, description, (), (default_egress(new_id("sgr")),), tags
    )
    return replace(network, groups={**network.groups, group.id: group}), group


def delete_group(network: Network, group_id: str, in_use: Collection[str] = ()) -> Network:
    group = network.group(group_id)
    if group.is_default:
        raise CannotDelete(
            f'the specified group: "{group_id}" name: "default" cannot be deleted by a user'
        )
    referred = any(
        rule.peer.group_id == group_id
        for other in network.groups.values()
        if other.id != group_id
        for rule in (*other.ingress, *other.egress)
    )
    if referred or group_id in in_use:
        raise DependencyViolation(f"resource {group_id} has a dependent object")
    return replace(network, groups={k: v for k, v in network.groups.items() if k != group_id})


def _resolved(network: Network, vpc_id: str, rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """`rules` with each group peer named by id: a peer named by its group's name is looked up
    among the groups of `vpc_id`; a peer that names no group is InvalidGroup.NotFound."""
    resolved = []
    for rule in rules:
        peer = rule.peer.group_id
        if rule.peer.account is not None:  # another account's: checked by the service
            resolved.append(rule)
        elif peer is not None and peer not in network.groups:
            named = [g.id for g in network.groups_of(vpc_id) if g.name == peer]
            if not named:
                raise GroupNotFound(peer)
            resolved.append(replace(rule, peer=Peer(group_id=named[0])))
        else:
            resolved.append(rule)
    return tuple(resolved)


def authorize(
    network: Network,
    new_id: NewId,
    group_id: str,
    permissions: Iterable[Permission],
    *,
    egress: bool,
) -> tuple[Network, tuple[Rule, ...]]:
    """Adds the rules of `permissions` to the group, all or none; returns those added."""
    group = network.group(group_id)
    ids = (new_id("sgr") for _ in itertools.count())
    added = _resolved(network, group.vpc_id, expand(permissions, egress=egress, new_id=ids))
    seen = {rule.key for rule in (group.egress if egress else group.ingress)}
    for rule in added:
        if rule.key in seen:
            raise PermissionDuplicate(duplicate_message(rule))
        seen.add(rule.key)
    if egress:
        updated = replace(group, egress=(*group.egress, *added))
    else:
        updated = replace(group, ingress=(*group.ingress, *added))
    return replace(network, groups={**network.groups, group_id: updated}), added


def revoke(
    network: Network, group_id: str, permissions: Iterable[Permission], *, egress: bool
) -> tuple[Network, tuple[Rule, ...]]:
    """Removes the rules of `permissions`, all or none; returns those removed."""
    group = network.group(group_id)
    asked = expand(permissions, egress=egress, new_id=itertools.repeat(""))
    asked = _resolved(network, group.vpc_id, asked)
    current = group.egress if egress else group.ingress
    keys = {rule.key for rule in asked}
    removed = tuple(rule for rule in current if rule.key in keys)
    if len({rule.key for rule in removed}) != len(keys):
        raise PermissionNotFound()
    kept = tuple(rule for rule in current if rule.key not in keys)
    updated = replace(group, egress=kept) if egress else replace(group, ingress=kept)
    return replace(network, groups={**network.groups, group_id: updated}), removed


def resolve(network: Network, group_id: str | None, name: str | None) -> str:
    """The id of the group a request names. AWS finds a group by name only in the default VPC
    (or EC2-Classic); gureum makes no default VPC, so a name alone is refused as AWS refuses it
    in an account without one."""
    if group_id is not None:
        return network.group(group_id).id
    if name is None:
        raise MissingParameter("The request must contain the parameter groupName or groupId")
    raise VpcIdNotSpecified(
        "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC."
    )
