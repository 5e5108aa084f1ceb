"""Property tests of the rpc-v2-cbor and query codecs over every shape CloudWatch's operations
use: any input botocore can serialize reads back as itself, and any output the codecs render
reads back, through botocore's own parser, as itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.awsrequest import HeadersDict
from botocore.model import Shape
from botocore.parsers import QueryParser, RpcV2CBORParser
from botocore.serialize import QuerySerializer, RpcV2CBORSerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gureum.aws.protocols.cbor import CborProtocol
from gureum.aws.protocols.query import QueryProtocol
from gureum.aws.sigv4 import HttpRequest

MODEL = botocore.session.get_session().get_service_model("cloudwatch")
OPERATIONS = ["PutMetricData", "GetMetricData", "PutMetricAlarm", "ListMetrics"]
OUTPUTS = ["GetMetricData", "GetMetricStatistics", "DescribeAlarms", "ListMetrics"]
_BITS = {"integer": 31, "long": 63}
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)


def _expressible(shape: Shape, depth: int) -> bool:
    """Whether the query protocol can say a value of `shape` was given: it has no words for an
    empty structure or map (botocore writes nothing for them)."""
    if shape.type_name != "structure":
        return depth < 4 or shape.type_name not in ("list", "map")
    return depth < 4 and any(_expressible(m, depth + 1) for m in shape.members.values())


def values(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values botocore accepts for `shape` that every protocol can express."""
    kind = shape.type_name
    if kind == "structure":
        members = {
            name: values(member, depth + 1)
            for name, member in sorted(shape.members.items())
            if _expressible(member, depth + 1)
        }
        if shape.is_tagged_union:  # exactly one member set
            return st.one_of([st.fixed_dictionaries({n: v}) for n, v in members.items()])
        return st.fixed_dictionaries({}, optional=members).filter(bool)
    if kind == "list":
        return st.lists(values(shape.member, depth + 1), max_size=3)
    if kind == "map":
        return st.dictionaries(_TEXT, values(shape.value, depth + 1), min_size=1, max_size=3)
    if kind in _BITS:
        bound = 1 << _BITS[kind]
        return st.integers(-bound, bound - 1)
    if kind in ("double", "float"):
        return st.floats(allow_nan=False, width=64)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        seconds = st.integers(0, 4_000_000_000)
        return seconds.map(lambda s: datetime.fromtimestamp(s, UTC))
    if kind == "blob":
        return st.binary(max_size=8)
    if "enum" in shape.metadata:
        return st.sampled_from(shape.metadata["enum"])
    return _TEXT


def _request(serialized: dict[str, Any], body: bytes) -> HttpRequest:
    headers = list(serialized["headers"].items())
    return HttpRequest(serialized["method"], serialized["url_path"], "", headers, body)


PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("operation", OPERATIONS)
@PROPERTY
@given(data=st.data())
def test_any_cbor_request_reads_back(operation: str, data: st.DataObject) -> None:
    model = MODEL.operation_model(operation)
    params = data.draw(values(model.input_shape))
    serialized = RpcV2CBORSerializer().serialize_to_request(params, model)
    codec = CborProtocol(MODEL)
    request = _request(serialized, serialized["body"])
    assert codec.parse(codec.route(request), request) == params


@pytest.mark.parametrize("operation", OPERATIONS)
@PROPERTY
@given(data=st.data())
def test_any_query_request_reads_back(operation: str, data: st.DataObject) -> None:
    model = MODEL.operation_model(operation)
    params = data.draw(values(model.input_shape))
    serialized = QuerySerializer().serialize_to_request(params, model)
    codec = QueryProtocol(MODEL)
    request = _request(serialized, urlencode(serialized["body"]).encode())
    assert codec.parse(codec.route(request), request) == params


def _parsed(parser: Any, operation: str, body: bytes) -> dict[str, Any]:
    shape = MODEL.operation_model(operation).output_shape
    raw = {"status_code": 200, "headers": HeadersDict(), "body": body}
    parsed: dict[str, Any] = parser.parse(raw, shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


@pytest.mark.parametrize("operation", OUTPUTS)
@pytest.mark.parametrize(
    ("codec", "parser"),
    [(CborProtocol(MODEL), RpcV2CBORParser()), (QueryProtocol(MODEL), QueryParser())],
    ids=["rpc-v2-cbor", "query"],
)
@PROPERTY
@given(data=st.data())
def test_any_rendered_output_reads_back(
    operation: str, codec: Any, parser: Any, data: st.DataObject
) -> None:
    model = MODEL.operation_model(operation)
    result = data.draw(values(model.output_shape))
    response = codec.render(model, result, "rid")
    assert _parsed(parser, operation, response.body) == result
