"""EC2's network model against a real server, with boto3's `ec2` client and the AWS CLI."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import fromstring

import pytest

from tests.support.aws import ACCOUNT, aws_error
from tests.support.cli import run_aws
from tests.support.server import GureumProcess
from tests.support.signing import send

NO_SANDBOX = ("--isolation", "none")
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
XMLNS = "{http://ec2.amazonaws.com/doc/2016-11-15/}"
ID = re.compile(r"^(vpc|subnet|sg|rtb)-[0-9a-f]{17}$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path_factory.mktemp("gureum-ec2") / "data", *NO_SANDBOX).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def ec2(server: GureumProcess) -> Any:
    return server.client("ec2")


@pytest.fixture
def vpc(ec2: Any) -> str:
    vpc_id: str = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return vpc_id


def test_a_vpc_comes_with_its_main_route_table_and_default_group(ec2: Any) -> None:
    made = ec2.create_vpc(
        CidrBlock="10.1.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "main"}]}],
    )["Vpc"]
    vpc_id = made["VpcId"]
    assert ID.match(vpc_id)
    assert made["CidrBlock"] == "10.1.0.0/16"
    assert made["State"] == "pending"  # as AWS answers CreateVpc
    assert made["OwnerId"] == ACCOUNT
    assert made["Tags"] == [{"Key": "Name", "Value": "main"}]
    described = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert [(v["VpcId"], v["State"], v["IsDefault"]) for v in described] == [
        (vpc_id, "available", False)
    ]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    [table] = tables["RouteTables"]
    assert ID.match(table["RouteTableId"])
    assert table["Associations"][0]["Main"] is True
    assert table["Routes"] == [
        {
            "DestinationCidrBlock": "10.1.0.0/16",
            "GatewayId": "local",
            "Origin": "CreateRouteTable",
            "State": "active",
        }
    ]
    [group] = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "SecurityGroups"
    ]
    assert group["GroupName"] == "default"
    assert group["IpPermissions"][0]["IpProtocol"] == "-1"
    assert group["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == group["GroupId"]
    assert group["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    with aws_error("CannotDelete", 400) as caught:
        ec2.delete_security_group(GroupId=group["GroupId"])
    assert caught.value.response["Error"]["Message"] == (
        f'the specified group: "{group["GroupId"]}" name: "default" cannot be deleted by a user'
    )
    ec2.delete_vpc(VpcId=vpc_id)
    with aws_error("InvalidVpcID.NotFound", 400, f"The vpc ID '{vpc_id}' does not exist"):
        ec2.describe_vpcs(VpcIds=[vpc_id])
    with aws_error("InvalidRouteTableID.NotFound", 400):
        ec2.describe_route_tables(RouteTableIds=[table["RouteTableId"]])


@pytest.mark.parametrize(
    ("cidr", "code", "message"),
    [
        (
            "10.0.0.0/33",
            "InvalidParameterValue",
            "Value (10.0.0.0/33) for parameter cidrBlock is invalid. "
            "This is not a valid CIDR block.",
        ),
        ("10.0.0.0/8", "InvalidVpc.Range", "The CIDR '10.0.0.0/8' is invalid."),
        ("10.0.0.0/29", "InvalidVpc.Range", "The CIDR '10.0.0.0/29' is invalid."),
    ],
)
def test_vpc_blocks_are_checked(ec2: Any, cidr: str, code: str, message: str) -> None:
    with aws_error(code, 400, message):
        ec2.create_vpc(CidrBlock=cidr)


def test_subnets_inside_their_vpc_without_overlaps(ec2: Any, vpc: str) -> None:
    made = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1b")
    subnet = made["Subnet"]
    assert ID.match(subnet["SubnetId"])
    assert (subnet["AvailabilityZone"], subnet["AvailabilityZoneId"]) == ("us-east-1b", "use1-az2")
    assert subnet["AvailableIpAddressCount"] == 251
    assert subnet["SubnetArn"] == f"arn:aws:ec2:us-east-1:{ACCOUNT}:subnet/{subnet['SubnetId']}"
    by_id = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/28", AvailabilityZoneId="use1-az3")
    assert by_id["Subnet"]["AvailabilityZone"] == "us-east-1c"
    assert by_id["Subnet"]["AvailableIpAddressCount"] == 11
    with aws_error(
        "InvalidSubnet.Conflict", 400, "The CIDR '10.0.1.128/25' conflicts with another subnet"
    ):
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.128/25")
    with aws_error("InvalidSubnet.Range", 400, "The CIDR '10.1.0.0/24' is invalid."):
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.0.0/24")
    with aws_error("InvalidParameterValue", 400):
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.9.0/24", AvailabilityZone="us-east-1z")
    with aws_error(
        "InvalidVpcID.NotFound", 400, "The vpc ID 'vpc-0000000000000000f' does not exist"
    ):
        ec2.create_subnet(VpcId="vpc-0000000000000000f", CidrBlock="10.0.3.0/24")
    found = ec2.describe_subnets(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc]},
            {"Name": "availability-zone", "Values": ["us-east-1b"]},
        ]
    )["Subnets"]
    assert [s["SubnetId"] for s in found] == [subnet["SubnetId"]]
    with aws_error(
        "DependencyViolation", 400, f"The vpc '{vpc}' has dependencies and cannot be deleted."
    ):
        ec2.delete_vpc(VpcId=vpc)
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_subnet(SubnetId=by_id["Subnet"]["SubnetId"])
    with aws_error("InvalidSubnetID.NotFound", 400):
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=vpc)


def test_security_group_rules(ec2: Any, vpc: str) -> None:
    made = ec2.create_security_group(GroupName="nfs", Description="mount targets", VpcId=vpc)
    group_id = made["GroupId"]
    assert made["SecurityGroupArn"].endswith(f":security-group/{group_id}")
    client = ec2.create_security_group(GroupName="fn", Description="functions", VpcId=vpc)
    nfs = {
        "IpProtocol": "tcp",
        "FromPort": 2049,
        "ToPort": 2049,
        "UserIdGroupPairs": [{"GroupId": client["GroupId"]}],
        "IpRanges": [{"CidrIp": "10.0.5.0/24", "Description": "ops"}],
    }
    answer = ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[nfs])
    assert answer["Return"] is True
    assert len(answer["SecurityGroupRules"]) == 2
    with aws_error(
        "InvalidPermission.Duplicate",
        400,
        'the specified rule "peer: 10.0.5.0/24, TCP, from port: 2049, to port: 2049, ALLOW" '
        "already exists",
    ):
        ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                {**nfs, "UserIdGroupPairs": [], "IpRanges": [{"CidrIp": "10.0.5.0/24"}]}
            ],
        )
    [group] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert group["IpPermissions"] == [
        {
            "IpProtocol": "tcp",
            "FromPort": 2049,
            "ToPort": 2049,
            "IpRanges": [{"CidrIp": "10.0.5.0/24", "Description": "ops"}],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
            "UserIdGroupPairs": [{"GroupId": client["GroupId"], "UserId": ACCOUNT}],
        }
    ]
    assert group["IpPermissionsEgress"][0]["IpProtocol"] == "-1"
    with aws_error(
        "DependencyViolation", 400, f"resource {client['GroupId']} has a dependent object"
    ):
        ec2.delete_security_group(GroupId=client["GroupId"])
    ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[nfs])
    with aws_error("InvalidPermission.NotFound", 400):
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[nfs])
    ec2.revoke_security_group_egress(
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    ec2.authorize_security_group_egress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    filtered = ec2.describe_security_groups(
        Filters=[{"Name": "egress.ip-permission.from-port", "Values": ["443"]}]
    )["SecurityGroups"]
    assert [g["GroupId"] for g in filtered] == [group_id]
    with aws_error(
        "InvalidGroup.Duplicate", 400, f"The security group 'nfs' already exists for VPC '{vpc}'"
    ):
        ec2.create_security_group(GroupName="nfs", Description="again", VpcId=vpc)
    with aws_error(
        "InvalidGroup.NotFound", 400, "The security group 'sg-0000000000000000f' does not exist"
    ):
        ec2.describe_security_groups(GroupIds=["sg-0000000000000000f"])
    ec2.delete_security_group(GroupId=group_id)
    with aws_error("VPCIdNotSpecified", 400):
        ec2.delete_security_group(GroupName="fn")
    ec2.delete_security_group(GroupId=client["GroupId"])
    ec2.delete_vpc(VpcId=vpc)


def test_routes(ec2: Any, vpc: str) -> None:
    [table] = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    table_id = table["RouteTableId"]
    assert ec2.create_route(
        RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId="igw-0123456789abcdef0"
    )["Return"]
    with aws_error("RouteAlreadyExists", 400, "The route identified by 0.0.0.0/0 already exists."):
        ec2.create_route(
            RouteTableId=table_id,
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId="igw-0123456789abcdef0",
        )
    routes = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]["Routes"]
    assert routes[1] == {
        "DestinationCidrBlock": "0.0.0.0/0",
        "GatewayId": "igw-0123456789abcdef0",
        "Origin": "CreateRoute",
        "State": "active",
    }
    with aws_error("InvalidParameterValue", 400):
        ec2.delete_route(RouteTableId=table_id, DestinationCidrBlock="10.0.0.0/16")
    ec2.delete_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0")
    with aws_error(
        "InvalidRoute.NotFound",
        400,
        f"no route with destination-cidr-block 0.0.0.0/0 in route table {table_id}",
    ):
        ec2.delete_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0")
    ec2.delete_vpc(VpcId=vpc)


def test_availability_zones(ec2: Any) -> None:
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [(z["ZoneName"], z["ZoneId"]) for z in zones][:2] == [
        ("us-east-1a", "use1-az1"),
        ("us-east-1b", "use1-az2"),
    ]
    assert {z["State"] for z in zones} == {"available"}
    picked = ec2.describe_availability_zones(Filters=[{"Name": "zone-id", "Values": ["use1-az4"]}])
    assert [z["ZoneName"] for z in picked["AvailabilityZones"]] == ["us-east-1d"]


def test_tags_filters_and_pages(ec2: Any) -> None:
    made = [ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"] for n in range(20, 27)]
    ec2.create_tags(Resources=made[:3], Tags=[{"Key": "team", "Value": "storage"}])
    tagged = ec2.describe_vpcs(Filters=[{"Name": "tag:team", "Values": ["stor*"]}])["Vpcs"]
    assert sorted(v["VpcId"] for v in tagged) == sorted(made[:3])
    described = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [made[0]]}])["Tags"]
    assert described == [
        {"Key": "team", "ResourceId": made[0], "ResourceType": "vpc", "Value": "storage"}
    ]
    ec2.delete_tags(Resources=[made[0]], Tags=[{"Key": "team"}])
    assert "Tags" not in ec2.describe_vpcs(VpcIds=[made[0]])["Vpcs"][0]
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        answer = ec2.describe_vpcs(MaxResults=5, **token)
        seen += [v["VpcId"] for v in answer["Vpcs"]]
        if "NextToken" not in answer:
            break
        token = {"NextToken": answer["NextToken"]}
    assert set(made) <= set(seen)
    assert len(seen) == len(set(seen))
    with aws_error("InvalidParameterValue", 400, "The filter 'colour' is invalid"):
        ec2.describe_vpcs(Filters=[{"Name": "colour", "Values": ["blue"]}])
    for vpc_id in made:
        ec2.delete_vpc(VpcId=vpc_id)


def test_raw_requests_and_their_errors(server: GureumProcess) -> None:
    # boto3 refuses a missing required member itself; EC2's own answer, in EC2's error shape.
    body = b"Action=CreateSecurityGroup&Version=2016-11-15&GroupName=x"
    reply = send(server.url, "POST", "/", body, headers=FORM, service="ec2")
    assert reply.status == 400
    error = fromstring(reply.body)
    assert error.tag == "Response"
    assert error.findtext("Errors/Error/Code") == "MissingParameter"
    assert error.findtext("Errors/Error/Message") == (
        "The request must contain the parameter GroupDescription"
    )
    assert error.findtext("RequestID") == reply.headers["x-amzn-requestid"]
    answer = send(
        server.url,
        "POST",
        "/",
        b"Action=DescribeAvailabilityZones&Version=2016-11-15&ZoneName.1=us-east-1a",
        headers=FORM,
        service="ec2",
    )
    root = fromstring(answer.body)
    assert root.tag == f"{XMLNS}DescribeAvailabilityZonesResponse"
    assert root.findtext(f"{XMLNS}requestId")
    zone = root.find(f"{XMLNS}availabilityZoneInfo/{XMLNS}item")
    assert zone is not None
    assert zone.findtext(f"{XMLNS}zoneId") == "use1-az1"


def test_tag_specifications_name_what_the_operation_makes(ec2: Any) -> None:
    for kind in ("subnet", "no-such-type"):
        with aws_error(
            "InvalidParameterValue",
            400,
            f"'{kind}' is not a valid taggable resource type for this operation.",
        ):
            ec2.create_vpc(
                CidrBlock="10.0.0.0/16",
                TagSpecifications=[{"ResourceType": kind, "Tags": [{"Key": "k", "Value": "v"}]}],
            )


def test_dry_run(ec2: Any) -> None:
    with aws_error("DryRunOperation", 412, "Request would have succeeded, but DryRun flag is set."):
        ec2.create_vpc(CidrBlock="10.0.0.0/16", DryRun=True)


def test_the_network_survives_a_restart(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data", *NO_SANDBOX).start()
    try:
        client = process.client("ec2")
        vpc_id = client.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        subnet_id = client.create_subnet(VpcId=vpc_id, CidrBlock="10.9.0.0/24")["Subnet"][
            "SubnetId"
        ]
        group_id = client.create_security_group(GroupName="g", Description="d", VpcId=vpc_id)[
            "GroupId"
        ]
    finally:
        process.stop()
    process.start()
    try:
        client = process.client("ec2")
        assert client.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["VpcId"] == vpc_id
        [group] = client.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        assert group["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
        assert len(client.describe_route_tables()["RouteTables"]) == 1
    finally:
        process.stop()


# --- the AWS CLI ---------------------------------------------------------------------------------


def aws_cli(server: GureumProcess, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`aws --endpoint-url <gureum> ec2 ...`, isolated from the host's configuration."""
    return run_aws(server, home, "ec2", *args, region="eu-central-1")


