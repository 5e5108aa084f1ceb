"""CloudWatch's pure core, table-driven: aggregation, statistics, percentiles, the period and
range rules with AWS's messages, PutMetricData's rules, GetMetricData's paging."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from gureum.aws.errors import AwsError
from gureum.cloudwatch.domain.aggregates import EXACT_VALUES, Aggregate, merged
from gureum.cloudwatch.domain.metric_data import (
    MetricQuery,
    Series,
    metric_queries,
    next_token,
    page,
    token_offset,
)
from gureum.cloudwatch.domain.metrics import MetricKey, samples_from
from gureum.cloudwatch.domain.queries import (
    Grid,
    Point,
    bucketed,
    check_period,
    check_statistics_request,
    datapoints,
)

NOW = 1_800_000_000.0


def aggregate_of(*values: float) -> Aggregate:
    aggregate = Aggregate()
    for value in values:
        aggregate.add(value)
    return aggregate


# --- aggregation and statistics ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "statistic", "expected"),
    [
        ((1.0, 2.0, 3.0, 100.0), "SampleCount", 4.0),
        ((1.0, 2.0, 3.0, 100.0), "Sum", 106.0),
        ((1.0, 2.0, 3.0, 100.0), "Average", 26.5),
        ((1.0, 2.0, 3.0, 100.0), "Minimum", 1.0),
        ((1.0, 2.0, 3.0, 100.0), "Maximum", 100.0),
        ((1.0, 2.0, 3.0, 100.0), "p50", 2.0),
        ((1.0, 2.0, 3.0, 100.0), "p75", 3.0),
        ((1.0, 2.0, 3.0, 100.0), "p99", 100.0),
        ((1.0, 2.0, 3.0, 100.0), "p100", 100.0),
        ((-5.0, 0.0, 5.0), "p50", 0.0),
        ((-5.0, 0.0, 5.0), "p10", -5.0),
        ((7.0,), "p99.9", 7.0),
        ((), "Sum", None),
        ((1.0,), "Median", None),
    ],
)
def test_statistics_of_a_point(
    values: tuple[float, ...], statistic: str, expected: float | None
) -> None:
    assert aggregate_of(*values).statistic(statistic) == expected


def test_past_the_exact_bound_percentiles_come_from_the_histogram_within_one_percent() -> None:
    values = [float(v) for v in range(1, 1001)]
    aggregate = aggregate_of(*values)
    assert aggregate.values is None
    for rank in (50.0, 90.0, 99.0):
        exact = values[math.ceil(len(values) * rank / 100) - 1]
        answer = aggregate.statistic(f"p{rank:g}")
        assert answer is not None
        assert abs(answer - exact) / exact <= 0.01


def test_merging_points_adds_them_up() -> None:
    total = merged([aggregate_of(1.0, 2.0), aggregate_of(10.0)])
    assert (total.count, total.sum, total.minimum, total.maximum) == (3.0, 13.0, 1.0, 10.0)
    assert total.statistic("p50") == 2.0


def test_merging_past_the_bound_drops_the_exact_values_only() -> None:
    half = EXACT_VALUES // 2 + 1
    low = aggregate_of(*[float(v) for v in range(1, half + 1)])
    high = aggregate_of(*[float(v) for v in range(1000, 1000 + half)])
    total = merged([low, high])
    assert total.values is None
    assert total.count == 2 * half
    assert total.statistic("p99") == pytest.approx(1000.0 + half - 1, rel=0.01)


def test_repeated_values_stay_exact_however_many() -> None:
    aggregate = aggregate_of(*[1.0] * 10_000, 2.0)
    assert aggregate.values == {1.0: 10_000.0, 2.0: 1.0}
    assert aggregate.statistic("p100") == 2.0
    assert aggregate.statistic("p99.99") == 1.0


def test_a_statistic_set_counts_for_everything_but_percentiles() -> None:
    aggregate = Aggregate()
    aggregate.add_set(4.0, 10.0, 1.0, 4.0)
    assert aggregate.statistic("Average") == 2.5
    assert aggregate.statistic("p50") is None


def test_counts_weigh_values() -> None:
    aggregate = Aggregate()
    aggregate.add(1.5, 3.0)
    aggregate.add(2.0, 1.0)
    assert aggregate.statistic("SampleCount") == 4.0
    assert aggregate.statistic("Sum") == 6.5
    assert aggregate.statistic("p75") == 1.5


# --- periods and ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize("period", [1, 5, 10, 20, 30, 60, 120, 3600, 86400])
def test_periods_aws_accepts(period: int) -> None:
    assert check_period(period) == period


@pytest.mark.parametrize("period", [0, -60, 2, 45, 61, 90, 3601])
def test_periods_aws_refuses(period: int) -> None:
    with pytest.raises(AwsError) as raised:
        check_period(period)
    assert raised.value.code == "InvalidParameterValueException"
    assert raised.value.message == "The parameter Period must be a multiple of 60."


STATISTICS_REFUSALS: list[tuple[dict[str, Any], str, str]] = [
    (
        {"start": NOW, "end": NOW},
        "InvalidParameterValueException",
        "The parameter StartTime must be less than the parameter EndTime.",
    ),
    (
        {"statistics": [], "extended": []},
        "InvalidParameterCombinationException",
        "Must specify either Statistics or ExtendedStatistics.",
    ),
    (
        {"extended": ["p101"]},
        "InvalidParameterValueException",
        "The value p101 for parameter ExtendedStatistics is not supported.",
    ),
    (
        {"start": NOW - 86400 * 2, "period": 60},
        "InvalidParameterCombinationException",
        "You have requested up to 2,880 datapoints, which exceeds the limit of 1,440. You may "
        "reduce the datapoints requested by increasing Period, or decreasing the time range.",
    ),
    ({"period": None}, "MissingRequiredParameterException", "The parameter Period is required."),
]


@pytest.mark.parametrize(("change", "code", "message"), STATISTICS_REFUSALS)
def test_get_metric_statistics_refusals(change: dict[str, Any], code: str, message: str) -> None:
    request: dict[str, Any] = {
        "start": NOW - 3600,
        "end": NOW,
        "period": 60,
        "statistics": ["Sum"],
        "extended": [],
        **change,
    }
    with pytest.raises(AwsError) as raised:
        check_statistics_request(**request)
    assert (raised.value.code, raised.value.message) == (code, message)


def test_a_day_of_minutes_is_the_most_one_call_returns() -> None:
    check_statistics_request(NOW - 86400, NOW, 60, ["Sum"], [])


@pytest.mark.parametrize(
    ("scale", "at", "start"),
    [(1.0, 125.0, 120.0), (1.0, 119.999, 60.0), (1 / 60, 125.5, 125.0), (0.5, 95.0, 90.0)],
)
def test_a_point_is_one_scaled_minute(scale: float, at: float, start: float) -> None:
    assert Grid(scale).point_start(at) == pytest.approx(start)


def test_points_merge_per_period_counted_from_the_start_and_per_unit() -> None:
    points = [
        Point(NOW, "Count", aggregate_of(1.0)),
        Point(NOW + 60, "Count", aggregate_of(2.0)),
        Point(NOW + 120, "Count", aggregate_of(4.0)),
        Point(NOW + 120, "Seconds", aggregate_of(8.0)),
        Point(NOW + 300, "Count", aggregate_of(16.0)),  # past the end
    ]
    buckets = bucketed(points, NOW, NOW + 300, 120.0, None)
    rows = datapoints(buckets, ["Sum"], ["p50"])
    assert rows == [
        {"Timestamp": NOW, "Unit": "Count", "Sum": 3.0, "ExtendedStatistics": {"p50": 1.0}},
        {"Timestamp": NOW + 120, "Unit": "Count", "Sum": 4.0, "ExtendedStatistics": {"p50": 4.0}},
        {
            "Timestamp": NOW + 120,
            "Unit": "Seconds",
            "Sum": 8.0,
            "ExtendedStatistics": {"p50": 8.0},
        },
    ]
    only_seconds = datapoints(bucketed(points, NOW, NOW + 300, 120.0, "Seconds"), ["Sum"], [])
    assert only_seconds == [{"Timestamp": NOW + 120, "Unit": "Seconds", "Sum": 8.0}]


# --- PutMetricData -------------------------------------------------------------------------------


def put(*data: Mapping[str, Any], namespace: str = "Shop", scale: float = 1.0) -> list[Any]:
    return samples_from(namespace, list(data), NOW, scale)


def stamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


PUT_REFUSALS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "AWS/Lambda",
        {"MetricName": "M", "Value": 1.0},
        "InvalidParameterValueException",
        "The value AWS/ for parameter Namespace is invalid.",
    ),
    (
        "Shop",
        {"MetricName": "M"},
        "MissingRequiredParameterException",
        "The parameter MetricData.member.1.Value is required.",
    ),
    (
        "Shop",
        {"MetricName": "M", "Value": 1.0, "Values": [1.0]},
        "InvalidParameterCombinationException",
        "The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually "
        "exclusive and you have specified both.",
    ),
    (
        "Shop",
        {"MetricName": "M", "Values": [1.0, 2.0], "Counts": [1.0]},
        "InvalidParameterValueException",
        "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the "
        "same size.",
    ),
    (
        "Shop",
        {"MetricName": "M", "Values": [1.0] * 151},
        "InvalidParameterValueException",
        "The collection MetricData.member.1.Values must not contain more than 150 items.",
    ),
    (
        "Shop",
        {"MetricName": "M", "Value": math.nan},
        "InvalidParameterValueException",
        "The value nan for parameter MetricData.member.1.Value is invalid.",
    ),
    (
        "Shop",
        {"MetricName": "M", "Value": 1.0, "Timestamp": stamp(NOW - 15 * 86400)},
        "InvalidParameterValueException",
        "The parameter MetricData.member.1.Timestamp must specify a time no more than two weeks "
        "in the past.",
    ),
    (
        "Shop",
        {"MetricName": "M", "Value": 1.0, "Timestamp": stamp(NOW + 3 * 3600)},
        "InvalidParameterValueException",
        "The parameter MetricData.member.1.Timestamp must specify a time no more than two hours "
        "in the future.",
    ),
]


def test_at_most_1000_metric_data_and_at_least_one() -> None:
    with pytest.raises(AwsError) as raised:
        put(*[{"MetricName": "M", "Value": 1.0}] * 1001)
    assert (
        raised.value.message == "The collection MetricData must not contain more than 1000 items."
    )
    with pytest.raises(AwsError) as raised:
        put()
    assert raised.value.message == "The parameter MetricData is required."
    assert len(put(*[{"MetricName": "M", "Value": 1.0}] * 1000)) == 1000


@pytest.mark.parametrize(("namespace", "datum", "code", "message"), PUT_REFUSALS)
def test_put_metric_data_refusals(
    namespace: str, datum: dict[str, Any], code: str, message: str
) -> None:
    with pytest.raises(AwsError) as raised:
        put(datum, namespace=namespace)
    assert (raised.value.code, raised.value.message) == (code, message)


def test_the_time_limits_are_scaled() -> None:
    # Under --time-scale 0.01 two hours are 72 seconds.
    with pytest.raises(AwsError):
        put({"MetricName": "M", "Value": 1.0, "Timestamp": stamp(NOW + 100)}, scale=0.01)
    (sample,) = put({"MetricName": "M", "Value": 1.0, "Timestamp": stamp(NOW + 50)}, scale=0.01)
    assert sample.timestamp == NOW + 50


def test_dimensions_in_any_order_name_one_metric() -> None:
    first, second = put(
        {
            "MetricName": "M",
            "Value": 1.0,
            "Dimensions": [{"Name": "A", "Value": "1"}, {"Name": "B", "Value": "2"}],
        },
        {
            "MetricName": "M",
            "Value": 1.0,
            "Dimensions": [{"Name": "B", "Value": "2"}, {"Name": "A", "Value": "1"}],
        },
    )
    assert first.key == second.key == MetricKey("Shop", "M", (("A", "1"), ("B", "2")))
    assert first.unit == "None"
    assert first.timestamp == NOW


# --- GetMetricData ------------------------------------------------------------------------------

METRIC = {"Namespace": "Shop", "MetricName": "Orders"}


def query(query_id: str = "m1", **change: Any) -> dict[str, Any]:
    return {"Id": query_id, "MetricStat": {"Metric": METRIC, "Period": 60, "Stat": "Sum"}, **change}


@pytest.mark.parametrize(
    ("queries", "message"),
    [
        (
            [query(), query()],
            "The value m1 for parameter MetricDataQueries.member.2.Id is a duplicate.",
        ),
        (
            [{"Id": "e1", "Expression": "SUM(METRICS())"}],
            "Error in expression 'e1': gureum runs MetricStat queries only; metric math and "
            "Metrics Insights expressions are not supported.",
        ),
        ([{"Id": "m1"}], "Query 'm1' must specify either MetricStat or Expression."),
        (
            [query(f"m{i}") for i in range(501)],
            "The collection MetricDataQueries must not contain more than 500 items.",
        ),
        (
            [{"Id": "m1", "MetricStat": {"Metric": METRIC, "Period": 60, "Stat": "Mean"}}],
            "The value Mean for parameter MetricDataQueries.member.1.MetricStat.Stat is invalid.",
        ),
    ],
)
def test_metric_data_refusals(queries: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(AwsError) as raised:
        metric_queries(queries)
    assert (raised.value.code, raised.value.message) == ("ValidationException", message)


def test_a_query_is_labelled_by_its_metric_unless_labelled() -> None:
    first, second = metric_queries([query(), query("m2", Label="orders/min", ReturnData=False)])
    assert (first.label, first.returned) == ("Orders", True)
    assert (second.label, second.returned) == ("orders/min", False)


def series(query_id: str, count: int) -> Series:
    metric_query = MetricQuery(query_id, METRIC, "Sum", 60, None, query_id, True)
    return Series(metric_query, [(NOW + i * 60, float(i)) for i in range(count)])


def test_pages_hold_at_most_max_datapoints_across_queries() -> None:
    answers = [series("a", 3), series("b", 2)]
    results, token = page(answers, 0, 4)
    assert [(r["Id"], r["Values"], r["StatusCode"]) for r in results] == [
        ("a", [0.0, 1.0, 2.0], "Complete"),
        ("b", [0.0], "PartialData"),
    ]
    assert token is not None
    results, token = page(answers, token_offset(token), 4)
    assert [(r["Id"], r["Values"], r["StatusCode"]) for r in results] == [
        ("a", [], "Complete"),
        ("b", [1.0], "Complete"),
    ]
    assert token is None


@pytest.mark.parametrize("token", ["not-base64!", next_token(-1)])
def test_a_token_gureum_did_not_give_is_refused(token: str) -> None:
    with pytest.raises(AwsError) as raised:
        token_offset(token)
    assert raised.value.code == "InvalidNextToken"
