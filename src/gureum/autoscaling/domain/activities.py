"""Scaling activities: what changed a target's capacity, why, and how it ended, as
DescribeScalingActivities shows it (AWS's wording for Lambda's provisioned concurrency)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gureum.autoscaling.domain.targets import DIMENSION, NAMESPACE, TargetKey


class Status(StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True)
class Activity:
    key: TargetKey
    activity_id: str
    description: str
    cause: str
    started: float
    ended: float | None
    status: Status
    message: str | None = None

    def wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "ActivityId": self.activity_id,
            "ServiceNamespace": NAMESPACE,
            "ResourceId": self.key.resource_id,
            "ScalableDimension": DIMENSION,
            "Description": self.description,
            "Cause": self.cause,
            "StartTime": self.started,
            "StatusCode": self.status.value,
        }
        if self.ended is not None:
            wire["EndTime"] = self.ended
        if self.message is not None:
            wire["StatusMessage"] = self.message
        return wire


def describe_change(capacity: int) -> str:
    return f"Setting desired concurrency to {capacity}."


def succeeded(capacity: int) -> str:
    return (
        f"Successfully set desired concurrency to {capacity}. "
        "Change successfully fulfilled by lambda."
    )


def failed(capacity: int, reason: str) -> str:
    return f"Failed to set desired concurrency to {capacity}. Reason: {reason}"


def alarm_cause(alarm: str, policy: str) -> str:
    return f"monitor alarm {alarm} in state ALARM triggered policy {policy}"


def minimum_cause(capacity: int) -> str:
    return f"minimum capacity was set to {capacity}"


def maximum_cause(capacity: int) -> str:
    return f"maximum capacity was set to {capacity}"


def scheduled_cause(name: str) -> str:
    return f"scheduled action name {name} was triggered"
