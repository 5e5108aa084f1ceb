"""Metric alarms: PutMetricAlarm's rules, and the MetricAlarm an alarm is described as.

An alarm is kept as the MetricAlarm document DescribeAlarms answers (its configuration, its
ARN, its state), times in epoch seconds. A new alarm starts in `INSUFFICIENT_DATA`, as AWS's do
("Unchecked: Initial alarm creation"); putting an alarm again under its name replaces its
configuration and keeps its state. gureum does not evaluate alarms yet: Application Auto
Scaling's target tracking will (issue #12), through the metric service.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gureum.cloudwatch.domain.aggregates import PERCENTILE
from gureum.cloudwatch.domain.errors import (
    InvalidFormat,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)

ALARM_PERIODS = frozenset({10, 20, 30})
WEEK = 7 * 24 * 3600
INITIAL_REASON = "Unchecked: Initial alarm creation"
# The members of PutMetricAlarm that a MetricAlarm repeats as they are.
_CONFIGURATION = (
    "AlarmName",
    "AlarmDescription",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


def alarm_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"


def _check_metric(params: Mapping[str, Any]) -> None:
    if "Metrics" in params:
        if "MetricName" in params or "Namespace" in params:
            raise InvalidParameterCombination(
                "The parameters Metrics and MetricName (or Namespace) are mutually exclusive and "
                "you have specified both."
            )
        return
    for name in ("MetricName", "Namespace", "Period"):
        if name not in params:
            raise MissingParameter(f"The parameter {name} must be specified.")
    if ("Statistic" in params) == ("ExtendedStatistic" in params):
        raise InvalidParameterCombination(
            "Exactly one of the parameters Statistic and ExtendedStatistic must be specified."
        )
    extended = params.get("ExtendedStatistic")
    if extended is not None and PERCENTILE.fullmatch(extended) is None:
        raise InvalidParameterValue(
            f"The value {extended} for parameter ExtendedStatistic is not supported."
        )
    period = params["Period"]
    if period not in ALARM_PERIODS and (period <= 0 or period % 60 != 0):
        raise InvalidParameterValue("The parameter Period must be 10, 20, 30 or a multiple of 60.")
    if period * params["EvaluationPeriods"] > WEEK:
        raise InvalidParameterValue(
            "The evaluation period (Period * EvaluationPeriods) must not exceed one week."
        )


def check_alarm(params: Mapping[str, Any]) -> None:
    """PutMetricAlarm's rules beyond the model's, or AWS's refusal of the first broken."""
    _check_metric(params)
    if "Threshold" not in params and "ThresholdMetricId" not in params:
        raise MissingParameter("The parameter Threshold must be specified.")
    to_alarm = params.get("DatapointsToAlarm")
    if to_alarm is not None and to_alarm > params["EvaluationPeriods"]:
        raise InvalidParameterValue(
            "DatapointsToAlarm must be less than or equal to EvaluationPeriods."
        )


def metric_alarm(
    params: Mapping[str, Any],
    account: str,
    region: str,
    now: float,
    previous: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The MetricAlarm `params` put, keeping the state of the alarm it replaces."""
    check_alarm(params)
    alarm: dict[str, Any] = {k: params[k] for k in _CONFIGURATION if k in params}
    alarm.setdefault("OKActions", [])
    alarm.setdefault("AlarmActions", [])
    alarm.setdefault("InsufficientDataActions", [])
    alarm.setdefault("Dimensions", [])
    alarm["ActionsEnabled"] = params.get("ActionsEnabled", True)
    alarm["AlarmArn"] = alarm_arn(region, account, params["AlarmName"])
    alarm["AlarmConfigurationUpdatedTimestamp"] = now
    state_members = ("StateValue", "StateReason", "StateUpdatedTimestamp")
    if previous is not None:
        for name in (*state_members, "StateTransitionedTimestamp"):
            alarm[name] = previous.get(name)
    else:
        alarm.update(
            StateValue="INSUFFICIENT_DATA",
            StateReason=INITIAL_REASON,
            StateUpdatedTimestamp=now,
            StateTransitionedTimestamp=now,
        )
    return alarm


def with_state(
    alarm: Mapping[str, Any], state: str, reason: str, reason_data: str | None, now: float
) -> dict[str, Any]:
    """SetAlarmState: `alarm` in `state` from `now` (a transition only when the state changes).
    StateReasonData must be a JSON document, as AWS requires."""
    if reason_data is not None:
        try:
            json.loads(reason_data)
        except ValueError:
            raise InvalidFormat("The StateReasonData must be a valid JSON document.") from None
    updated = dict(alarm)
    if alarm.get("StateValue") != state:
        updated["StateTransitionedTimestamp"] = now
    updated.update(StateValue=state, StateReason=reason, StateUpdatedTimestamp=now)
    if reason_data is not None:
        updated["StateReasonData"] = reason_data
    else:
        updated.pop("StateReasonData", None)
    return updated


def for_metric(alarm: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """Whether DescribeAlarmsForMetric's filters (metric, and any of statistic, period, unit,
    dimensions it names) select `alarm`."""
    if (alarm.get("Namespace"), alarm.get("MetricName")) != (
        params["Namespace"],
        params["MetricName"],
    ):
        return False
    for member in ("Statistic", "ExtendedStatistic", "Period", "Unit"):
        if member in params and alarm.get(member) != params[member]:
            return False
    if "Dimensions" in params:
        wanted = sorted((d["Name"], d["Value"]) for d in params["Dimensions"])
        have = sorted((d["Name"], d["Value"]) for d in alarm.get("Dimensions", []))
        return wanted == have
    return True
