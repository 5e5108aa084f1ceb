"""The rpc-v2-cbor and query codecs against botocore's own serializers and parsers, over
CloudWatch's model: a request botocore writes reads back as the parameters it was given, and a
result the codec renders reads back, through botocore's parser, as that result."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import botocore.session
import cbor2
import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import QueryParser, RpcV2CBORParser
from botocore.serialize import QuerySerializer, RpcV2CBORSerializer

from gureum.aws.documents import UnreadableDocument
from gureum.aws.errors import AwsError
from gureum.aws.protocols.cbor import CborProtocol, parse_cbor
from gureum.aws.protocols.choice import ProtocolChoice
from gureum.aws.protocols.query import QueryProtocol
from gureum.aws.sigv4 import HttpRequest

MODEL = botocore.session.get_session().get_service_model("cloudwatch")
WHEN = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
PUT = {
    "Namespace": "Shop",
    "MetricData": [
        {
            "MetricName": "Latency",
            "Dimensions": [{"Name": "Route", "Value": "/cart"}],
            "Timestamp": WHEN,
            "Values": [1.5, 2.0],
            "Counts": [3.0, 1.0],
            "Unit": "Milliseconds",
            "StorageResolution": 60,
        },
        {"MetricName": "Orders", "Value": 7.0},
    ],
}
STATISTICS = {
    "Label": "Latency",
    "Datapoints": [
        {
            "Timestamp": WHEN,
            "SampleCount": 4.0,
            "Average": 1.625,
            "Unit": "Milliseconds",
            "ExtendedStatistics": {"p99": 2.0},
        }
    ],
}
DATA = {
    "MetricDataResults": [
        {
            "Id": "m1",
            "Label": "Latency",
            "Timestamps": [WHEN],
            "Values": [0.25],
            "StatusCode": "PartialData",
            "Messages": [],
        }
    ],
    "NextToken": "MTA=",
    "Messages": [],
}


def _request(serialized: dict[str, Any], body: bytes) -> HttpRequest:
    headers = list(serialized["headers"].items())
    return HttpRequest(serialized["method"], serialized["url_path"], "", headers, body)


def _cbor_request(operation: str, params: dict[str, Any]) -> HttpRequest:
    serialized = RpcV2CBORSerializer().serialize_to_request(
        params, MODEL.operation_model(operation)
    )
    return _request(serialized, serialized["body"])


def _query_request(operation: str, params: dict[str, Any]) -> HttpRequest:
    serialized = QuerySerializer().serialize_to_request(params, MODEL.operation_model(operation))
    return _request(serialized, urlencode(serialized["body"]).encode())


def _as_botocore_reads(parser: Any, operation: str, body: bytes, status: int = 200) -> Any:
    headers = HeadersDict({"x-amzn-RequestId": "rid"})
    shape = MODEL.operation_model(operation).output_shape
    return parser.parse({"status_code": status, "headers": headers, "body": body}, shape)


def _without_metadata(parsed: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in parsed.items() if k != "ResponseMetadata"}


@pytest.mark.parametrize(
    ("codec", "build"),
    [
        pytest.param(CborProtocol(MODEL), _cbor_request, id="rpc-v2-cbor"),
        pytest.param(QueryProtocol(MODEL), _query_request, id="query"),
    ],
)
def test_a_request_botocore_writes_reads_back_as_its_parameters(codec: Any, build: Any) -> None:
    request = build("PutMetricData", PUT)
    routed = codec.route(request)
    assert routed.operation.name == "PutMetricData"
    assert codec.parse(routed, request) == PUT


@pytest.mark.parametrize(
    ("codec", "parser"),
    [
        pytest.param(CborProtocol(MODEL), RpcV2CBORParser(), id="rpc-v2-cbor"),
        pytest.param(QueryProtocol(MODEL), QueryParser(), id="query"),
    ],
)
@pytest.mark.parametrize(
    ("operation", "result"),
    [("GetMetricStatistics", STATISTICS), ("GetMetricData", DATA)],
)
def test_a_rendered_result_reads_back_through_botocore(
    codec: Any, parser: Any, operation: str, result: dict[str, Any]
) -> None:
    response = codec.render(MODEL.operation_model(operation), result, "rid")
    parsed = _as_botocore_reads(parser, operation, response.body)
    assert _without_metadata(parsed) == result
    assert parsed["ResponseMetadata"]["RequestId"] == "rid"


def test_query_answers_carry_the_request_id_and_namespace() -> None:
    response = QueryProtocol(MODEL).render(MODEL.operation_model("ListMetrics"), {}, "rid-1")
    assert b'<ListMetricsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">' in (
        response.body
    )
    assert b"<RequestId>rid-1</RequestId>" in response.body


def test_cbor_timestamps_are_tag_1_epoch_seconds() -> None:
    response = CborProtocol(MODEL).render(
        MODEL.operation_model("GetMetricData"),
        {"MetricDataResults": [DATA["MetricDataResults"][0]]},
    )
    # Tag 1 (0xc1) over the integer seconds, as botocore's own serializer writes one.
    assert cbor2.dumps(cbor2.CBORTag(1, int(WHEN.timestamp()))) in response.body
    assert cbor2.loads(response.body)["MetricDataResults"][0]["Timestamps"] == [WHEN]
    assert ("smithy-protocol", "rpc-v2-cbor") in response.headers


@pytest.mark.parametrize(
    ("shape", "value", "expected"),
    [
        ("Timestamp", 1_700_000_000, datetime.fromtimestamp(1_700_000_000, UTC)),
        ("Timestamp", cbor2.CBORTag(1, 1.5), datetime.fromtimestamp(1.5, UTC)),
        ("DatapointValue", 3, 3.0),
        ("DatapointValue", math.inf, math.inf),
    ],
)
def test_cbor_scalars(shape: str, value: object, expected: object) -> None:
    assert parse_cbor(MODEL.shape_for(shape), value) == expected


@pytest.mark.parametrize(
    ("shape", "value"),
    [("Timestamp", "2026-01-01"), ("Namespace", 5), ("Dimensions", {"a": 1})],
)
def test_cbor_values_of_the_wrong_type_are_unreadable(shape: str, value: object) -> None:
    with pytest.raises(UnreadableDocument):
        parse_cbor(MODEL.shape_for(shape), value)


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"\xff\x00", "SerializationException"), (cbor2.dumps([1, 2]), "SerializationException")],
)
def test_an_unreadable_cbor_body_is_a_serialization_error(body: bytes, code: str) -> None:
    codec = CborProtocol(MODEL)
    request = _cbor_request("ListMetrics", {})
    broken = HttpRequest(request.method, request.raw_path, "", request.headers, body)
    with pytest.raises(AwsError) as raised:
        codec.parse(codec.route(broken), broken)
    assert raised.value.code == code


def test_a_query_member_of_the_wrong_type_is_malformed() -> None:
    codec = QueryProtocol(MODEL)
    alarms = _query_request("DescribeAlarms", {"MaxRecords": 5})
    bad = alarms.body.replace(b"MaxRecords=5", b"MaxRecords=five")
    request = HttpRequest("POST", "/", "", alarms.headers, bad)
    with pytest.raises(AwsError) as raised:
        codec.parse(codec.route(request), request)
    assert raised.value.code == "MalformedQueryString"


def test_query_empty_lists_and_maps() -> None:
    request = _query_request("DescribeAlarms", {"AlarmNames": []})
    codec = QueryProtocol(MODEL)
    assert codec.parse(codec.route(request), request) == {"AlarmNames": []}


@pytest.mark.parametrize(
    ("build", "protocol"),
    [(_cbor_request, CborProtocol), (_query_request, QueryProtocol)],
)
def test_the_choice_follows_the_request(build: Any, protocol: type) -> None:
    codecs = {"smithy-rpc-v2-cbor": CborProtocol(MODEL), "query": QueryProtocol(MODEL)}
    choice = ProtocolChoice(MODEL, codecs, "query")
    assert isinstance(choice(build("ListMetrics", {})), protocol)
