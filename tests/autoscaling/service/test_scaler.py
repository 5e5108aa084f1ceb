"""The scaler over its real store (on SQLite and on PostgreSQL: the `stores` fixture),
CloudWatch's real metric service (utilization and alarms) and the shipped in-memory capacity,
under a ManualClock: scale out after three periods above the target, scale in after fifteen
below 90% of it, cooldowns, DisableScaleIn, a capacity Lambda refuses, scheduled actions at
their time in their time zone, and everything durable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gureum.autoscaling.domain.errors import Invalid
from gureum.autoscaling.services.changes import CapacityChanges
from gureum.autoscaling.services.cloudwatch import CloudWatchAlarms, CloudWatchUtilization
from gureum.autoscaling.services.fakes import InMemoryCapacity
from gureum.autoscaling.services.scaler import Scaler
from gureum.autoscaling.services.scaling import ScalingService
from gureum.autoscaling.store.scaling import ScalingStore
from gureum.aws.sql import Backend, SqliteBackend
from gureum.clock import ManualClock
from gureum.cloudwatch.services.metrics import MetricService
from gureum.cloudwatch.store.points import MetricStore

ACCOUNT, REGION = "000000000000", "us-east-1"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TARGET = {
    "ServiceNamespace": "lambda",
    "ResourceId": "function:f:prod",
    "ScalableDimension": "lambda:function:ProvisionedConcurrency",
}


@dataclass
class World:
    clock: ManualClock
    metrics: MetricService
    store: ScalingStore
    capacity: InMemoryCapacity
    scaling: ScalingService
    scaler: Scaler

    def minute(self, utilization: float | None) -> None:
        """One (unscaled) minute in which Lambda published `utilization`, then a tick."""
        if utilization is not None:
            data = [
                (
                    "ProvisionedConcurrencyUtilization",
                    {"FunctionName": "f", "Resource": "f:prod"},
                    utilization,
                    "None",
                )
            ]
            self.metrics.publish(ACCOUNT, REGION, "AWS/Lambda", data)
        self.clock.advance(60)
        self.scaler.tick()

    def current(self) -> int | None:
        return self.capacity.get(ACCOUNT, REGION, "f", "prod")

    def activities(self) -> list[dict[str, Any]]:
        answer = self.scaling.describe_activities(ACCOUNT, REGION, {"ServiceNamespace": "lambda"})
        activities: list[dict[str, Any]] = answer["ScalingActivities"]
        return activities

    def alarm_states(self) -> dict[str, str]:
        alarms = self.metrics.alarms(ACCOUNT, REGION, {})["MetricAlarms"]
        return {a["AlarmName"].split("-")[-6]: a["StateValue"] for a in alarms}

    def policy(self, **config: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.scaling.put_policy(
            ACCOUNT,
            REGION,
            {
                **TARGET,
                "PolicyName": "track",
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 0.5,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "LambdaProvisionedConcurrencyUtilization"
                    },
                    **config,
                },
            },
        )
        return answer


def build(
    directory: Path, stores: Callable[[], Backend], clock: ManualClock, capacity: InMemoryCapacity
) -> World:
    """Everything over the stores in `directory` and `stores` (a restart when built again)."""
    metrics = MetricService(MetricStore(SqliteBackend(directory)), clock)
    store = ScalingStore(stores())
    alarms = CloudWatchAlarms(metrics)
    changes = CapacityChanges(store, capacity, clock)
    scaling = ScalingService(store, capacity, alarms, clock, changes)
    utilization = CloudWatchUtilization(metrics)
    scaler = Scaler(store, capacity, utilization, alarms, changes, clock, 1.0)
    return World(clock, metrics, store, capacity, scaling, scaler)


@pytest.fixture
def world(tmp_path: Path, stores: Callable[[], Backend]) -> Iterator[World]:
    world = build(tmp_path, stores, ManualClock(START), InMemoryCapacity())
    yield world
    world.store.close()
    world.metrics.close()


def register(world: World, low: int = 2, high: int = 20) -> None:
    world.scaling.register(ACCOUNT, REGION, {**TARGET, "MinCapacity": low, "MaxCapacity": high})


def test_registering_allocates_the_minimum(world: World) -> None:
    register(world, low=3)
    assert world.current() == 3
    (activity,) = world.activities()
    assert activity["Description"] == "Setting desired concurrency to 3."
    assert activity["Cause"] == "minimum capacity was set to 3"
    assert activity["StatusCode"] == "Successful"


def test_scales_out_after_three_periods_above_the_target(world: World) -> None:
    register(world)
    answer = world.policy()
    high_alarm = answer["Alarms"][0]["AlarmName"]
    world.minute(1.0)
    world.minute(1.0)
    assert world.current() == 2
    assert world.alarm_states()["AlarmHigh"] == "INSUFFICIENT_DATA"
    world.minute(1.0)
    # ceil(2 * 1.0 / 0.5) = 4
    assert world.current() == 4
    assert world.alarm_states()["AlarmHigh"] == "ALARM"
    latest = world.activities()[0]
    assert latest["Description"] == "Setting desired concurrency to 4."
    assert latest["Cause"] == f"monitor alarm {high_alarm} in state ALARM triggered policy track"
    # the periods measured against 2 say nothing about 4: three new ones are needed
    world.minute(1.0)
    world.minute(1.0)
    assert world.current() == 4
    world.minute(1.0)
    assert world.current() == 8


def test_scales_in_after_fifteen_periods_below_ninety_percent(world: World) -> None:
    register(world, low=1, high=20)
    world.capacity.set(ACCOUNT, REGION, "f", "prod", 10)
    world.policy()
    for _ in range(14):
        world.minute(0.2)
    assert world.current() == 10
    world.minute(0.2)
    # ceil(10 * 0.2 / 0.5) = 4
    assert world.current() == 4
    assert world.alarm_states()["AlarmLow"] == "ALARM"
    assert "AlarmLow" in world.activities()[0]["Cause"]


def test_a_missing_period_holds_scale_in(world: World) -> None:
    register(world, low=1)
    world.capacity.set(ACCOUNT, REGION, "f", "prod", 10)
    world.policy()
    for minute in range(20):
        world.minute(None if minute == 10 else 0.1)
    assert world.current() == 10


def test_disable_scale_in_never_scales_in(world: World) -> None:
    register(world, low=1)
    world.capacity.set(ACCOUNT, REGION, "f", "prod", 10)
    world.policy(DisableScaleIn=True)
    for _ in range(20):
        world.minute(0.1)
    assert world.current() == 10


def test_the_scale_out_cooldown_holds_the_next_scale_out(world: World) -> None:
    register(world)
    world.policy(ScaleOutCooldown=600)
    for _ in range(3):
        world.minute(1.0)
    assert world.current() == 4
    for _ in range(6):
        world.minute(1.0)
    assert world.current() == 4  # 6 minutes after the scale-out: still cooling down
    for _ in range(4):
        world.minute(1.0)
    assert world.current() == 8


def test_never_past_max(world: World) -> None:
    register(world, high=5)
    world.policy()
    for _ in range(12):
        world.minute(1.0)
    assert world.current() == 5


def test_a_capacity_lambda_refuses_is_a_failed_activity(
    tmp_path: Path, stores: Callable[[], Backend]
) -> None:
    world = build(tmp_path, stores, ManualClock(START), InMemoryCapacity(refuse_above=3))
    register(world)
    world.policy()
    for _ in range(3):
        world.minute(1.0)
    assert world.current() == 2
    latest = world.activities()[0]
    assert latest["StatusCode"] == "Failed"
    assert latest["StatusMessage"] == (
        "Failed to set desired concurrency to 4. Reason: Requested Provisioned Concurrency "
        "should not be greater than the reservedConcurrentExecution for function"
    )
    # tried again at the next period, not on every tick
    for _ in range(5):
        world.scaler.tick()
    assert [a["StatusCode"] for a in world.activities()].count("Failed") == 1
    world.minute(1.0)
    assert [a["StatusCode"] for a in world.activities()].count("Failed") == 2
    world.store.close()


def test_a_cron_action_fires_at_its_time_in_its_zone(
    tmp_path: Path, stores: Callable[[], Backend]
) -> None:
    # 2026-03-02 is a Monday: 09:00 in Seoul is 00:00 UTC
    clock = ManualClock(datetime(2026, 3, 1, 23, 55, tzinfo=UTC))
    world = build(tmp_path, stores, clock, InMemoryCapacity())
    register(world, low=1, high=10)
    world.scaling.put_action(
        ACCOUNT,
        REGION,
        {
            **TARGET,
            "ScheduledActionName": "morning",
            "Schedule": "cron(0 9 ? * MON *)",
            "Timezone": "Asia/Seoul",
            "ScalableTargetAction": {"MinCapacity": 5, "MaxCapacity": 8},
        },
    )
    clock.advance(4 * 60 + 50)  # 23:59:50
    world.scaler.tick()
    assert world.current() == 1
    clock.advance(15)
    world.scaler.tick()
    world.scaler.tick()
    assert world.current() == 5
    targets = world.scaling.describe_targets(ACCOUNT, REGION, {"ServiceNamespace": "lambda"})
    (target,) = targets["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (5, 8)
    changes = [a for a in world.activities() if "morning" in a["Cause"]]
    assert [a["Description"] for a in changes] == [
        "Setting desired concurrency to 5.",
        "Setting min capacity to 5 and max capacity to 8",
    ]
    world.store.close()
    # a restart neither forgets it fired nor fires it again
    again = build(tmp_path, stores, clock, world.capacity)
    again.scaler.tick()
    assert len([a for a in again.activities() if "morning" in a["Cause"]]) == 2
    again.store.close()


def test_everything_survives_a_restart(
    tmp_path: Path, stores: Callable[[], Backend], world: World
) -> None:
    register(world)
    answer = world.policy()
    world.scaling.put_action(
        ACCOUNT,
        REGION,
        {
            **TARGET,
            "ScheduledActionName": "a",
            "Schedule": "rate(1 day)",
            "ScalableTargetAction": {"MaxCapacity": 30},
        },
    )
    for _ in range(3):
        world.minute(1.0)
    world.store.close()
    again = build(tmp_path, stores, world.clock, world.capacity)
    policies = again.scaling.describe_policies(ACCOUNT, REGION, {"ServiceNamespace": "lambda"})
    assert [p["PolicyARN"] for p in policies["ScalingPolicies"]] == [answer["PolicyARN"]]
    actions = again.scaling.describe_actions(ACCOUNT, REGION, {"ServiceNamespace": "lambda"})
    assert [a["ScheduledActionName"] for a in actions["ScheduledActions"]] == ["a"]
    assert [a["Description"] for a in again.activities()] == [
        "Setting desired concurrency to 4.",
        "Setting desired concurrency to 2.",
    ]
    # the scaler remembers the last change: three new periods before the next scale-out
    again.minute(1.0)
    again.minute(1.0)
    assert again.current() == 4
    again.store.close()


def test_deregistering_deletes_the_policy_alarms(world: World) -> None:
    register(world)
    world.policy()
    assert len(world.alarm_states()) == 2
    world.scaling.deregister(ACCOUNT, REGION, TARGET)
    assert world.alarm_states() == {}
    assert world.scaling.describe_policies(ACCOUNT, REGION, {"ServiceNamespace": "lambda"}) == {
        "ScalingPolicies": [],
        "NextToken": None,
    }


def test_a_changed_schedule_counts_from_now(world: World) -> None:
    """Changing an action's schedule never fires the times the new schedule had before now."""
    register(world, low=1, high=10)
    action = {**TARGET, "ScheduledActionName": "a", "ScalableTargetAction": {"MinCapacity": 4}}
    world.scaling.put_action(ACCOUNT, REGION, {**action, "Schedule": "rate(1 day)"})
    world.clock.advance(3 * 3600)
    world.scaler.tick()
    world.scaling.put_action(ACCOUNT, REGION, {**action, "Schedule": "rate(1 hour)"})
    world.scaler.tick()
    assert world.current() == 1
    world.clock.advance(3600)
    world.scaler.tick()
    assert world.current() == 4


