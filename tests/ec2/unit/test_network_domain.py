"""EC2's pure core, table by table: CIDR blocks, zones, VPCs and subnets, routes, security
groups and their rules, tags, filters and pages. Ids are counted, not random."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import partial
from ipaddress import IPv4Address, IPv4Network

import pytest

from gureum.aws.errors import AwsError
from gureum.ec2.domain import cidr, groups, tags, vpcs
from gureum.ec2.domain.filters import Filter, PageRequest, matches, page
from gureum.ec2.domain.network import Network, SecurityGroup
from gureum.ec2.domain.rules import Permission, protocol_of
from gureum.ec2.domain.tags import TagSpecification
from gureum.ec2.domain.zones import region_code, zone_for, zones


def counter() -> Callable[[str], str]:
    numbers = itertools.count(1)
    return lambda kind: f"{kind}-{next(numbers):017x}"


def code_of(call: Callable[[], object]) -> tuple[str, str]:
    with pytest.raises(AwsError) as raised:
        call()
    return raised.value.code, raised.value.message


# --- CIDR blocks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "code"),
    [
        ("10.0.0.0/16", None),
        ("10.0.0.0/28", None),
        ("10.0.0.0/15", "InvalidVpc.Range"),
        ("10.0.0.0/29", "InvalidVpc.Range"),
        ("10.0.0.1/16", "InvalidVpc.Range"),
        ("10.0.0.0", "InvalidParameterValue"),
        ("banana", "InvalidParameterValue"),
        ("2001:db8::/56", "InvalidParameterValue"),
    ],
)
def test_vpc_blocks(block: str, code: str | None) -> None:
    if code is None:
        assert str(cidr.vpc_block(block)) == block
    else:
        assert code_of(lambda: cidr.vpc_block(block))[0] == code


VPC = IPv4Network("10.0.0.0/16")


@pytest.mark.parametrize(
    ("block", "others", "code"),
    [
        ("10.0.1.0/24", [], None),
        ("10.0.0.0/16", [], None),
        ("10.0.1.0/24", ["10.0.1.128/25"], "InvalidSubnet.Conflict"),
        ("10.0.0.0/20", ["10.0.15.0/24"], "InvalidSubnet.Conflict"),
        ("10.0.2.0/24", ["10.0.1.0/24"], None),
        ("10.1.0.0/24", [], "InvalidSubnet.Range"),
        ("10.0.1.0/29", [], "InvalidSubnet.Range"),
        ("10.0.1.5/24", [], "InvalidSubnet.Range"),
        ("10.0.1.0/33", [], "InvalidParameterValue"),
    ],
)
def test_subnet_blocks(block: str, others: list[str], code: str | None) -> None:
    taken = [IPv4Network(o) for o in others]
    if code is None:
        assert str(cidr.subnet_block(block, VPC, taken)) == block
    else:
        assert code_of(lambda: cidr.subnet_block(block, VPC, taken))[0] == code


@pytest.mark.parametrize(
    ("block", "count"), [("10.0.0.0/24", 251), ("10.0.0.0/28", 11), ("10.0.0.0/16", 65531)]
)
def test_five_addresses_of_each_subnet_are_aws(block: str, count: int) -> None:
    assert cidr.available_addresses(IPv4Network(block)) == count


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        ([], "10.0.1.4"),
        (["10.0.1.4", "10.0.1.5"], "10.0.1.6"),
        ([f"10.0.1.{n}" for n in range(4, 15)], None),
    ],
)
def test_a_new_interface_takes_the_lowest_free_address(
    taken: list[str], expected: str | None
) -> None:
    found = cidr.free_address(IPv4Network("10.0.1.0/28"), taken)
    assert (None if found is None else str(found)) == expected


@pytest.mark.parametrize(
    ("address", "kept"),
    [("10.0.1.0", True), ("10.0.1.3", True), ("10.0.1.4", False), ("10.0.1.255", True)],
)
def test_aws_keeps_five_addresses(address: str, kept: bool) -> None:
    assert cidr.reserved(IPv4Network("10.0.1.0/24"), IPv4Address(address)) is kept


# --- zones ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "code", "count"),
    [
        ("us-east-1", "use1", 6),
        ("us-west-2", "usw2", 4),
        ("eu-central-1", "euc1", 3),
        ("ap-northeast-1", "apne1", 3),
        ("ap-southeast-2", "apse2", 3),
        ("ca-central-1", "cac1", 3),
    ],
)
def test_zone_ids_follow_the_region(region: str, code: str, count: int) -> None:
    assert region_code(region) == code
    known = zones(region)
    assert len(known) == count
    assert (known[0].name, known[0].id) == (f"{region}a", f"{code}-az1")


def test_a_subnet_names_its_zone_by_name_or_id() -> None:
    assert zone_for("us-east-1", "us-east-1c", None).id == "use1-az3"
    assert zone_for("us-east-1", None, "use1-az3").name == "us-east-1c"
    assert zone_for("us-east-1", None, None).name == "us-east-1a"
    code, message = code_of(lambda: zone_for("eu-west-1", "eu-west-1z", None))
    assert code == "InvalidParameterValue"
    assert message == (
        "Value (eu-west-1z) for parameter availabilityZone is invalid. Subnets can currently "
        "only be created in the following availability zones: eu-west-1a, eu-west-1b, eu-west-1c."
    )
    assert code_of(lambda: zone_for("us-east-1", "us-east-1a", "use1-az1"))[0] == (
        "InvalidParameterCombination"
    )


# --- VPCs, subnets, routes -----------------------------------------------------------------------


def with_vpc() -> tuple[Network, str, Callable[[str], str]]:
    new_id = counter()
    network, vpc = vpcs.create_vpc(Network(), new_id, "10.0.0.0/16")
    return network, vpc.id, new_id


def test_a_vpc_is_made_with_its_main_route_table_and_default_group() -> None:
    network, vpc_id, _ = with_vpc()
    [table] = network.route_tables_of(vpc_id)
    assert table.main
    assert [(r.destination, r.target) for r in table.routes] == [("10.0.0.0/16", "local")]
    [group] = network.groups_of(vpc_id)
    assert group.name == "default"
    assert [r.peer.group_id for r in group.ingress] == [group.id]
    assert [r.peer.cidr for r in group.egress] == ["0.0.0.0/0"]
    emptied = vpcs.delete_vpc(network, vpc_id)
    assert emptied == Network()


def test_a_vpc_with_subnets_or_groups_cannot_be_deleted() -> None:
    network, vpc_id, new_id = with_vpc()
    zone = zones("us-east-1")[0]
    with_subnet, subnet = vpcs.create_subnet(network, new_id, vpc_id, "10.0.1.0/24", zone)
    assert code_of(lambda: vpcs.delete_vpc(with_subnet, vpc_id)) == (
        "DependencyViolation",
        f"The vpc '{vpc_id}' has dependencies and cannot be deleted.",
    )
    with_group, _ = groups.create_group(network, new_id, vpc_id, "g", "d")
    assert code_of(lambda: vpcs.delete_vpc(with_group, vpc_id))[0] == "DependencyViolation"
    assert code_of(lambda: vpcs.delete_subnet(with_subnet, subnet.id, {subnet.id}))[0] == (
        "DependencyViolation"
    )
    assert vpcs.delete_subnet(with_subnet, subnet.id) == network


def test_routes_and_their_errors() -> None:
    network, vpc_id, _ = with_vpc()
    [table] = network.route_tables_of(vpc_id)
    target = {"GatewayId": "igw-1", "NatGatewayId": None}
    routed = vpcs.create_route(network, table.id, "0.0.0.0/0", target)
    assert routed.route_table(table.id).routes[-1].target == "igw-1"
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: vpcs.create_route(routed, table.id, "0.0.0.0/0", target), "RouteAlreadyExists"),
        (lambda: vpcs.create_route(network, table.id, "0.0.0.0/0", {}), "MissingParameter"),
        (lambda: vpcs.create_route(network, table.id, "x", target), "InvalidParameterValue"),
        (
            lambda: vpcs.create_route(network, "rtb-0", "0.0.0.0/0", target),
            "InvalidRouteTableID.NotFound",
        ),
        (lambda: vpcs.delete_route(network, table.id, "0.0.0.0/0"), "InvalidRoute.NotFound"),
        (lambda: vpcs.delete_route(network, table.id, "10.0.0.0/16"), "InvalidParameterValue"),
    ]
    for call, code in cases:
        assert code_of(call)[0] == code
    assert vpcs.delete_route(routed, table.id, "0.0.0.0/0") == network


# --- security groups -----------------------------------------------------------------------------


def test_groups_are_named_once_per_vpc() -> None:
    network, vpc_id, new_id = with_vpc()
    made, group = groups.create_group(network, new_id, vpc_id, "web", "tier")
    assert [r.peer.cidr for r in group.egress] == ["0.0.0.0/0"]
    assert group.ingress == ()
    cases: list[tuple[str | None, str, str]] = [
        (vpc_id, "web", "InvalidGroup.Duplicate"),
        (vpc_id, "default", "InvalidGroup.Duplicate"),
        (vpc_id, "sg-123", "InvalidParameterValue"),
        ("vpc-0", "x", "InvalidVpcID.NotFound"),
        (None, "x", "VPCIdNotSpecified"),
    ]
    for vpc, name, code in cases:
        assert code_of(partial(groups.create_group, made, new_id, vpc, name, "d"))[0] == code
    assert groups.resolve(made, group.id, None) == group.id
    assert code_of(lambda: groups.resolve(made, "sg-0", None))[0] == "InvalidGroup.NotFound"
    # A name alone is looked up in the default VPC, which gureum does not make.
    assert code_of(lambda: groups.resolve(made, None, "web")) == (
        "VPCIdNotSpecified",
        "No default VPC for this user. GroupName is only supported for EC2-Classic and default "
        "VPC.",
    )


NFS = Permission("tcp", 2049, 2049, cidrs=(("10.0.0.0/24", ""),))


def test_rules_are_added_whole_and_never_twice() -> None:
    network, vpc_id, new_id = with_vpc()
    network, group = groups.create_group(network, new_id, vpc_id, "nfs", "d")
    network, added = groups.authorize(network, new_id, group.id, [NFS], egress=False)
    assert [(r.protocol, r.from_port, r.peer.cidr) for r in added] == [("tcp", 2049, "10.0.0.0/24")]
    code, message = code_of(
        lambda: groups.authorize(network, new_id, group.id, [NFS], egress=False)
    )
    assert code == "InvalidPermission.Duplicate"
    assert message == (
        'the specified rule "peer: 10.0.0.0/24, TCP, from port: 2049, to port: 2049, ALLOW" '
        "already exists"
    )
    # A request that repeats itself adds nothing.
    twice = Permission("tcp", 22, 22, cidrs=(("10.0.0.0/8", ""), ("10.0.0.0/8", "")))
    assert code_of(lambda: groups.authorize(network, new_id, group.id, [twice], egress=False))[
        0
    ] == ("InvalidPermission.Duplicate")
    unknown_peer = Permission("tcp", 1, 2, groups=(("sg-0", ""),))
    assert (
        code_of(lambda: groups.authorize(network, new_id, group.id, [unknown_peer], egress=False))[
            0
        ]
        == "InvalidGroup.NotFound"
    )
    revoked, removed = groups.revoke(network, group.id, [NFS], egress=False)
    assert removed == added
    assert revoked.group(group.id).ingress == ()
    assert code_of(lambda: groups.revoke(revoked, group.id, [NFS], egress=False))[0] == (
        "InvalidPermission.NotFound"
    )


@pytest.mark.parametrize(
    ("permission", "code"),
    [
        (Permission("tcp", None, 80, cidrs=(("0.0.0.0/0", ""),)), "InvalidParameterValue"),
        (Permission("tcp", 90, 80, cidrs=(("0.0.0.0/0", ""),)), "InvalidParameterValue"),
        (Permission("tcp", 80, 80, cidrs=(("10.0.0.1/24", ""),)), "InvalidParameterValue"),
        (Permission("gopher", 80, 80, cidrs=(("0.0.0.0/0", ""),)), "InvalidParameterValue"),
        (Permission("tcp", 80, 80), "InvalidParameterValue"),
    ],
)
def test_bad_permissions(permission: Permission, code: str) -> None:
    network, vpc_id, new_id = with_vpc()
    network, group = groups.create_group(network, new_id, vpc_id, "g", "d")
    assert (
        code_of(lambda: groups.authorize(network, new_id, group.id, [permission], egress=False))[0]
        == code
    )


@pytest.mark.parametrize(
    ("text", "name"),
    [("TCP", "tcp"), ("6", "tcp"), ("17", "udp"), ("all", "-1"), ("-1", "-1"), ("47", "47")],
)
def test_protocols_are_named_as_aws_names_them(text: str, name: str) -> None:
    assert protocol_of(text) == name


def test_the_default_group_and_referenced_groups_stay() -> None:
    network, vpc_id, new_id = with_vpc()
    [default] = network.groups_of(vpc_id)
    assert code_of(lambda: groups.delete_group(network, default.id)) == (
        "CannotDelete",
        f'the specified group: "{default.id}" name: "default" cannot be deleted by a user',
    )
    network, client = groups.create_group(network, new_id, vpc_id, "client", "d")
    network, server = groups.create_group(network, new_id, vpc_id, "server", "d")
    by_name = Permission("tcp", 2049, 2049, groups=(("client", ""),))
    network, added = groups.authorize(network, new_id, server.id, [by_name], egress=False)
    assert added[0].peer.group_id == client.id
    assert code_of(lambda: groups.delete_group(network, client.id)) == (
        "DependencyViolation",
        f"resource {client.id} has a dependent object",
    )
    assert code_of(lambda: groups.delete_group(network, server.id, {server.id}))[0] == (
        "DependencyViolation"
    )
    assert server.id not in groups.delete_group(network, server.id).groups


# --- tags, filters, pages ------------------------------------------------------------------------


def test_tags() -> None:
    assert tags.tags_for([TagSpecification("vpc", (("a", "1"),))], "vpc") == (("a", "1"),)
    code, message = code_of(lambda: tags.tags_for([TagSpecification("subnet", ())], "vpc"))
    assert (code, message) == (
        "InvalidParameterValue",
        "'subnet' is not a valid taggable resource type for this operation.",
    )
    current = (("a", "1"), ("b", "2"))
    assert tags.with_tags(current, (("a", "9"), ("c", "3"))) == (("a", "9"), ("b", "2"), ("c", "3"))
    assert tags.without_tags(current, [("a", None)]) == (("b", "2"),)
    assert tags.without_tags(current, [("a", "2")]) == current
    network, vpc_id, _ = with_vpc()
    tagged = tags.retag(network, [vpc_id], lambda t: tags.with_tags(t, (("k", "v"),)))
    assert tagged.vpc(vpc_id).tags == (("k", "v"),)
    assert (
        code_of(lambda: tags.retag(network, ["vpc-0"], lambda t: t))[0] == "InvalidVpcID.NotFound"
    )
    assert code_of(lambda: tags.retag(network, ["i-0"], lambda t: t))[0] == "InvalidID"


@pytest.mark.parametrize(
    ("filters", "passes"),
    [
        ([], True),
        ([Filter("vpc-id", ("vpc-1",))], True),
        ([Filter("vpc-id", ("vpc-2", "vpc-1"))], True),
        ([Filter("vpc-id", ("vpc-2",))], False),
        ([Filter("vpc-id", ("vpc-*",))], True),
        ([Filter("vpc-id", ("vpc-?",))], True),
        ([Filter("vpc-id", ("vpc-1",)), Filter("state", ("pending",))], False),
        ([Filter("tag:Name", ("web",))], True),
        ([Filter("tag:Name", ("w*",))], True),
        ([Filter("tag:Owner", ("web",))], False),
        ([Filter("tag-key", ("Name",))], True),
        ([Filter("tag-value", ("db",))], False),
    ],
)
def test_filters(filters: list[Filter], passes: bool) -> None:
    attributes = {"vpc-id": ["vpc-1"], "state": ["available"]}
    assert matches(filters, attributes, (("Name", "web"),)) is passes


def test_an_unknown_filter_is_refused() -> None:
    assert code_of(lambda: matches([Filter("colour", ("x",))], {})) == (
        "InvalidParameterValue",
        "The filter 'colour' is invalid",
    )


def test_pages() -> None:
    items = list(range(12))
    first, token = page(items, PageRequest(5))
    assert first == [0, 1, 2, 3, 4]
    assert token is not None
    second, token = page(items, PageRequest(5, token))
    last, token = page(items, PageRequest(5, token))
    assert (second, last, token) == ([5, 6, 7, 8, 9], [10, 11], None)
    assert page(items, PageRequest()) == (items, None)
    cases: list[tuple[PageRequest, str, str]] = [
        (PageRequest(2), "", "InvalidParameterValue"),
        (PageRequest(1001), "", "InvalidParameterValue"),
        (PageRequest(5, "not a token"), "", "InvalidNextToken"),
        (PageRequest(5), "vpcIds", "InvalidParameterCombination"),
    ]
    for request, named, code in cases:
        assert code_of(partial(page, items, request, named))[0] == code
    assert code_of(lambda: page(items, PageRequest(2)))[1] == (
        "Value ( 2 ) for parameter maxResults is invalid. Expecting a value greater than 5."
    )


def test_values_are_frozen() -> None:
    network, vpc_id, _ = with_vpc()
    group: SecurityGroup = network.groups_of(vpc_id)[0]
    with pytest.raises(AttributeError):
        group.name = "other"  # type: ignore[misc]
