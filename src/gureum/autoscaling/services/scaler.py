"""The scaler: one `tick` applies the scheduled actions that are due and the target tracking
decisions of every target with a policy. The assembly's loop calls it every `interval()`
seconds on a worker thread (its owner cancels it on shutdown); tests call it by hand under a
`ManualClock`.

What it reads once per completed period, for each target with a policy: the Average
utilization of the last 15 completed one-minute periods (scaled) from CloudWatch, the periods
before the target's last capacity change left out (`domain.scaling`); the current capacity from
Lambda. The two alarms' states follow what the decision saw (ALARM, OK, or INSUFFICIENT_DATA
while periods are missing), written to CloudWatch only when they change. A capacity Lambda
refuses is a Failed activity, tried again at the next period, never in a hot loop.

Scheduled actions: the next firing after the last one (or the creation) is due when it is at or
before now, within StartTime and EndTime; one that was due while the server was down fires
once when it is back. Firing sets the target's min and max (a max below the new min is raised
to it) and brings the capacity within them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from gureum.autoscaling.domain.actions import ScheduledAction
from gureum.autoscaling.domain.activities import alarm_cause, scheduled_cause
from gureum.autoscaling.domain.policies import HIGH_PERIODS, LOW_PERIODS, LOW_RATIO, ScalingPolicy
from gureum.autoscaling.domain.scaling import Decision, combined, decide
from gureum.autoscaling.domain.schedules import parse_schedule
from gureum.autoscaling.domain.targets import ScalableTarget, TargetKey
from gureum.autoscaling.services.changes import CapacityChanges
from gureum.autoscaling.services.ports import AlarmWriter, ProvisionedCapacity, UtilizationReader
from gureum.autoscaling.services.scaling import zone
from gureum.autoscaling.store.scaling import ScalingStore
from gureum.aws.errors import AwsError
from gureum.clock import Clock

log = logging.getLogger("gureum.autoscaling")
# Ticks per period: scheduled actions fire within a sixth of a (scaled) minute of their time.
TICKS_PER_PERIOD = 6


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Scaler:
    def __init__(
        self,
        store: ScalingStore,
        capacity: ProvisionedCapacity,
        utilization: UtilizationReader,
        alarms: AlarmWriter,
        changes: CapacityChanges,
        clock: Clock,
        time_scale: float,
    ) -> None:
        self._store = store
        self._capacity = capacity
        self._utilization = utilization
        self._alarms = alarms
        self._changes = changes
        self._clock = clock
        self._time_scale = time_scale
        # The alarm states last written, so CloudWatch is written only on a change.
        self._states: dict[tuple[str, str, str], str] = {}
        # The end of the last period each target was evaluated through: once per period, as
        # CloudWatch evaluates an alarm once per period.
        self._evaluated: dict[TargetKey, float] = {}

    def interval(self) -> float:
        return self._utilization.period() / TICKS_PER_PERIOD

    def tick(self) -> None:
        for target in self._store.targets():
            try:
                with self._changes.guard:
                    self._scale(target)
            except Exception:
                # One target's failure (Lambda or CloudWatch refusing) never stops the others.
                log.exception("scaling %s failed", target.key.resource_id)

    def _scale(self, target: ScalableTarget) -> None:
        current = target
        if not target.is_suspended("ScheduledScalingSuspended"):
            for action in self._store.actions(target.key):
                current = self._fire_if_due(current, action)
        policies = self._store.policies(target.key)
        if policies:
            self._track(current, policies)

    # --- scheduled actions --------------------------------------------------------------------

    def _fire_if_due(self, target: ScalableTarget, action: ScheduledAction) -> ScalableTarget:
        now = self._clock.now()
        after = action.last_fired if action.last_fired is not None else action.created
        if action.start is not None:
            after = max(after, action.start - 1e-6)
        base = action.start if action.start is not None else action.created
        moment = parse_schedule(action.schedule).next_after(
            _at(after), _at(base), zone(action.timezone), self._time_scale
        )
        if moment is None or moment > now:
            return target
        if action.end is not None and moment.timestamp() > action.end:
            return target
        low = target.min_capacity if action.min_capacity is None else action.min_capacity
        high = target.max_capacity if action.max_capacity is None else action.max_capacity
        updated = replace(target, min_capacity=low, max_capacity=max(low, high))
        self._store.put_target(updated)
        self._store.put_action(replace(action, last_fired=now.timestamp()))
        cause = scheduled_cause(action.name)
        self._changes.record(
            target.key,
            f"Setting min capacity to {low} and max capacity to {updated.max_capacity}",
            cause,
            f"Successfully set min capacity to {low} and max capacity to {updated.max_capacity}",
        )
        key = target.key
        current = self._capacity.get(key.account, key.region, key.function, key.qualifier) or 0
        wanted = updated.clamp(current)
        if wanted != current:
            self._changes.change(key, wanted, cause, None)
        return updated

    # --- target tracking ----------------------------------------------------------------------

    def _track(self, target: ScalableTarget, policies: list[ScalingPolicy]) -> None:
        key = target.key
        now = self._clock.now().timestamp()
        width = self._utilization.period()
        end = math.floor(now / width) * width
        if self._evaluated.get(key) == end:
            return  # no period has completed since this target was last evaluated
        self._evaluated[key] = end
        start = end - LOW_PERIODS * width
        averages = self._utilization.averages(
            key.account, key.region, key.function, key.qualifier, start, LOW_PERIODS
        )
        cooldowns, changed_at = self._store.cooldowns(key, self._time_scale)
        periods = [
            value
            for index, value in enumerate(averages)
            if changed_at is None or start + index * width >= changed_at
        ]
        try:
            current = self._capacity.get(key.account, key.region, key.function, key.qualifier)
        except AwsError as error:
            log.warning("cannot read the capacity of %s: %s", key.resource_id, error.message)
            return
        decisions = [
            decide(target, p.config, current or 0, periods, cooldowns, now) for p in policies
        ]
        for policy in policies:
            self._show_alarms(policy, periods)
        decision = combined(decisions)
        if decision is None:
            return
        self._apply(policies[decisions.index(decision)], decision)

    def _apply(self, policy: ScalingPolicy, decision: Decision) -> None:
        alarm = policy.high_alarm if decision.direction == "out" else policy.low_alarm
        self._changes.change(
            policy.key,
            decision.capacity,
            alarm_cause(alarm, policy.name),
            decision.direction.value,
        )

    def _show_alarms(self, policy: ScalingPolicy, periods: list[float | None]) -> None:
        target = policy.config.target_value
        self._show(
            policy,
            policy.high_alarm,
            periods[-HIGH_PERIODS:],
            HIGH_PERIODS,
            lambda v: v > target,
            f"above {target}",
        )
        self._show(
            policy,
            policy.low_alarm,
            periods[-LOW_PERIODS:],
            LOW_PERIODS,
            lambda v: v < target * LOW_RATIO,
            f"below {target * LOW_RATIO:g}",
        )

    def _show(
        self,
        policy: ScalingPolicy,
        name: str,
        window: list[float | None],
        needed: int,
        breaching: Callable[[float], bool],
        threshold: str,
    ) -> None:
        present = [v for v in window if v is not None]
        if len(present) == needed and all(breaching(v) for v in present):
            state = "ALARM"
        elif present and not breaching(present[-1]):
            state = "OK"
        else:
            state = "INSUFFICIENT_DATA"
        key = (policy.key.account, policy.key.region, name)
        if self._states.get(key) == state:
            return
        reason = (
            f"Threshold Crossed: the last {needed} datapoints were {threshold}"
            if state == "ALARM"
            else f"Utilization {state} against the threshold {threshold}"
        )
        self._alarms.set_state(policy.key.account, policy.key.region, name, state, reason)
        self._states[key] = state