def test_registering_a_missing_qualifier_is_refused(
    tmp_path: Path, stores: Callable[[], Backend]
) -> None:
    existing = [(ACCOUNT, REGION, "f", "live")]
    world = build(tmp_path, stores, ManualClock(START), InMemoryCapacity(existing))
    with pytest.raises(Invalid) as caught:
        register(world)
    assert caught.value.message == (
        "Unable to register scalable target function:f:prod: Function not found: "
        "arn:aws:lambda:us-east-1:000000000000:function:f:prod"
    )
    assert world.scaling.describe_targets(ACCOUNT, REGION, {"ServiceNamespace": "lambda"}) == {
        "ScalableTargets": [],
        "NextToken": None,
    }
    world.store.close()


def test_a_lower_max_brings_capacity_down(world: World) -> None:
    register(world, low=1, high=10)
    world.capacity.set(ACCOUNT, REGION, "f", "prod", 8)
    world.scaling.register(ACCOUNT, REGION, {**TARGET, "MaxCapacity": 5})
    assert world.current() == 5
    assert world.activities()[0]["Cause"] == "maximum capacity was set to 5"


def test_suspended_scheduled_scaling_holds_actions_until_resumed(world: World) -> None:
    register(world, low=1, high=10)
    world.scaling.register(
        ACCOUNT, REGION, {**TARGET, "SuspendedState": {"ScheduledScalingSuspended": True}}
    )
    world.scaling.put_action(
        ACCOUNT,
        REGION,
        {
            **TARGET,
            "ScheduledActionName": "a",
            "Schedule": "rate(1 minute)",
            "ScalableTargetAction": {"MinCapacity": 3},
        },
    )
    world.clock.advance(120)
    world.scaler.tick()
    assert world.current() == 1
    world.scaling.register(
        ACCOUNT, REGION, {**TARGET, "SuspendedState": {"ScheduledScalingSuspended": False}}
    )
    world.scaler.tick()
    assert world.current() == 3
