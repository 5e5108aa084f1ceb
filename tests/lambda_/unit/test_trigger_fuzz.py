"""Hostile input to the pure cores of event source mappings and function URLs: any pattern is
parsed or refused with AWS's error, any event is matched without raising, any function answer
maps to an HTTP response, any URL request becomes an event."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.event_filters import parse_pattern
from gureum.lambda_.domain.event_sources import handles_to_delete
from gureum.lambda_.domain.function_urls import (
    FunctionUrlConfig,
    UrlRequest,
    function_response,
    request_event,
    url_id_of,
)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -(10**400)])  # JSON integers no double holds
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["a", "b", "prefix", "numeric", "exists", "$or", "anything-but"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)
CONFIG = FunctionUrlConfig(
    "id", "0", "r", "f", "$LATEST", "arn", "fid", "NONE", None, "BUFFERED", "t", "t"
)


@settings(max_examples=300, deadline=None)
@given(JSON, JSON)
def test_patterns_parse_or_are_refused_and_never_crash_matching(pattern: Any, event: Any) -> None:
    refused: str | None = None
    try:
        parsed = parse_pattern(json.dumps(pattern))
    except InvalidParameterValue as error:
        refused = error.message
    else:
        if isinstance(event, dict):
            assert parsed.matches(event) in (True, False)
    assert refused in (None, "Invalid filter pattern definition.")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()), st.booleans())
def test_any_answer_maps_to_a_response_and_a_delete_list(payload: bytes, report: bool) -> None:
    response = function_response(payload)
    assert 100 <= response.status <= 599
    records = [{"messageId": "a", "receiptHandle": "h"}]
    assert handles_to_delete(records, payload, False, report) in ([], ["h"])


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=40),
    st.text(max_size=40),
    st.lists(st.tuples(st.text(max_size=10), st.text(max_size=10)), max_size=5),
    st.binary(max_size=50),
)
def test_any_request_becomes_an_event(
    path: str, query: str, headers: list[tuple[str, str]], body: bytes
) -> None:
    url_id_of(path, "host")
    event = request_event(
        CONFIG, UrlRequest("GET", path, query, headers, body, "ip", "rid", 0, "host")
    )
    json.dumps(event)  # always serialisable as the function's payload
