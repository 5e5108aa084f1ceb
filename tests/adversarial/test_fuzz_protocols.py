"""Hostile bodies for the rpc-v2-cbor and query codecs: whatever arrives, a request parses or is
refused as the caller's fault (an AwsError, or one of the errors the front door turns into the
protocol's 400), never anything that would become a 500."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlencode

import botocore.session
import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from gureum.aws.errors import AwsError
from gureum.aws.protocols.cbor import CborProtocol
from gureum.aws.protocols.query import QueryProtocol
from gureum.aws.sigv4 import HttpRequest

MODEL = botocore.session.get_session().get_service_model("cloudwatch")
CBOR = CborProtocol(MODEL)
QUERY = QueryProtocol(MODEL)
OPERATIONS = ["PutMetricData", "GetMetricData", "PutMetricAlarm", "GetMetricStatistics"]
# What the front door maps to the protocol's 400 (Frontend._parse).
READ_FAILURES = (AwsError, ValueError, OverflowError, RecursionError)

CBOR_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=10)
    | st.binary(max_size=10)
    | st.builds(cbor2.CBORTag, st.sampled_from([0, 1, 2, 55799]), st.integers() | st.text()),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=12) | st.integers(), inner, max_size=4)
    ),
    max_leaves=16,
)
NAMES = st.sampled_from(
    [
        "Namespace",
        "MetricData",
        "MetricName",
        "Value",
        "Values",
        "Timestamp",
        "Dimensions",
        "StatisticValues",
        "MetricDataQueries",
        "StartTime",
        "Period",
        "Statistics",
    ]
)


def _cbor_request(operation: str, body: bytes) -> HttpRequest:
    path = f"/service/GraniteServiceVersion20100801/operation/{operation}"
    headers = [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")]
    return HttpRequest("POST", path, "", headers, body)


def _parses_or_refuses(codec: Any, request: HttpRequest) -> None:
    with contextlib.suppress(*READ_FAILURES):
        codec.parse(codec.route(request), request)


@settings(max_examples=150, deadline=None)
@given(operation=st.sampled_from(OPERATIONS), body=st.binary(max_size=64))
def test_any_bytes_as_cbor(operation: str, body: bytes) -> None:
    _parses_or_refuses(CBOR, _cbor_request(operation, body))


@settings(max_examples=150, deadline=None)
@given(
    operation=st.sampled_from(OPERATIONS),
    document=st.dictionaries(NAMES, CBOR_VALUES, max_size=5),
)
def test_any_cbor_document_of_model_names(operation: str, document: dict[str, Any]) -> None:
    _parses_or_refuses(CBOR, _cbor_request(operation, cbor2.dumps(document)))


FORM_KEYS = st.lists(
    st.sampled_from(
        ["MetricData", "member", "1", "2", "Value", "Values", "Dimensions", "Name", "entry", "x"]
    ),
    min_size=1,
    max_size=5,
).map(".".join)


@settings(max_examples=150, deadline=None)
@given(
    operation=st.sampled_from(OPERATIONS),
    form=st.dictionaries(FORM_KEYS | NAMES, st.text(max_size=8), max_size=8),
)
def test_any_form_as_query(operation: str, form: dict[str, str]) -> None:
    body = urlencode({"Action": operation, "Version": "2010-08-01", **form}).encode()
    headers = [("Content-Type", "application/x-www-form-urlencoded")]
    _parses_or_refuses(QUERY, HttpRequest("POST", "/", "", headers, body))
