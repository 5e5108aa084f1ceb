"""PutMetricAlarm's rules and the MetricAlarm it makes, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from gureum.aws.errors import AwsError
from gureum.cloudwatch.domain.alarms import INITIAL_REASON, for_metric, metric_alarm, with_state

ALARM: dict[str, Any] = {
    "AlarmName": "high",
    "Namespace": "AWS/Lambda",
    "MetricName": "ProvisionedConcurrencyUtilization",
    "Statistic": "Average",
    "Period": 60,
    "EvaluationPeriods": 3,
    "Threshold": 0.7,
    "ComparisonOperator": "GreaterThanThreshold",
}


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (
            {"Period": 45},
            "InvalidParameterValueException",
            "The parameter Period must be 10, 20, 30 or a multiple of 60.",
        ),
        (
            {"Period": 86400, "EvaluationPeriods": 8},
            "InvalidParameterValueException",
            "The evaluation period (Period * EvaluationPeriods) must not exceed one week.",
        ),
        (
            {"ExtendedStatistic": "p99"},
            "InvalidParameterCombinationException",
            "Exactly one of the parameters Statistic and ExtendedStatistic must be specified.",
        ),
        (
            {"Statistic": None, "ExtendedStatistic": "p101"},
            "InvalidParameterValueException",
            "The value p101 for parameter ExtendedStatistic is not supported.",
        ),
        (
            {"Threshold": None},
            "MissingRequiredParameterException",
            "The parameter Threshold must be specified.",
        ),
        (
            {"Namespace": None},
            "MissingRequiredParameterException",
            "The parameter Namespace must be specified.",
        ),
        (
            {"DatapointsToAlarm": 4},
            "InvalidParameterValueException",
            "DatapointsToAlarm must be less than or equal to EvaluationPeriods.",
        ),
        (
            {"Metrics": [{"Id": "m1", "Expression": "m2 * 2"}]},
            "InvalidParameterCombinationException",
            "The parameters Metrics and MetricName (or Namespace) are mutually exclusive and you "
            "have specified both.",
        ),
    ],
)
def test_put_metric_alarm_refusals(change: dict[str, Any], code: str, message: str) -> None:
    params = {k: v for k, v in {**ALARM, **change}.items() if v is not None}
    with pytest.raises(AwsError) as raised:
        metric_alarm(params, "000000000000", "us-east-1", 10.0, None)
    assert (raised.value.code, raised.value.message) == (code, message)


def test_a_new_alarm_has_no_data_yet() -> None:
    alarm = metric_alarm(ALARM, "000000000000", "us-east-1", 10.0, None)
    assert alarm["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:000000000000:alarm:high"
    assert (alarm["StateValue"], alarm["StateReason"]) == ("INSUFFICIENT_DATA", INITIAL_REASON)
    assert alarm["StateUpdatedTimestamp"] == alarm["AlarmConfigurationUpdatedTimestamp"] == 10.0
    assert (alarm["AlarmActions"], alarm["Dimensions"], alarm["ActionsEnabled"]) == ([], [], True)


def test_putting_again_keeps_the_state() -> None:
    first = metric_alarm(ALARM, "000000000000", "us-east-1", 10.0, None)
    first.update(StateValue="ALARM", StateReason="Threshold Crossed", StateUpdatedTimestamp=15.0)
    second = metric_alarm({**ALARM, "Threshold": 0.9}, "000000000000", "us-east-1", 20.0, first)
    assert (second["StateValue"], second["StateUpdatedTimestamp"]) == ("ALARM", 15.0)
    assert (second["Threshold"], second["AlarmConfigurationUpdatedTimestamp"]) == (0.9, 20.0)


def test_an_alarm_on_metric_math_needs_no_metric_name() -> None:
    params = {
        "AlarmName": "math",
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 1.0,
        "Metrics": [{"Id": "e1", "Expression": "m1 * 2", "ReturnData": True}],
    }
    assert (
        metric_alarm(params, "000000000000", "us-east-1", 1.0, None)["Metrics"]
        == (params["Metrics"])
    )


def test_a_state_change_is_a_transition_and_the_same_state_is_not() -> None:
    alarm = metric_alarm(ALARM, "000000000000", "us-east-1", 10.0, None)
    alarming = with_state(alarm, "ALARM", "Threshold Crossed", '{"a": 1}', 20.0)
    assert (alarming["StateTransitionedTimestamp"], alarming["StateUpdatedTimestamp"]) == (
        20.0,
        20.0,
    )
    again = with_state(alarming, "ALARM", "still", None, 30.0)
    assert (again["StateTransitionedTimestamp"], again["StateUpdatedTimestamp"]) == (20.0, 30.0)
    assert "StateReasonData" not in again


def test_state_reason_data_must_be_json() -> None:
    alarm = metric_alarm(ALARM, "000000000000", "us-east-1", 10.0, None)
    with pytest.raises(AwsError) as raised:
        with_state(alarm, "OK", "r", "{not json", 20.0)
    assert raised.value.code == "InvalidFormatFault"


@pytest.mark.parametrize(
    ("filters", "selected"),
    [
        ({}, True),
        ({"Statistic": "Average"}, True),
        ({"Statistic": "Maximum"}, False),
        ({"Period": 300}, False),
        ({"Dimensions": []}, True),
        ({"Dimensions": [{"Name": "FunctionName", "Value": "f"}]}, False),
        ({"MetricName": "Invocations"}, False),
    ],
)
def test_alarms_for_a_metric(filters: dict[str, Any], selected: bool) -> None:
    alarm = metric_alarm(ALARM, "000000000000", "us-east-1", 10.0, None)
    params = {"Namespace": ALARM["Namespace"], "MetricName": ALARM["MetricName"], **filters}
    assert for_metric(alarm, params) is selected