def test_the_aws_cli(server: GureumProcess, tmp_path: Path) -> None:
    made = aws_cli(server, tmp_path, "create-vpc", "--cidr-block", "172.16.0.0/16")
    assert made.returncode == 0, made.stderr
    vpc_id = json.loads(made.stdout)["Vpc"]["VpcId"]
    subnet = aws_cli(
        server,
        tmp_path,
        "create-subnet",
        "--vpc-id",
        vpc_id,
        "--cidr-block",
        "172.16.4.0/22",
        "--availability-zone-id",
        "euc1-az2",
    )
    assert subnet.returncode == 0, subnet.stderr
    assert json.loads(subnet.stdout)["Subnet"]["AvailabilityZone"] == "eu-central-1b"
    group = aws_cli(
        server,
        tmp_path,
        "create-security-group",
        "--group-name",
        "efs",
        "--description",
        "NFS",
        "--vpc-id",
        vpc_id,
    )
    assert group.returncode == 0, group.stderr
    group_id = json.loads(group.stdout)["GroupId"]
    opened = aws_cli(
        server,
        tmp_path,
        "authorize-security-group-ingress",
        "--group-id",
        group_id,
        "--protocol",
        "tcp",
        "--port",
        "2049",
        "--cidr",
        "172.16.0.0/16",
    )
    assert opened.returncode == 0, opened.stderr
    listed = aws_cli(server, tmp_path, "describe-security-groups", "--group-ids", group_id)
    permissions = json.loads(listed.stdout)["SecurityGroups"][0]["IpPermissions"]
    assert [(p["FromPort"], p["IpRanges"]) for p in permissions] == [
        (2049, [{"CidrIp": "172.16.0.0/16"}])
    ]
    refused = aws_cli(server, tmp_path, "delete-vpc", "--vpc-id", vpc_id)
    assert refused.returncode != 0
    assert "DependencyViolation" in refused.stderr
    missing = aws_cli(
        server, tmp_path, "describe-subnets", "--subnet-ids", "subnet-00000000000000000"
    )
    assert "InvalidSubnetID.NotFound" in missing.stderr
