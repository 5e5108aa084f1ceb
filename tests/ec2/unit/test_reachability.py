"""`rules.allows`, the one question EFS and Lambda ask of security groups (spec 7.2): may a client
in these groups open TCP 2049 on a mount target in those? Both sides must agree: the client's
groups allow it out, the target's allow it in."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gureum.ec2.domain.rules import ALL, EVERYWHERE, Peer, Rule, allows


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()


def rule(peer: str, protocol: str = "tcp", ports: tuple[int, int] | None = (2049, 2049)) -> Rule:
    low, high = ports if ports is not None else (None, None)
    target = Peer(group_id=peer) if peer.startswith("sg-") else Peer(cidr=peer)
    return Rule("sgr-1", False, protocol, low, high, target)


OPEN_OUT = (rule(EVERYWHERE, ALL, None),)
CLIENT = Group("sg-client", egress=OPEN_OUT)
CASES = [
    pytest.param(CLIENT, Group("sg-t", (rule("sg-client"),)), None, None, True, id="by-group"),
    pytest.param(CLIENT, Group("sg-t", (rule("sg-other"),)), None, None, False, id="other-group"),
    pytest.param(CLIENT, Group("sg-t"), None, None, False, id="nothing-in"),
    pytest.param(
        CLIENT,
        Group("sg-t", (rule("10.0.1.0/24"),)),
        "10.0.1.17",
        "10.0.2.5",
        True,
        id="by-cidr",
    ),
    pytest.param(
        CLIENT,
        Group("sg-t", (rule("10.0.1.0/24"),)),
        "10.0.3.17",
        "10.0.2.5",
        False,
        id="cidr-elsewhere",
    ),
    pytest.param(
        CLIENT, Group("sg-t", (rule("10.0.1.0/24"),)), None, "10.0.2.5", False, id="no-address"
    ),
    pytest.param(
        CLIENT,
        Group("sg-t", (rule("10.0.0.0/16"),)),
        "10.0.1.0/24",
        None,
        True,
        id="subnet-inside",
    ),
    pytest.param(
        CLIENT,
        Group("sg-t", (rule("10.0.1.0/25"),)),
        "10.0.1.0/24",
        None,
        False,
        id="subnet-partly-outside",
    ),
    pytest.param(CLIENT, Group("sg-t", (rule(EVERYWHERE),)), None, None, True, id="everywhere-in"),
    pytest.param(
        CLIENT, Group("sg-t", (rule("sg-client", ports=(22, 22)),)), None, None, False, id="port"
    ),
    pytest.param(
        CLIENT,
        Group("sg-t", (rule("sg-client", ports=(1024, 65535)),)),
        None,
        None,
        True,
        id="range",
    ),
    pytest.param(
        CLIENT, Group("sg-t", (rule("sg-client", "udp"),)), None, None, False, id="udp-only"
    ),
    pytest.param(
        CLIENT, Group("sg-t", (rule("sg-client", ALL, None),)), None, None, True, id="all-in"
    ),
    pytest.param(
        Group("sg-client"), Group("sg-t", (rule("sg-client"),)), None, None, False, id="no-egress"
    ),
    pytest.param(
        Group("sg-client", egress=(rule("sg-t"),)),
        Group("sg-t", (rule("sg-client"),)),
        None,
        None,
        True,
        id="egress-by-group",
    ),
    pytest.param(
        Group("sg-client", egress=(rule("10.0.2.0/24"),)),
        Group("sg-t", (rule("sg-client"),)),
        None,
        "10.0.2.5",
        True,
        id="egress-by-cidr",
    ),
    pytest.param(
        Group("sg-client", egress=(rule("::/0"),)),
        Group("sg-t", (rule("sg-client"),)),
        None,
        "10.0.2.5",
        False,
        id="ipv6-rule-ipv4-host",
    ),
]


@pytest.mark.parametrize(("client", "target", "address_from", "address_to", "expected"), CASES)
def test_allows(
    client: Group, target: Group, address_from: str | None, address_to: str | None, expected: bool
) -> None:
    assert allows([client], [target], address_from=address_from, address_to=address_to) is expected


def test_any_of_several_groups_may_allow() -> None:
    closed = Group("sg-closed")
    target = Group("sg-t", (rule("sg-client"),))
    assert allows([Group("sg-none"), CLIENT], [closed, target])
    assert not allows([Group("sg-none")], [closed, target])
    assert allows([CLIENT], [target], 2049, protocol="tcp")
    assert not allows([CLIENT], [target], 2050)
