"""The request rules of the pure core: which targets may be scaled, RegisterScalableTarget's
capacities, PutScalingPolicy's configuration and its two alarms, PutScheduledAction's fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gureum.autoscaling.domain.actions import scheduled_action
from gureum.autoscaling.domain.errors import Invalid
from gureum.autoscaling.domain.policies import ScalingPolicy, target_tracking
from gureum.autoscaling.domain.targets import DIMENSION, UNSUPPORTED, registered, target_key

ACCOUNT, REGION = "123456789012", "us-east-2"
KEY = target_key(ACCOUNT, REGION, "lambda", "function:my-function:BLUE", DIMENSION)
METRIC = {"PredefinedMetricType": "LambdaProvisionedConcurrencyUtilization"}


@pytest.mark.parametrize(
    ("namespace", "resource", "dimension"),
    [
        ("ecs", "service/default/web", "ecs:service:DesiredCount"),
        ("lambda", "function:f:prod", "ecs:service:DesiredCount"),
        ("lambda", "function:f", DIMENSION),
        ("lambda", "f:prod", DIMENSION),
        ("lambda", "function:f:prod:extra", DIMENSION),
    ],
)
def test_unsupported_targets(namespace: str, resource: str, dimension: str) -> None:
    with pytest.raises(Invalid) as caught:
        target_key(ACCOUNT, REGION, namespace, resource, dimension)
    assert caught.value.message == UNSUPPORTED


def test_latest_is_never_a_target() -> None:
    with pytest.raises(Invalid, match=r"not \$LATEST"):
        target_key(ACCOUNT, REGION, "lambda", "function:f:$LATEST", DIMENSION)


def test_register_needs_both_capacities_first_then_keeps_what_is_left_out() -> None:
    with pytest.raises(Invalid, match="MinCapacity and MaxCapacity are required"):
        registered(KEY, None, {"MinCapacity": 1}, "id", 0.0)
    first = registered(KEY, None, {"MinCapacity": 1, "MaxCapacity": 10}, "id", 5.0)
    assert first.role_arn.endswith("AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency")
    updated = registered(KEY, first, {"MaxCapacity": 20}, "other", 9.0)
    assert (updated.min_capacity, updated.max_capacity, updated.target_id) == (1, 20, "id")
    assert updated.created == 5.0
    with pytest.raises(Invalid, match="Minimum capacity cannot be greater than maximum capacity"):
        registered(KEY, first, {"MinCapacity": 30}, "id", 9.0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"PolicyType": "StepScaling"}, "Policy type StepScaling is not supported"),
        ({"PolicyType": "PredictiveScaling"}, "Policy type PredictiveScaling is not supported"),
        ({}, "Policy type StepScaling is not supported"),  # AWS's default type
        ({"PolicyType": "TargetTrackingScaling"}, "TargetTrackingScalingPolicyConfiguration is"),
        (
            {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 0.7,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                    },
                },
            },
            "Unsupported predefined metric type ECSServiceAverageCPUUtilization",
        ),
        (
            {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 0.7},
            },
            "Either PredefinedMetricSpecification or CustomizedMetricSpecification",
        ),
        (
            {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 0,
                    "PredefinedMetricSpecification": METRIC,
                },
            },
            "The target value 0 must be greater than 0",
        ),
    ],
)
def test_refused_policies(params: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid) as caught:
        target_tracking(params)
    assert caught.value.message.startswith(message)


def test_a_policy_arn_and_its_two_alarms_are_aws_shapes() -> None:
    config = target_tracking(
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 0.7,
                "PredefinedMetricSpecification": METRIC,
            },
        }
    )
    assert (config.scale_out_cooldown, config.scale_in_cooldown) == (0, 0)  # Lambda's default
    policy = ScalingPolicy(KEY, "my-policy", "p-id", "h-id", "l-id", config, 0.0)
    assert policy.arn == (
        "arn:aws:autoscaling:us-east-2:123456789012:scalingPolicy:p-id:"
        "resource/lambda/function:my-function:BLUE:policyName/my-policy"
    )
    assert [a["AlarmName"] for a in policy.alarms()] == [
        "TargetTracking-function:my-function:BLUE-AlarmHigh-h-id",
        "TargetTracking-function:my-function:BLUE-AlarmLow-l-id",
    ]
    high, low = policy.alarm_definitions()
    for alarm in (high, low):
        assert alarm["MetricName"] == "ProvisionedConcurrencyUtilization"
        assert alarm["Namespace"] == "AWS/Lambda"
        assert alarm["Statistic"] == "Average"
        assert alarm["Period"] == 60
        assert alarm["Dimensions"] == [
            {"Name": "FunctionName", "Value": "my-function"},
            {"Name": "Resource", "Value": "my-function:BLUE"},
        ]
    assert (high["Threshold"], high["EvaluationPeriods"], high["DatapointsToAlarm"]) == (0.7, 3, 3)
    assert high["ComparisonOperator"] == "GreaterThanThreshold"
    assert (low["Threshold"], low["EvaluationPeriods"], low["DatapointsToAlarm"]) == (0.63, 15, 15)
    assert low["ComparisonOperator"] == "LessThanThreshold"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ScalableTargetAction": {"MinCapacity": 1}}, "Schedule is required"),
        ({"Schedule": "rate(1 day)"}, "ScalableTargetAction must specify"),
        (
            {
                "Schedule": "rate(1 day)",
                "ScalableTargetAction": {"MinCapacity": 5, "MaxCapacity": 2},
            },
            "Minimum capacity cannot be greater than maximum capacity",
        ),
        (
            {
                "Schedule": "rate(1 day)",
                "ScalableTargetAction": {"MinCapacity": 1},
                "StartTime": datetime(2026, 2, 1, tzinfo=UTC),
                "EndTime": datetime(2026, 1, 1, tzinfo=UTC),
            },
            "The start time must be before the end time",
        ),
        (
            {"Schedule": "cron(0 9 * * * *)", "ScalableTargetAction": {"MinCapacity": 1}},
            "Unsupported or invalid schedule expression: cron(0 9 * * * *)",
        ),
    ],
)
def test_refused_scheduled_actions(params: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid) as caught:
        scheduled_action(KEY, None, {"ScheduledActionName": "a", **params}, "id", 0.0)
    assert caught.value.message.startswith(message)


def test_a_scheduled_action_update_keeps_what_is_left_out() -> None:
    first = scheduled_action(
        KEY,
        None,
        {
            "ScheduledActionName": "a",
            "Schedule": "cron(0 9 ? * MON-FRI *)",
            "Timezone": "Asia/Seoul",
            "ScalableTargetAction": {"MinCapacity": 5, "MaxCapacity": 10},
        },
        "id",
        1.0,
    )
    moved = scheduled_action(KEY, first, {"ScheduledActionName": "a", "Timezone": "UTC"}, "x", 2.0)
    assert (moved.schedule, moved.timezone, moved.min_capacity, moved.action_id) == (
        "cron(0 9 ? * MON-FRI *)",
        "UTC",
        5,
        "id",
    )
    assert moved.arn.endswith(":resource/lambda/function:my-function:BLUE:scheduledActionName/a")
