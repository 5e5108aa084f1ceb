"""The ec2 codec against botocore's own `EC2Serializer` and `EC2QueryParser`, over EC2's model: a
request botocore writes reads back as the parameters it was given, and a result the codec renders
reads back, through botocore's parser, as that result."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import EC2QueryParser
from botocore.serialize import EC2Serializer

from gureum.aws.errors import AwsError
from gureum.aws.protocols.ec2 import Ec2Protocol
from gureum.aws.sigv4 import HttpRequest

MODEL = botocore.session.get_session().get_service_model("ec2")
CODEC = Ec2Protocol(MODEL)

REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (
        "CreateVpc",
        {
            "CidrBlock": "10.0.0.0/16",
            "DryRun": True,
            "TagSpecifications": [
                {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "main"}]}
            ],
        },
    ),
    (
        "DescribeSubnets",
        {
            "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            "Filters": [{"Name": "vpc-id", "Values": ["vpc-1", "vpc-2"]}],
            "MaxResults": 5,
        },
    ),
    (
        "AuthorizeSecurityGroupIngress",
        {
            "GroupId": "sg-0123456789abcdef0",
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 2049,
                    "ToPort": 2049,
                    "IpRanges": [{"CidrIp": "10.0.0.0/24", "Description": "nfs"}],
                    "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef1"}],
                }
            ],
        },
    ),
    ("CreateSecurityGroup", {"GroupName": "web", "Description": "web tier", "VpcId": "vpc-1"}),
    ("DescribeAvailabilityZones", {"ZoneNames": ["us-east-1a"], "AllAvailabilityZones": True}),
]


def _request(operation: str, params: dict[str, Any]) -> HttpRequest:
    serialized = EC2Serializer().serialize_to_request(params, MODEL.operation_model(operation))
    headers = list(serialized["headers"].items())
    return HttpRequest("POST", "/", "", headers, urlencode(serialized["body"]).encode())


@pytest.mark.parametrize(("operation", "params"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_a_request_botocore_writes_reads_back_as_its_parameters(
    operation: str, params: dict[str, Any]
) -> None:
    request = _request(operation, params)
    routed = CODEC.route(request)
    assert routed.operation.name == operation
    assert CODEC.parse(routed, request) == params


def test_list_members_are_numbered_without_member() -> None:
    request = _request("DescribeVpcs", {"VpcIds": ["vpc-1"], "DryRun": False})
    assert b"VpcId.1=vpc-1" in request.body
    assert b"DryRun=false" in request.body


def test_a_missing_required_member_is_missing_parameter_by_its_wire_name() -> None:
    request = _request("CreateSecurityGroup", {"GroupName": "web"})
    with pytest.raises(AwsError) as raised:
        CODEC.parse(CODEC.route(request), request)
    assert raised.value.code == "MissingParameter"
    assert raised.value.message == "The request must contain the parameter GroupDescription"


def test_a_list_item_without_members_is_an_empty_structure() -> None:
    body = b"Action=DescribeVpcs&Version=2016-11-15&Filter.1=10.0.0.0%2F16"
    request = HttpRequest(
        "POST", "/", "", [("Content-Type", "application/x-www-form-urlencoded")], body
    )
    assert CODEC.parse(CODEC.route(request), request) == {"Filters": [{}]}


def test_an_unknown_action_is_invalid_action() -> None:
    body = b"Action=LaunchRockets&Version=2016-11-15"
    headers = [("Content-Type", "application/x-www-form-urlencoded")]
    with pytest.raises(AwsError) as raised:
        CODEC.route(HttpRequest("POST", "/", "", headers, body))
    assert raised.value.code == "InvalidAction"


VPC = {
    "CidrBlock": "10.0.0.0/16",
    "State": "available",
    "VpcId": "vpc-0123456789abcdef0",
    "OwnerId": "000000000000",
    "IsDefault": False,
    "CidrBlockAssociationSet": [
        {
            "AssociationId": "vpc-cidr-assoc-0123456789abcdef0",
            "CidrBlock": "10.0.0.0/16",
            "CidrBlockState": {"State": "associated"},
        }
    ],
    "Tags": [{"Key": "Name", "Value": "main"}],
}
GROUPS = {
    "SecurityGroups": [
        {
            "GroupId": "sg-0123456789abcdef0",
            "GroupName": "web",
            "Description": "web tier",
            "VpcId": "vpc-0123456789abcdef0",
            "OwnerId": "000000000000",
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 2049,
                    "ToPort": 2049,
                    "IpRanges": [{"CidrIp": "10.0.0.0/24"}],
                    "Ipv6Ranges": [],
                    "PrefixListIds": [],
                    "UserIdGroupPairs": [
                        {"GroupId": "sg-0123456789abcdef1", "UserId": "000000000000"}
                    ],
                }
            ],
            "IpPermissionsEgress": [],
        }
    ],
    "NextToken": "abc",
}


@pytest.mark.parametrize(
    ("operation", "result"),
    [
        ("CreateVpc", {"Vpc": VPC}),
        ("DescribeVpcs", {"Vpcs": [VPC, VPC]}),
        ("DescribeSecurityGroups", GROUPS),
        ("DeleteRoute", {}),
        ("CreateRoute", {"Return": True}),
        ("DescribeTags", {"Tags": []}),
    ],
)
def test_a_rendered_result_reads_back_through_botocore(
    operation: str, result: dict[str, Any]
) -> None:
    response = CODEC.render(MODEL.operation_model(operation), result, "rid")
    shape = MODEL.operation_model(operation).output_shape
    headers = HeadersDict({})
    parsed = EC2QueryParser().parse(
        {"status_code": 200, "headers": headers, "body": response.body}, shape
    )
    assert parsed.pop("ResponseMetadata")["RequestId"] == "rid"
    assert parsed == result


def test_answers_carry_ec2s_namespace_and_request_id() -> None:
    response = CODEC.render(MODEL.operation_model("DeleteVpc"), {}, "rid-1")
    assert response.body.startswith(b"<?xml")
    assert b'<DeleteVpcResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' in response.body
    assert b"<requestId>rid-1</requestId>" in response.body


def test_errors_read_back_through_botocore() -> None:
    class Missing(AwsError):
        code = "InvalidVpcID.NotFound"
        status = 400

    response = CODEC.render_error(Missing("The vpc ID 'vpc-1' does not exist"), "rid-2")
    parsed = EC2QueryParser().parse(
        {"status_code": 400, "headers": HeadersDict({}), "body": response.body}, None
    )
    assert parsed["Error"] == {
        "Code": "InvalidVpcID.NotFound",
        "Message": "The vpc ID 'vpc-1' does not exist",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-2"
