"""Hostile forms for the ec2 codec, and for EC2's handlers behind it: whatever arrives, a request
parses or is refused as the caller's fault (an AwsError, or one of the errors the front door
turns into the protocol's 400), and a request that parses is answered or refused with an AwsError,
never anything that would become a 500."""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import botocore.session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gureum.aws.errors import AwsError
from gureum.aws.frontend import CallContext
from gureum.aws.protocols.ec2 import Ec2Protocol
from gureum.aws.sigv4 import HttpRequest
from gureum.aws.sql import SqliteBackend
from gureum.ec2.api.handlers import Ec2Api
from gureum.ec2.services.network import NetworkService
from gureum.ec2.services.peering import PeeringService
from gureum.ec2.store.network import NetworkStore

MODEL = botocore.session.get_session().get_service_model("ec2")
CODEC = Ec2Protocol(MODEL)
OPERATIONS = [
    "CreateVpc",
    "CreateSubnet",
    "CreateSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "DescribeSecurityGroups",
    "DescribeVpcs",
    "CreateRoute",
    "DeleteTags",
    "CreateVpcPeeringConnection",
    "AcceptVpcPeeringConnection",
    "DeleteVpcPeeringConnection",
    "DescribeVpcPeeringConnections",
]
READ_FAILURES = (AwsError, ValueError, OverflowError, RecursionError)
KEYS = st.lists(
    st.sampled_from(
        [
            "CidrBlock",
            "VpcId",
            "GroupId",
            "GroupName",
            "GroupDescription",
            "IpPermissions",
            "IpProtocol",
            "FromPort",
            "ToPort",
            "IpRanges",
            "CidrIp",
            "Groups",
            "GroupId",
            "Filter",
            "Name",
            "Value",
            "MaxResults",
            "NextToken",
            "1",
            "2",
            "RouteTableId",
            "DestinationCidrBlock",
            "GatewayId",
            "ResourceId",
            "Tag",
            "Key",
            "DryRun",
            "PeerVpcId",
            "PeerOwnerId",
            "PeerRegion",
            "VpcPeeringConnectionId",
            "VpcPeeringConnectionIds",
        ]
    ),
    min_size=1,
    max_size=4,
).map(".".join)
# The ids of the VPC, its route table and its default group each example starts with.
MADE = ["vpc-00000000000000001", "rtb-00000000000000003", "sg-00000000000000005"]
VALUES = st.sampled_from(
    [
        "10.0.0.0/16",
        "10.0.1.0/24",
        "-1",
        "tcp",
        "22",
        "99999",
        "true",
        "",
        "x",
        "default",
        "111111111111",
        "pcx-00000000000000001",
        *MADE,
    ]
) | st.text(max_size=8)
_contexts = itertools.count()


def _request(operation: str, form: dict[str, str]) -> HttpRequest:
    body = urlencode({"Action": operation, "Version": "2016-11-15", **form}).encode()
    return HttpRequest(
        "POST", "/", "", [("Content-Type", "application/x-www-form-urlencoded")], body
    )


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operation=st.sampled_from(OPERATIONS), form=st.dictionaries(KEYS, VALUES, max_size=8))
def test_any_form_is_parsed_and_answered_or_refused(
    tmp_path: Path, operation: str, form: dict[str, str]
) -> None:
    store = NetworkStore(SqliteBackend(tmp_path))
    try:
        numbers = itertools.count(1)
        network = NetworkService(store, lambda kind: f"{kind}-{next(numbers):017x}")
        network.create_vpc("000000000000", "us-east-1", "10.0.0.0/16", [])
        handlers = Ec2Api(network, PeeringService(store)).handlers()
        request = _request(operation, form)
        params: dict[str, Any] | None = None
        with contextlib.suppress(*READ_FAILURES):
            params = CODEC.parse(CODEC.route(request), request)
        if params is None:
            return
        context = CallContext("000000000000", "us-east-1", f"r{next(_contexts)}", "")
        with contextlib.suppress(AwsError):
            result = handlers[operation](context, params)
            assert isinstance(result, dict)
    finally:
        store.close()


PERMISSIONS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "IpProtocol": st.sampled_from(["tcp", "udp", "icmp", "-1", "6", "300", "x", ""]),
            "FromPort": st.integers(-2, 70000),
            "ToPort": st.integers(-2, 70000),
            "IpRanges": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "CidrIp": st.sampled_from(
                            ["0.0.0.0/0", "10.0.0.0/8", "10.0.0.1/8", "::/0", "x"]
                        ),
                        "Description": st.text(max_size=4),
                    },
                ),
                max_size=2,
            ),
            "UserIdGroupPairs": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "GroupId": st.sampled_from([*MADE, "sg-0"]),
                        "GroupName": st.sampled_from(["default", "nope"]),
                    },
                ),
                max_size=2,
            ),
        },
    ),
    max_size=3,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    operation=st.sampled_from(
        [
            "AuthorizeSecurityGroupIngress",
            "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress",
        ]
    ),
    permissions=PERMISSIONS,
)
def test_any_permissions_are_applied_or_refused(
    tmp_path: Path, operation: str, permissions: list[dict[str, Any]]
) -> None:
    store = NetworkStore(SqliteBackend(tmp_path))
    try:
        numbers = itertools.count(1)
        network = NetworkService(store, lambda kind: f"{kind}-{next(numbers):017x}")
        network.create_vpc("000000000000", "us-east-1", "10.0.0.0/16", [])
        handlers = Ec2Api(network, PeeringService(store)).handlers()
        context = CallContext("000000000000", "us-east-1", f"r{next(_contexts)}", "")
        params = {"GroupId": MADE[2], "IpPermissions": permissions}
        with contextlib.suppress(AwsError):
            result = handlers[operation](context, params)
            assert isinstance(result, dict)
            assert result["Return"] is True
    finally:
        store.close()
