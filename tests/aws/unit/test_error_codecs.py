"""Each protocol's error codec over botocore's real models, read back by botocore's own parser for
that protocol: what boto3 shows as the ClientError's code, message and request id."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import fromstring

import botocore.session
import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import (
    EC2QueryParser,
    JSONParser,
    QueryParser,
    ResponseParser,
    RestJSONParser,
    RestXMLParser,
    RpcV2CBORParser,
)

from gureum.aws.errors import AwsError, ClientError, UnservedService
from gureum.aws.http import HttpResponse, header
from gureum.aws.protocols.cbor import CborErrors, encode_map
from gureum.aws.protocols.dialects import Dialect, ErrorCodec
from gureum.aws.protocols.json import JsonErrors
from gureum.aws.protocols.restjson import RestJsonErrors
from gureum.aws.protocols.xml import Ec2Errors, QueryErrors, RestXmlErrors, query_action
from gureum.aws.sigv4 import HttpRequest

SESSION = botocore.session.get_session()
REQUEST_ID = "c6104cbe-af31-11e0-8154-cbc7ccf896c7"
MESSAGE = "gureum does not serve the ec2 service (operation DescribeVpcs) yet."


def model(name: str) -> Any:
    return SESSION.get_service_model(name)


def as_boto3_sees_it(response: HttpResponse, parser: ResponseParser) -> dict[str, Any]:
    """The error exactly as botocore parses it for a ClientError."""
    headers = HeadersDict()
    for name, value in response.headers:
        headers[name] = value
    # The front door adds this to every response; the codecs leave it to it.
    headers["x-amzn-RequestId"] = REQUEST_ID
    raw = {"status_code": response.status, "headers": headers, "body": response.body}
    parsed: dict[str, Any] = parser.parse(raw, None)
    return parsed


CODECS = [
    pytest.param(QueryErrors(model("iam")), QueryParser(), id="query-iam"),
    pytest.param(QueryErrors(model("sts")), QueryParser(), id="query-sts"),
    pytest.param(Ec2Errors(model("ec2")), EC2QueryParser(), id="ec2"),
    pytest.param(RestXmlErrors(model("s3")), RestXMLParser(), id="rest-xml-s3"),
    pytest.param(RestXmlErrors(model("route53")), RestXMLParser(), id="rest-xml-route53"),
    pytest.param(JsonErrors(model("dynamodb")), JSONParser(), id="json-dynamodb"),
    pytest.param(JsonErrors(model("cloudwatch")), JSONParser(), id="json-cloudwatch"),
    pytest.param(JsonErrors(None), JSONParser(), id="json-no-model"),
    pytest.param(JsonErrors(None), RestJSONParser(), id="json-no-model-read-as-rest-json"),
    pytest.param(RestJsonErrors(model("sesv2")), RestJSONParser(), id="rest-json-sesv2"),
    pytest.param(CborErrors(model("eventbridgev2")), RpcV2CBORParser(), id="rpc-v2-cbor"),
]


@pytest.mark.parametrize(("codec", "parser"), CODECS)
def test_botocore_reads_code_message_and_request_id(
    codec: ErrorCodec, parser: ResponseParser
) -> None:
    response = codec.render_error(UnservedService(MESSAGE), REQUEST_ID)
    assert response.status == 501
    seen = as_boto3_sees_it(response, parser)
    assert seen["Error"]["Code"] == "NotImplemented"
    assert seen["Error"]["Message"] == MESSAGE
    assert seen["ResponseMetadata"]["RequestId"] == REQUEST_ID


@pytest.mark.parametrize(("codec", "parser"), CODECS)
def test_markup_in_a_message_is_text(codec: ErrorCodec, parser: ResponseParser) -> None:
    message = "<Code>x</Code> & ]]> \"quoted\" 'é'"
    seen = as_boto3_sees_it(codec.render_error(ClientError(message), REQUEST_ID), parser)
    assert seen["Error"] == {**seen["Error"], "Code": "InvalidRequest", "Message": message}


def test_query_is_amazons_error_response() -> None:
    response = QueryErrors(model("iam")).render_error(UnservedService(MESSAGE), REQUEST_ID)
    assert header(response.headers, "Content-Type") == "text/xml"
    root = fromstring(response.body)
    namespace = "{https://iam.amazonaws.com/doc/2010-05-08/}"
    assert root.tag == f"{namespace}ErrorResponse"
    error = root.find(f"{namespace}Error")
    assert error is not None
    fields = [(child.tag.removeprefix(namespace), child.text) for child in error]
    assert fields == [("Type", "Receiver"), ("Code", "NotImplemented"), ("Message", MESSAGE)]
    assert root.findtext(f"{namespace}RequestId") == REQUEST_ID


def test_ec2_lists_its_error_and_spells_request_id_its_way() -> None:
    response = Ec2Errors(model("ec2")).render_error(UnservedService(MESSAGE), REQUEST_ID)
    root = fromstring(response.body)
    assert root.tag == "Response"
    (error,) = root.findall("Errors/Error")
    assert [(child.tag, child.text) for child in error] == [
        ("Code", "NotImplemented"),
        ("Message", MESSAGE),
    ]
    assert root.findtext("RequestID") == REQUEST_ID


def test_s3_error_is_bare_and_carries_its_request_id_header() -> None:
    response = RestXmlErrors(model("s3")).render_error(UnservedService(MESSAGE), REQUEST_ID)
    root = fromstring(response.body)
    assert [(child.tag, child.text) for child in root] == [
        ("Code", "NotImplemented"),
        ("Message", MESSAGE),
        ("RequestId", REQUEST_ID),
    ]
    assert header(response.headers, "x-amz-request-id") == REQUEST_ID


class NoSuchEntity(ClientError):
    """IAM's NoSuchEntityException, as a served IAM would define it."""

    code = "NoSuchEntityException"


