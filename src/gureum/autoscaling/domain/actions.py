"""Scheduled actions: PutScheduledAction's rules and the action as DescribeScheduledActions
shows it. When an action fires is its schedule's business (`schedules`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from gureum.autoscaling.domain.errors import Invalid, ObjectNotFound
from gureum.autoscaling.domain.schedules import parse_schedule
from gureum.autoscaling.domain.targets import DIMENSION, NAMESPACE, TargetKey


@dataclass(frozen=True, slots=True)
class ScheduledAction:
    """Invariants: the schedule parses; min <= max when both are set; start < end when both
    are set. `last_fired` is when it last fired, or when its schedule last changed (epoch
    seconds): the next firing is sought after it, so one time never fires twice, across
    restarts too."""

    key: TargetKey
    name: str
    action_id: str
    schedule: str
    timezone: str
    start: float | None
    end: float | None
    min_capacity: int | None
    max_capacity: int | None
    created: float
    last_fired: float | None = None

    @property
    def arn(self) -> str:
        return (
            f"arn:aws:autoscaling:{self.key.region}:{self.key.account}:scheduledAction:"
            f"{self.action_id}:resource/{NAMESPACE}/{self.key.resource_id}:"
            f"scheduledActionName/{self.name}"
        )

    def wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "ScheduledActionName": self.name,
            "ScheduledActionARN": self.arn,
            "ServiceNamespace": NAMESPACE,
            "Schedule": self.schedule,
            "Timezone": self.timezone,
            "ResourceId": self.key.resource_id,
            "ScalableDimension": DIMENSION,
            "CreationTime": self.created,
        }
        if self.start is not None:
            wire["StartTime"] = self.start
        if self.end is not None:
            wire["EndTime"] = self.end
        action = {"MinCapacity": self.min_capacity, "MaxCapacity": self.max_capacity}
        wire["ScalableTargetAction"] = {k: v for k, v in action.items() if v is not None}
        return wire


def _seconds(value: datetime | None) -> float | None:
    return None if value is None else value.astimezone(UTC).timestamp()


def scheduled_action(
    key: TargetKey,
    existing: ScheduledAction | None,
    params: dict[str, Any],
    action_id: str,
    now: float,
) -> ScheduledAction:
    """PutScheduledAction: creates the action, or changes what the request names of an
    existing one (AWS: "update a scheduled action")."""
    name = params["ScheduledActionName"]
    target_action = params.get("ScalableTargetAction")
    if existing is None:
        if params.get("Schedule") is None:
            raise Invalid("Schedule is required when you create a scheduled action")
        action = ScheduledAction(
            key, name, action_id, params["Schedule"], "UTC", None, None, None, None, now
        )
    else:
        action = existing
    changes: dict[str, Any] = {}
    if params.get("Schedule") is not None:
        changes["schedule"] = params["Schedule"]
        # A new schedule fires at its own times from now on, never at those already past.
        changes["last_fired"] = now if existing is not None else None
    if params.get("Timezone") is not None:
        changes["timezone"] = params["Timezone"]
    if params.get("StartTime") is not None:
        changes["start"] = _seconds(params["StartTime"])
    if params.get("EndTime") is not None:
        changes["end"] = _seconds(params["EndTime"])
    if target_action is not None:
        changes["min_capacity"] = target_action.get("MinCapacity")
        changes["max_capacity"] = target_action.get("MaxCapacity")
    action = replace(action, **changes)
    parse_schedule(action.schedule)
    low, high = action.min_capacity, action.max_capacity
    if low is None and high is None:
        raise Invalid("ScalableTargetAction must specify MinCapacity, MaxCapacity or both")
    if low is not None and low < 0:
        raise Invalid("Minimum capacity cannot be less than 0")
    if low is not None and high is not None and low > high:
        raise Invalid("Minimum capacity cannot be greater than maximum capacity")
    if action.start is not None and action.end is not None and action.start >= action.end:
        raise Invalid("The start time must be before the end time")
    return action


def no_action(key: TargetKey, name: str) -> ObjectNotFound:
    return ObjectNotFound(
        f"No scheduled action found for {key.describe()}, scheduled action name: {name}"
    )
