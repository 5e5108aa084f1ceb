"""Alias targets, weighted routing rules and the routing draw (spec 2.2)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from gureum.aws.errors import AwsError
from gureum.lambda_.domain.aliases import Alias, check_routing, route
from gureum.lambda_.domain.arns import LATEST, function_arn
from gureum.lambda_.domain.errors import InvalidParameterValue, ResourceNotFound
from gureum.lambda_.domain.functions import Code, FunctionSettings, FunctionVersion

ROLE = "arn:aws:iam::123456789012:role/lambda"
OTHER_ROLE = "arn:aws:iam::123456789012:role/other"
DLQ = "arn:aws:sqs:us-east-1:123456789012:dlq"
SETTINGS = FunctionSettings(role=ROLE, runtime="python3.12", handler="index.handler")
NOW = datetime(2024, 5, 1, tzinfo=UTC)


def version(label: str, settings: FunctionSettings = SETTINGS) -> FunctionVersion:
    return FunctionVersion(label, settings, Code("c2hh", 1, "blob"), f"rev-{label}", NOW)


VERSIONS: dict[str, FunctionVersion] = {
    LATEST: version(LATEST),
    "1": version("1"),
    "2": version("2"),
    "3": version("3"),
    "4": version("4", replace(SETTINGS, role=OTHER_ROLE)),
    "5": version("5", replace(SETTINGS, dead_letter_target=DLQ)),
    "6": version("6", replace(SETTINGS, dead_letter_target=DLQ)),
}


def arn_of(qualifier: str) -> str:
    return function_arn("us-east-1", "123456789012", "my-fn", qualifier)


def check(primary: str, weights: Mapping[str, float]) -> None:
    check_routing(primary, weights, VERSIONS.get, arn_of)


@pytest.mark.parametrize(
    ("primary", "weights"),
    [
        pytest.param(LATEST, {}, id="latest-without-routing"),
        pytest.param("1", {}, id="version"),
        pytest.param("1", {"2": 0.05}, id="canary"),
        pytest.param("2", {"1": 0.0}, id="weight-zero"),
        pytest.param("2", {"1": 1.0}, id="weight-one"),
        pytest.param("5", {"6": 0.5}, id="same-dead-letter-queue"),
    ],
)
def test_allowed(primary: str, weights: Mapping[str, float]) -> None:
    check(primary, weights)


# Each case breaks exactly one rule.
RULES = [
    pytest.param(
        LATEST,
        {"1": 0.5},
        InvalidParameterValue,
        "$LATEST is not supported for an alias pointing to more than 1 version",
        id="latest-with-routing",
    ),
    pytest.param(
        "1",
        {"2": 0.1, "3": 0.1},
        InvalidParameterValue,
        "Number of items in AdditionalVersionWeights cannot be greater than 1",
        id="two-additional-versions",
    ),
    pytest.param(
        "1",
        {"1": 0.5},
        InvalidParameterValue,
        "Invalid function version 1. Function version 1 is already included in routing "
        "configuration.",
        id="additional-is-primary",
    ),
    pytest.param(
        "10",
        {},
        ResourceNotFound,
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:my-fn:10",
        id="primary-missing",
    ),
    pytest.param(
        "1",
        {"10": 0.5},
        ResourceNotFound,
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:my-fn:10",
        id="additional-missing",
    ),
    pytest.param(
        "1",
        {"4": 0.5},
        InvalidParameterValue,
        "Both versions of a weighted alias must have the same execution role.",
        id="different-roles",
    ),
    pytest.param(
        "1",
        {"5": 0.5},
        InvalidParameterValue,
        "Both versions of a weighted alias must have the same dead-letter queue configuration.",
        id="dead-letter-queue-on-one-only",
    ),
]


@pytest.mark.parametrize(("primary", "weights", "error", "message"), RULES)
def test_rule(
    primary: str, weights: Mapping[str, float], error: type[AwsError], message: str
) -> None:
    with pytest.raises(error) as caught:
        check(primary, weights)
    assert type(caught.value) is error
    assert caught.value.message == message


def test_latest_with_routing_is_sent_without_type() -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check(LATEST, {"1": 0.5})
    assert caught.value.fields == {"Type": None}


@pytest.mark.parametrize(
    ("primary", "weights", "message"),
    [
        pytest.param(
            "1",
            {"1": 0.1, "2": 0.1},
            "Number of items in AdditionalVersionWeights cannot be greater than 1",
            id="count-before-duplicate-primary",
        ),
        pytest.param(
            "1",
            {"10": 0.1, "11": 0.1},
            "Number of items in AdditionalVersionWeights cannot be greater than 1",
            id="count-before-lookup",
        ),
        pytest.param(
            "4",
            {"5": 0.5},
            "Both versions of a weighted alias must have the same execution role.",
            id="role-before-dead-letter-queue",
        ),
    ],
)
def test_rule_order(primary: str, weights: Mapping[str, float], message: str) -> None:
    with pytest.raises(AwsError) as caught:
        check(primary, weights)
    assert caught.value.message == message


def test_lookups_ask_only_for_named_versions() -> None:
    asked: list[str] = []

    def find(label: str) -> FunctionVersion | None:
        asked.append(label)
        return VERSIONS.get(label)

    check_routing("1", {"2": 0.3}, find, arn_of)
    assert asked == ["1", "2"]


# --- the routing draw ----------------------------------------------------------------------------


def alias(primary: str = "1", weights: Mapping[str, float] | None = None) -> Alias:
    return Alias("live", primary, "rev", weights=dict(weights or {}))


@pytest.mark.parametrize(
    ("weights", "draw", "expected"),
    [
        pytest.param({}, 0.0, "1", id="no-weights-low"),
        pytest.param({}, 0.999999, "1", id="no-weights-high"),
        pytest.param({"2": 0.1}, 0.0, "2", id="lowest-draw"),
        pytest.param({"2": 0.1}, 0.0999999, "2", id="just-under-weight"),
        pytest.param({"2": 0.1}, 0.1, "1", id="draw-equal-to-weight"),
        pytest.param({"2": 0.1}, 0.5, "1", id="above-weight"),
        pytest.param({"2": 0.0}, 0.0, "1", id="weight-zero-never"),
        pytest.param({"2": 1.0}, 0.0, "2", id="weight-one-low"),
        pytest.param({"2": 1.0}, 0.9999999999, "2", id="weight-one-always"),
        pytest.param({"2": 0.5}, 0.4999, "2", id="half-under"),
        pytest.param({"2": 0.5}, 0.5, "1", id="half-at"),
    ],
)
def test_route(weights: Mapping[str, float], draw: float, expected: str) -> None:
    assert route(alias("1", weights), draw) == expected


def test_route_latest_without_weights() -> None:
    assert route(alias(LATEST), 0.3) == LATEST


def test_about_ten_percent_go_to_the_additional_version() -> None:
    draws = random.Random(20240501)
    canary = alias("1", {"2": 0.1})
    picks = [route(canary, draws.random()) for _ in range(10_000)]
    # mean 1000, standard deviation 30: 5 sigma either side
    assert 850 <= picks.count("2") <= 1150
    assert picks.count("1") + picks.count("2") == 10_000


@pytest.mark.parametrize(
    ("label", "expected"),
    [("1", True), ("2", True), ("3", False), (LATEST, False)],
)
def test_alias_references(label: str, expected: bool) -> None:
    assert alias("1", {"2": 0.2}).references(label) is expected
