"""Security group rules, and the reachability they allow.

A rule allows one protocol (and for TCP and UDP a port range, for ICMP a type and code) to or from
one peer: a CIDR block or another security group. AWS's `IpPermissions` bundle several peers for
one protocol and port range; here each peer is its own rule (AWS's `SecurityGroupRule`, with its
`sgr-` id), so that a duplicate, a revoke and a reachability question each touch one rule.

Security groups are stateful and allow only: traffic flows when the sender's groups allow it out
and the receiver's groups allow it in (https://docs.aws.amazon.com/vpc/latest/userguide/
security-group-rules.html). That is `allows`, which EFS and Lambda ask about NFS (TCP 2049).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import ip_network
from typing import Protocol

from gureum.ec2.domain.cidr import rule_block
from gureum.ec2.domain.errors import InvalidParameterValue

ALL = "-1"
NFS_PORT = 2049
EVERYWHERE = "0.0.0.0/0"
IPV4 = 4
_NAMED = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmpv6", "-1": ALL, "all": ALL}
_NUMBERED = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
_PORTED = frozenset({"tcp", "udp"})
_HIGHEST_PROTOCOL = 255
_HIGHEST_PORT = 65535


class SecurityGroupRules(Protocol):
    """What `allows` reads of a security group: its id and its rules."""

    @property
    def id(self) -> str: ...
    @property
    def ingress(self) -> tuple[Rule, ...]: ...
    @property
    def egress(self) -> tuple[Rule, ...]: ...


@dataclass(frozen=True, slots=True)
class Peer:
    """Whom a rule allows: a CIDR block (IPv4 or IPv6) or a security group, of this account or
    (`account`) of another whose VPC is peered with the group's."""

    cidr: str | None = None
    group_id: str | None = None
    account: str | None = None

    def __str__(self) -> str:
        return self.cidr or self.group_id or ""


@dataclass(frozen=True, slots=True)
class Rule:
    """One permission of a security group, in one direction."""

    id: str
    egress: bool
    protocol: str
    from_port: int | None
    to_port: int | None
    peer: Peer
    description: str = ""

    @property
    def key(self) -> tuple[bool, str, int | None, int | None, Peer]:
        """What makes two rules the same (ids and descriptions aside)."""
        return (self.egress, self.protocol, self.from_port, self.to_port, self.peer)

    def permits(self, protocol: str, port: int) -> bool:
        """Whether this rule covers `protocol` traffic to `port`."""
        if self.protocol == ALL:
            return True
        if self.protocol != protocol:
            return False
        if self.from_port is None or self.to_port is None or self.from_port == -1:
            return True
        return self.from_port <= port <= self.to_port


@dataclass(frozen=True, slots=True)
class Permission:
    """One of AWS's `IpPermissions`, as asked for: a protocol and ports, and its peers."""

    protocol: str
    from_port: int | None
    to_port: int | None
    cidrs: tuple[tuple[str, str], ...] = ()  # (block, description)
    groups: tuple[tuple[str, str], ...] = ()  # (group id, description)
    # Groups of other accounts, over a peering connection: (account, group id, description).
    foreign: tuple[tuple[str, str, str], ...] = ()


def protocol_of(text: str) -> str:
    """AWS's name for an IP protocol: `TCP` and `6` are `tcp`, `all` and `-1` are all."""
    lowered = text.strip().lower()
    if lowered in _NAMED:
        return _NAMED[lowered]
    if lowered in _NUMBERED:
        return _NUMBERED[lowered]
    if lowered.isdigit() and int(lowered) <= _HIGHEST_PROTOCOL:
        return lowered
    raise InvalidParameterValue(f"Invalid value '{text}' for IP protocol. Unknown protocol.")


def _ports(protocol: str, low: int | None, high: int | None) -> tuple[int | None, int | None]:
    if protocol == ALL:
        return None, None
    if protocol in _PORTED:
        if low is None or high is None:
            raise InvalidParameterValue(
                "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange"
            )
        if not 0 <= low <= high <= _HIGHEST_PORT:
            raise InvalidParameterValue(f"Invalid TCP/UDP port range {low}-{high}")
        return low, high
    # ICMP's type and code, and other protocols: -1 means all.
    return (-1 if low is None else low), (-1 if high is None else high)


def expand(
    permissions: Iterable[Permission], *, egress: bool, new_id: Iterable[str]
) -> tuple[Rule, ...]:
    """One rule per peer of each permission; `new_id` yields their ids."""
    ids = iter(new_id)
    rules = []
    for permission in permissions:
        protocol = protocol_of(permission.protocol)
        low, high = _ports(protocol, permission.from_port, permission.to_port)
        peers = [(Peer(cidr=str(rule_block(c))), d) for c, d in permission.cidrs]
        peers += [(Peer(group_id=g), d) for g, d in permission.groups]
        peers += [(Peer(group_id=g, account=a), d) for a, g, d in permission.foreign]
        if not peers:
            raise InvalidParameterValue(
                "The request must contain a CIDR range, a security group or a prefix list"
            )
        rules += [Rule(next(ids), egress, protocol, low, high, p, d) for p, d in peers]
    return tuple(rules)


def default_egress(rule_id: str) -> Rule:
    """The rule every new VPC security group starts with: all traffic out, anywhere."""
    return Rule(rule_id, True, ALL, None, None, Peer(cidr=EVERYWHERE))


def duplicate_message(rule: Rule) -> str:
    """AWS's words for a rule that is already there."""
    if rule.protocol == ALL:
        traffic = "ALL"
    else:
        traffic = f"{rule.protocol.upper()}, from port: {rule.from_port}, to port: {rule.to_port}"
    return f'the specified rule "peer: {rule.peer}, {traffic}, ALLOW" already exists'


def _peer_matches(peer: Peer, groups: Sequence[str], where: str | None) -> bool:
    """Whether `peer` covers the other side: one of its `groups`, or its place `where` (an
    address, or a block such as a subnet when the exact address is not known: all of it must be
    covered). With no place known, only a rule for every IPv4 address covers it: hosts here have
    IPv4 addresses."""
    if peer.group_id is not None:
        return peer.group_id in groups
    if peer.cidr is None:
        return False
    network = ip_network(peer.cidr)
    if where is None:
        return network.version == IPV4 and network.prefixlen == 0
    place = ip_network(where, strict=False)
    return place.version == network.version and place.subnet_of(network)  # type: ignore[arg-type]


def _any_rule(
    rules: Iterable[Rule], protocol: str, port: int, groups: Sequence[str], address: str | None
) -> bool:
    return any(
        rule.permits(protocol, port) and _peer_matches(rule.peer, groups, address) for rule in rules
    )


def allows(
    groups_from: Sequence[SecurityGroupRules],
    groups_to: Sequence[SecurityGroupRules],
    port: int = NFS_PORT,
    *,
    protocol: str = "tcp",
    address_from: str | None = None,
    address_to: str | None = None,
) -> bool:
    """Whether a client in `groups_from` (at `address_from`) may open `protocol` `port` on a
    server in `groups_to` (at `address_to`): some group of the client's allows it out to the
    server (by its address or one of its groups) and some group of the server's allows it in from
    the client. An address may be a block (the client's subnet, when its interface's address is
    not known): a CIDR rule must then cover all of it."""
    ids_from = [group.id for group in groups_from]
    ids_to = [group.id for group in groups_to]
    out = _any_rule((r for g in groups_from for r in g.egress), protocol, port, ids_to, address_to)
    return out and _any_rule(
        (r for g in groups_to for r in g.ingress), protocol, port, ids_from, address_from
    )
