"""The FilterCriteria matcher (EventBridge's pattern syntax), table-driven."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.event_filters import matches_any, parse_pattern, parse_patterns

EVENT: dict[str, Any] = {
    "messageId": "m-1",
    "body": {
        "kind": "order",
        "price": 12.5,
        "count": 3,
        "tags": ["red", "big"],
        "customer": {"name": "Ada", "vip": True},
        "note": None,
        "city": "Seoul",
    },
    "attributes": {"ApproximateReceiveCount": "1"},
}

MATCHES = [
    ('{"body": {"kind": ["order"]}}', True),
    ('{"body": {"kind": ["refund"]}}', False),
    ('{"body": {"kind": ["refund", "order"]}}', True),
    ('{"body": {"count": [3]}}', True),
    ('{"body": {"count": [3.0]}}', True),
    ('{"body": {"count": ["3"]}}', False),
    ('{"body": {"customer": {"vip": [true]}}}', True),
    ('{"body": {"customer": {"vip": [false]}}}', False),
    ('{"body": {"note": [null]}}', True),
    ('{"body": {"tags": ["big"]}}', True),
    ('{"body": {"tags": ["small"]}}', False),
    ('{"body": {"kind": [{"prefix": "ord"}]}}', True),
    ('{"body": {"kind": [{"prefix": "x"}]}}', False),
    ('{"body": {"kind": [{"suffix": "der"}]}}', True),
    ('{"body": {"city": [{"equals-ignore-case": "SEOUL"}]}}', True),
    ('{"body": {"kind": [{"anything-but": "refund"}]}}', True),
    ('{"body": {"kind": [{"anything-but": ["order", "x"]}]}}', False),
    ('{"body": {"kind": [{"anything-but": {"prefix": "or"}}]}}', False),
    ('{"body": {"price": [{"numeric": [">", 10, "<=", 12.5]}]}}', True),
    ('{"body": {"price": [{"numeric": ["<", 10]}]}}', False),
    ('{"body": {"price": [{"numeric": ["=", 12.5]}]}}', True),
    ('{"body": {"kind": [{"numeric": [">", 0]}]}}', False),
    ('{"body": {"kind": [{"exists": true}]}}', True),
    ('{"body": {"missing": [{"exists": false}]}}', True),
    ('{"body": {"missing": [{"exists": true}]}}', False),
    ('{"body": {"customer": [{"exists": true}]}}', False),  # an object is not a leaf
    ('{"body": {"missing": ["x"]}}', False),
    ('{"body": {"kind": ["order"], "count": [4]}}', False),  # keys are ANDed
    ('{"messageId": ["m-1"], "body": {"kind": ["order"]}}', True),
    ('{"attributes": {"ApproximateReceiveCount": ["1"]}}', True),
    ('{"$or": [{"body": {"kind": ["x"]}}, {"body": {"count": [3]}}]}', True),
    ('{"$or": [{"body": {"kind": ["x"]}}, {"body": {"count": [4]}}]}', False),
]


@pytest.mark.parametrize(("pattern", "expected"), MATCHES)
def test_pattern_matches(pattern: str, expected: bool) -> None:
    assert parse_pattern(pattern).matches(EVENT) is expected


INVALID = [
    "not json",
    "[]",
    "{}",
    '{"body": "order"}',
    '{"body": []}',
    '{"body": {}}',
    '{"body": [{"prefix": 1}]}',
    '{"body": [{"unknown": "x"}]}',
    '{"body": [{"numeric": [">", "1"]}]}',
    '{"body": [{"numeric": ["!", 1]}]}',
    '{"body": [{"exists": "yes"}]}',
    '{"body": [{"prefix": "a", "suffix": "b"}]}',
    '{"$or": [{"a": ["x"]}]}',
]


@pytest.mark.parametrize("pattern", INVALID)
def test_invalid_patterns_are_refused_with_aws_message(pattern: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        parse_pattern(pattern)
    assert caught.value.message == "Invalid filter pattern definition."


def test_filters_are_ored_and_none_means_all() -> None:
    patterns = parse_patterns(['{"body": {"kind": ["x"]}}', '{"body": {"count": [3]}}'])
    assert matches_any(patterns, EVENT)
    assert matches_any((), EVENT)
    assert not matches_any(parse_patterns(['{"body": {"kind": ["x"]}}']), EVENT)


def test_at_most_five_filters() -> None:
    with pytest.raises(InvalidParameterValue, match="exceeds the limit of 5"):
        parse_patterns([json.dumps({"body": {"n": [n]}}) for n in range(6)])


def test_numbers_past_a_double_never_crash_matching() -> None:
    huge = "1" + "0" * 400
    with pytest.raises(InvalidParameterValue):
        parse_pattern('{"n": [{"numeric": [">", ' + huge + "]}]}")
    event = json.loads('{"n": ' + huge + "}")
    assert parse_pattern('{"n": [{"numeric": [">", 0]}]}').matches(event) is False
    assert parse_pattern('{"n": [' + huge + "]}").matches(event) is True
    assert parse_pattern('{"n": [1.5]}').matches(event) is False