def test_query_sends_the_code_and_status_the_model_gives_an_error() -> None:
    # IAM's model: the shape NoSuchEntityException is sent as `NoSuchEntity`, with 404.
    error = NoSuchEntity("The role with name x cannot be found.")
    response = QueryErrors(model("iam")).render_error(error, REQUEST_ID)
    assert response.status == 404
    seen = as_boto3_sees_it(response, QueryParser())
    assert seen["Error"] == {
        "Type": "Sender",
        "Code": "NoSuchEntity",
        "Message": "The role with name x cannot be found.",
    }


def test_xml_errors_carry_their_extra_members() -> None:
    error = AwsError("Rate exceeded", Reason="CallerRateLimitExceeded", Gone=None)
    seen = as_boto3_sees_it(Ec2Errors(model("ec2")).render_error(error), EC2QueryParser())
    assert seen["Error"] == {
        "Code": "ServiceException",
        "Message": "Rate exceeded",
        "Reason": "CallerRateLimitExceeded",
    }


@pytest.mark.parametrize(
    "document",
    [
        {"__type": "NotImplemented", "message": "é" * 23},
        {"message": "m" * 24, "count": 0, "big": 1 << 40, "below": -25, "flag": True},
        {"long": "x" * 70_000, "off": False},
    ],
    ids=["short", "lengths-and-integers", "long"],
)
def test_cbor_maps_decode_as_botocore_reads_them(document: dict[str, object]) -> None:
    parser = RpcV2CBORParser()
    stream = parser.get_peekable_stream_from_bytes(encode_map(document))
    assert parser.parse_data_item(stream) == document


# --- which protocol, which operation ----------------------------------------------------------

FORM = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]


def request(
    method: str = "POST",
    path: str = "/",
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> HttpRequest:
    return HttpRequest(method, path, query, headers or [], body)


@pytest.mark.parametrize(
    ("req", "action"),
    [
        (request(headers=FORM, body=b"Action=ListRoles&Version=2010-05-08"), "ListRoles"),
        (request("GET", query="Version=2016-11-15&Action=DescribeVpcs"), "DescribeVpcs"),
        # A form body is only read as one when it says it is.
        (request(body=b"Action=ListRoles"), None),
        (request(headers=FORM, body=b"Version=2010-05-08"), None),
    ],
)
def test_query_action(req: HttpRequest, action: str | None) -> None:
    assert query_action(req) == action


CLOUDWATCH = Dialect(model("cloudwatch"))


def test_a_service_with_several_protocols_is_answered_in_the_one_spoken() -> None:
    target = request(
        headers=[("X-Amz-Target", "GraniteServiceVersion20100801.ListMetrics")], body=b"{}"
    )
    assert CLOUDWATCH.protocol_of(target) == "json"
    assert CLOUDWATCH.operation_of(target, "json") == "ListMetrics"
    form = request(headers=FORM, body=b"Action=ListMetrics&Version=2010-08-01")
    assert CLOUDWATCH.protocol_of(form) == "query"
    assert CLOUDWATCH.operation_of(form, "query") == "ListMetrics"
    assert isinstance(CLOUDWATCH.errors("query"), QueryErrors)
    cbor = request(
        path="/service/GraniteServiceVersion20100801/operation/ListMetrics",
        headers=[("smithy-protocol", "rpc-v2-cbor")],
    )
    assert CLOUDWATCH.protocol_of(cbor) == "smithy-rpc-v2-cbor"
    assert CLOUDWATCH.operation_of(cbor, "smithy-rpc-v2-cbor") == "ListMetrics"
    assert isinstance(CLOUDWATCH.errors("smithy-rpc-v2-cbor"), CborErrors)
    # Nothing to tell: the protocol botocore itself would speak.
    assert CLOUDWATCH.protocol_of(request()) == "json"


@pytest.mark.parametrize(
    ("service", "req", "operation"),
    [
        ("s3", request("GET", "/"), "ListBuckets"),
        ("s3", request("GET", "/bucket", "list-type=2"), "ListObjectsV2"),
        ("s3", request("PUT", "/bucket/a/key.txt"), "PutObject"),
        ("sesv2", request("POST", "/v2/email/list-identities"), "ListEmailIdentities"),
        ("s3", request("PUT", "/b/k", headers=[("x-amz-copy-source", "a/k")]), "CopyObject"),
        (
            "dynamodb",
            request(headers=[("X-Amz-Target", "DynamoDB_20120810.ListTables")]),
            "ListTables",
        ),
        ("dynamodb", request(headers=[("X-Amz-Target", "DynamoDB_20120810.Nope")]), None),
        ("ec2", request(headers=FORM, body=b"Action=NoSuchAction"), None),
        (
            "eventbridgev2",
            request(
                path="/service/AWSEventsV2/operation/ListEventBuses",
                headers=[("smithy-protocol", "rpc-v2-cbor")],
            ),
            "ListEventBuses",
        ),
        ("eventbridgev2", request(path="/service/Other/operation/ListEventBuses"), None),
    ],
)
def test_operation_named_by_a_request(
    service: str, req: HttpRequest, operation: str | None
) -> None:
    dialect = Dialect(model(service))
    protocol = dialect.protocol_of(req)
    assert dialect.operation_of(req, protocol) == operation
