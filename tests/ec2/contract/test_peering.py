"""VPC peering connections against a real server with boto3, in one account and across two (a
12-digit access key id names its account): the lifecycle, who may answer, routes to `pcx-`
targets, filters and durability."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import ACCOUNT, aws_error
from tests.support.server import GureumProcess

A, B = "111111111111", "222222222222"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    data = tmp_path_factory.mktemp("gureum-peering") / "data"
    process = GureumProcess(data, "--isolation", "none").start()
    yield process
    process.stop()


def ec2_of(server: GureumProcess, account: str) -> Any:
    return server.client("ec2", aws_access_key_id=account)


def vpc(ec2: Any, cidr: str) -> str:
    made: str = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    return made


def status(ec2: Any, peering_id: str) -> dict[str, str]:
    (found,) = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])[
        "VpcPeeringConnections"
    ]
    return dict(found["Status"])


def test_across_accounts_pending_then_active(server: GureumProcess) -> None:
    a, b = ec2_of(server, A), ec2_of(server, B)
    mine, theirs = vpc(a, "10.10.0.0/16"), vpc(b, "10.20.0.0/16")
    made = a.create_vpc_peering_connection(VpcId=mine, PeerVpcId=theirs, PeerOwnerId=B)[
        "VpcPeeringConnection"
    ]
    peering_id = made["VpcPeeringConnectionId"]
    assert peering_id.startswith("pcx-")
    assert made["Status"] == {"Code": "pending-acceptance", "Message": f"Pending Acceptance by {B}"}
    assert made["RequesterVpcInfo"]["OwnerId"] == A
    assert made["AccepterVpcInfo"] == {
        **made["AccepterVpcInfo"],
        "OwnerId": B,
        "VpcId": theirs,
        "CidrBlock": "10.20.0.0/16",
    }
    # Both owners see it; a third account does not.
    assert status(b, peering_id)["Code"] == "pending-acceptance"
    with aws_error("InvalidVpcPeeringConnectionID.NotFound", 400):
        status(ec2_of(server, "333333333333"), peering_id)
    # Only the accepter's owner answers.
    with aws_error("OperationNotPermitted", 400, f"User ({A}) cannot accept peering {peering_id}"):
        a.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    accepted = b.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert accepted["VpcPeeringConnection"]["Status"] == {"Code": "active", "Message": "Active"}
    assert status(a, peering_id) == {"Code": "active", "Message": "Active"}
    with aws_error(
        "InvalidStateTransition",
        400,
        f"Invalid state transition for {peering_id}, attempted to transition from active to active",
    ):
        b.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert a.delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)["Return"] is True
    assert status(b, peering_id) == {"Code": "deleted", "Message": f"Deleted by {A}"}


def test_rejected_and_then_not_deletable(server: GureumProcess) -> None:
    a, b = ec2_of(server, A), ec2_of(server, B)
    mine, theirs = vpc(a, "10.11.0.0/16"), vpc(b, "10.21.0.0/16")
    peering_id = a.create_vpc_peering_connection(VpcId=mine, PeerVpcId=theirs, PeerOwnerId=B)[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    with aws_error("OperationNotPermitted", 400):
        a.reject_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert b.reject_vpc_peering_connection(VpcPeeringConnectionId=peering_id)["Return"] is True
    assert status(a, peering_id) == {"Code": "rejected", "Message": f"Rejected by {B}"}
    with aws_error(
        "InvalidStateTransition",
        400,
        f"Invalid state transition for {peering_id}, attempted to transition from rejected to "
        "deleting",
    ):
        a.delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)


def test_overlapping_blocks_fail(server: GureumProcess) -> None:
    ec2 = server.client("ec2")
    one, two = vpc(ec2, "10.30.0.0/16"), vpc(ec2, "10.30.128.0/17")
    made = ec2.create_vpc_peering_connection(VpcId=one, PeerVpcId=two)["VpcPeeringConnection"]
    assert made["Status"]["Code"] == "failed"
    assert made["AccepterVpcInfo"]["OwnerId"] == ACCOUNT  # PeerOwnerId defaults to the caller
    with aws_error("InvalidStateTransition", 400):
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=made["VpcPeeringConnectionId"])


def test_unknown_ids(server: GureumProcess) -> None:
    ec2 = server.client("ec2")
    mine = vpc(ec2, "10.31.0.0/16")
    with aws_error("InvalidVpcID.NotFound", 400):
        ec2.create_vpc_peering_connection(VpcId=mine, PeerVpcId="vpc-0123456789abcdef0")
    with aws_error("InvalidVpcID.NotFound", 400):
        ec2.create_vpc_peering_connection(
            VpcId=mine, PeerVpcId="vpc-0123456789abcdef0", PeerOwnerId=B
        )
    with aws_error(
        "InvalidVpcPeeringConnectionID.NotFound",
        400,
        "The vpcPeeringConnection ID 'pcx-0123456789abcdef0' does not exist",
    ):
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId="pcx-0123456789abcdef0")
    with aws_error("InvalidParameterValue", 400):
        ec2.create_vpc_peering_connection(VpcId=mine, PeerVpcId=mine, PeerRegion="eu-west-1")
    # Nothing half-made: no connection from the refused requests.
    found = ec2.describe_vpc_peering_connections(
        Filters=[{"Name": "requester-vpc-info.vpc-id", "Values": [mine]}]
    )["VpcPeeringConnections"]
    assert found == []


def test_routes_to_a_connection_and_filters(server: GureumProcess) -> None:
    a, b = ec2_of(server, A), ec2_of(server, B)
    mine, theirs = vpc(a, "10.12.0.0/16"), vpc(b, "10.22.0.0/16")
    peering_id = a.create_vpc_peering_connection(
        VpcId=mine,
        PeerVpcId=theirs,
        PeerOwnerId=B,
        TagSpecifications=[
            {"ResourceType": "vpc-peering-connection", "Tags": [{"Key": "team", "Value": "x"}]}
        ],
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    tables = a.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [mine]}])
    table = tables["RouteTables"][0]["RouteTableId"]
    a.create_route(
        RouteTableId=table, DestinationCidrBlock="10.22.0.0/16", VpcPeeringConnectionId=peering_id
    )
    routes = a.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    peered = [r for r in routes if r.get("VpcPeeringConnectionId") == peering_id]
    assert peered[0]["State"] == "blackhole"  # not accepted yet
    b.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    routes = a.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert [r["State"] for r in routes if r.get("VpcPeeringConnectionId")] == ["active"]
    # A connection this VPC is no side of is not a target.
    other = vpc(a, "10.13.0.0/16")
    other_table = a.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [other]}])
    with aws_error("InvalidVpcPeeringConnectionID.NotFound", 400):
        a.create_route(
            RouteTableId=other_table["RouteTables"][0]["RouteTableId"],
            DestinationCidrBlock="10.22.0.0/16",
            VpcPeeringConnectionId=peering_id,
        )
    for name, value in (
        ("status-code", "active"),
        ("accepter-vpc-info.owner-id", B),
        ("tag:team", "x"),
        ("vpc-peering-connection-id", peering_id),
    ):
        found = b.describe_vpc_peering_connections(Filters=[{"Name": name, "Values": [value]}])
        assert peering_id in [p["VpcPeeringConnectionId"] for p in found["VpcPeeringConnections"]]
    with aws_error("InvalidParameterValue", 400):
        b.describe_vpc_peering_connections(Filters=[{"Name": "nonsense", "Values": ["x"]}])


def test_connections_survive_a_restart(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data", "--isolation", "none").start()
    try:
        a, b = ec2_of(process, A), ec2_of(process, B)
        mine, theirs = vpc(a, "10.14.0.0/16"), vpc(b, "10.24.0.0/16")
        peering_id = a.create_vpc_peering_connection(VpcId=mine, PeerVpcId=theirs, PeerOwnerId=B)[
            "VpcPeeringConnection"
        ]["VpcPeeringConnectionId"]
        b.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
        process.kill()
        process.start()
        assert status(ec2_of(process, A), peering_id)["Code"] == "active"
    finally:
        process.stop()


def test_another_accounts_group_over_an_active_peering(server: GureumProcess) -> None:
    """A rule may name a group of the peer VPC's account (UserIdGroupPairs with its UserId),
    once the connection is active; before that, or for a group that does not exist, the group
    is not found."""
    a, b = ec2_of(server, A), ec2_of(server, B)
    mine, theirs = vpc(a, "10.15.0.0/16"), vpc(b, "10.25.0.0/16")
    their_group = b.create_security_group(GroupName="clients", Description="c", VpcId=theirs)
    my_group = a.create_security_group(GroupName="nfs", Description="n", VpcId=mine)["GroupId"]
    pair = {"GroupId": their_group["GroupId"], "UserId": B}
    nfs = [{"IpProtocol": "tcp", "FromPort": 2049, "ToPort": 2049, "UserIdGroupPairs": [pair]}]
    with aws_error("InvalidGroup.NotFound", 400):
        a.authorize_security_group_ingress(GroupId=my_group, IpPermissions=nfs)
    peering_id = a.create_vpc_peering_connection(VpcId=mine, PeerVpcId=theirs, PeerOwnerId=B)[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    with aws_error("InvalidGroup.NotFound", 400):  # pending: not yet
        a.authorize_security_group_ingress(GroupId=my_group, IpPermissions=nfs)
    b.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    a.authorize_security_group_ingress(GroupId=my_group, IpPermissions=nfs)
    (group,) = a.describe_security_groups(GroupIds=[my_group])["SecurityGroups"]
    pairs = group["IpPermissions"][0]["UserIdGroupPairs"]
    assert [(p["GroupId"], p["UserId"]) for p in pairs] == [(their_group["GroupId"], B)]
    missing = [
        {
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0", "UserId": B}],
        }
    ]
    with aws_error("InvalidGroup.NotFound", 400):
        a.authorize_security_group_ingress(GroupId=my_group, IpPermissions=missing)
    a.revoke_security_group_ingress(GroupId=my_group, IpPermissions=nfs)


def test_in_one_account_the_owner_accepts_its_own_request(server: GureumProcess) -> None:
    ec2 = server.client("ec2")
    one, two = vpc(ec2, "10.40.0.0/16"), vpc(ec2, "10.41.0.0/16")
    made = ec2.create_vpc_peering_connection(VpcId=one, PeerVpcId=two)["VpcPeeringConnection"]
    assert made["Status"] == {
        "Code": "pending-acceptance",
        "Message": f"Pending Acceptance by {ACCOUNT}",
    }
    accepted = ec2.accept_vpc_peering_connection(
        VpcPeeringConnectionId=made["VpcPeeringConnectionId"]
    )
    assert accepted["VpcPeeringConnection"]["Status"]["Code"] == "active"
