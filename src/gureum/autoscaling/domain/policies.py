"""Target tracking scaling policies: PutScalingPolicy's rules, the policy's ARN, and the two
CloudWatch alarms AWS creates for it.

A policy tracks `LambdaProvisionedConcurrencyUtilization`, which is CloudWatch's
`ProvisionedConcurrencyUtilization` (namespace `AWS/Lambda`, dimensions FunctionName and
Resource, Average) of the target's alias or version. AWS's alarm shapes (spec 6.4): AlarmHigh
when utilization is above the target for 3 of 3 one-minute periods (scale out), AlarmLow when
it is below 90% of the target for 15 of 15 (scale in). Cooldowns default to 0 for Lambda
provisioned concurrency ([TargetTrackingScalingPolicyConfiguration]).

[TargetTrackingScalingPolicyConfiguration]: https://docs.aws.amazon.com/autoscaling/application/APIReference/API_TargetTrackingScalingPolicyConfiguration.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gureum.autoscaling.domain.errors import Invalid, ObjectNotFound
from gureum.autoscaling.domain.targets import DIMENSION, NAMESPACE, TargetKey

TARGET_TRACKING = "TargetTrackingScaling"
METRIC_TYPE = "LambdaProvisionedConcurrencyUtilization"
METRIC_NAME = "ProvisionedConcurrencyUtilization"
METRIC_NAMESPACE = "AWS/Lambda"
PERIOD = 60
HIGH_PERIODS = 3
LOW_PERIODS = 15
LOW_RATIO = 0.9
# A cooldown is at most a day (AWS's range 0 to 86400 seconds).
MAX_COOLDOWN = 86400


@dataclass(frozen=True, slots=True)
class TargetTracking:
    """A policy's configuration: the target utilization and how it may move capacity."""

    target_value: float
    scale_out_cooldown: int = 0
    scale_in_cooldown: int = 0
    disable_scale_in: bool = False
    resource_label: str | None = None

    def wire(self) -> dict[str, Any]:
        metric: dict[str, Any] = {"PredefinedMetricType": METRIC_TYPE}
        if self.resource_label is not None:
            metric["ResourceLabel"] = self.resource_label
        return {
            "TargetValue": self.target_value,
            "PredefinedMetricSpecification": metric,
            "ScaleOutCooldown": self.scale_out_cooldown,
            "ScaleInCooldown": self.scale_in_cooldown,
            "DisableScaleIn": self.disable_scale_in,
        }


def target_tracking(params: dict[str, Any]) -> TargetTracking:
    """PutScalingPolicy's configuration, or a ValidationException naming what gureum lacks."""
    kind = params.get("PolicyType") or "StepScaling"  # AWS's default when none is given
    if kind != TARGET_TRACKING:
        raise Invalid(
            f"Policy type {kind} is not supported by gureum for service namespace {NAMESPACE}: "
            f"only {TARGET_TRACKING} policies scale provisioned concurrency here"
        )
    config = params.get("TargetTrackingScalingPolicyConfiguration")
    if config is None:
        raise Invalid(
            "TargetTrackingScalingPolicyConfiguration is required for a TargetTrackingScaling "
            "policy"
        )
    if config.get("CustomizedMetricSpecification") is not None:
        raise Invalid(
            f"CustomizedMetricSpecification is not supported by gureum: use the predefined "
            f"metric type {METRIC_TYPE}"
        )
    metric = config.get("PredefinedMetricSpecification")
    if metric is None:
        raise Invalid(
            "Either PredefinedMetricSpecification or CustomizedMetricSpecification must be "
            "specified"
        )
    if metric["PredefinedMetricType"] != METRIC_TYPE:
        raise Invalid(
            f"Unsupported predefined metric type {metric['PredefinedMetricType']} for service "
            f"namespace {NAMESPACE} and scalable dimension {DIMENSION}"
        )
    value = config["TargetValue"]
    if not value > 0:
        raise Invalid(f"The target value {value} must be greater than 0")
    cooldowns = []
    for name in ("ScaleOutCooldown", "ScaleInCooldown"):
        seconds = config.get(name, 0)
        if not 0 <= seconds <= MAX_COOLDOWN:
            raise Invalid(f"{name} must be between 0 and {MAX_COOLDOWN} seconds")
        cooldowns.append(seconds)
    return TargetTracking(
        float(value),
        cooldowns[0],
        cooldowns[1],
        bool(config.get("DisableScaleIn", False)),
        metric.get("ResourceLabel"),
    )


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    """A target tracking policy on one target, with the ids of its ARN and its two alarms."""

    key: TargetKey
    name: str
    policy_id: str
    high_id: str
    low_id: str
    config: TargetTracking
    created: float

    @property
    def arn(self) -> str:
        return (
            f"arn:aws:autoscaling:{self.key.region}:{self.key.account}:scalingPolicy:"
            f"{self.policy_id}:resource/{NAMESPACE}/{self.key.resource_id}:policyName/{self.name}"
        )

    @property
    def high_alarm(self) -> str:
        return f"TargetTracking-{self.key.resource_id}-AlarmHigh-{self.high_id}"

    @property
    def low_alarm(self) -> str:
        return f"TargetTracking-{self.key.resource_id}-AlarmLow-{self.low_id}"

    def alarms(self) -> list[dict[str, str]]:
        prefix = f"arn:aws:cloudwatch:{self.key.region}:{self.key.account}:alarm:"
        return [
            {"AlarmName": name, "AlarmARN": prefix + name}
            for name in (self.high_alarm, self.low_alarm)
        ]

    def alarm_definitions(self) -> list[dict[str, Any]]:
        """PutMetricAlarm's parameters for AlarmHigh and AlarmLow, as AWS creates them."""
        common = {
            "AlarmDescription": (
                f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {self.arn}."
            ),
            "ActionsEnabled": True,
            "AlarmActions": [self.arn],
            "MetricName": METRIC_NAME,
            "Namespace": METRIC_NAMESPACE,
            "Statistic": "Average",
            "Dimensions": [
                {"Name": "FunctionName", "Value": self.key.function},
                {"Name": "Resource", "Value": f"{self.key.function}:{self.key.qualifier}"},
            ],
            "Period": PERIOD,
        }
        target = self.config.target_value
        return [
            {
                **common,
                "AlarmName": self.high_alarm,
                "EvaluationPeriods": HIGH_PERIODS,
                "DatapointsToAlarm": HIGH_PERIODS,
                "Threshold": target,
                "ComparisonOperator": "GreaterThanThreshold",
            },
            {
                **common,
                "AlarmName": self.low_alarm,
                "EvaluationPeriods": LOW_PERIODS,
                "DatapointsToAlarm": LOW_PERIODS,
                "Threshold": round(target * LOW_RATIO, 12),
                "ComparisonOperator": "LessThanThreshold",
            },
        ]

    def wire(self) -> dict[str, Any]:
        return {
            "PolicyARN": self.arn,
            "PolicyName": self.name,
            "ServiceNamespace": NAMESPACE,
            "ResourceId": self.key.resource_id,
            "ScalableDimension": DIMENSION,
            "PolicyType": TARGET_TRACKING,
            "TargetTrackingScalingPolicyConfiguration": self.config.wire(),
            "Alarms": self.alarms(),
            "CreationTime": self.created,
        }


def no_policy(key: TargetKey, name: str) -> ObjectNotFound:
    return ObjectNotFound(f"No scaling policy found for {key.describe()}, policy name: {name}")
