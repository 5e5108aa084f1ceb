"""The target tracking decision: from a target's recent utilization, its new capacity or none.

Pure over plain numbers, so every rule is a table row in its tests. The rules (spec 6.4, AWS's
alarm shapes):

* scale out when the last 3 one-minute periods are all above the target value (AlarmHigh);
* scale in when the last 15 are all below 90% of it (AlarmLow), unless DisableScaleIn;
* the new capacity is `ceil(current * utilization / target)`, where utilization is the mean of
  the periods that raised the alarm: the capacity that would have brought utilization back to
  the target, as AWS's target tracking "calculates the scaling adjustment based on the metric
  and the target value". A scale-out adds at least one, a scale-in removes at least one;
* always within [min, max]; a scale-out waits for ScaleOutCooldown after the last scale-out, a
  scale-in for ScaleInCooldown after the last scale-in *or* scale-out (scaling in conservatively
  protects availability); suspended dynamic scaling decides nothing;
* a period with no datapoint (no invocation published a utilization) breaks the run, as AWS's
  alarms treat missing data: an idle alias is not scaled in by target tracking alone.

Periods are those completed since the target's capacity last changed (the caller trims them):
utilization measured against an older capacity says nothing about the new one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from gureum.autoscaling.domain.policies import HIGH_PERIODS, LOW_PERIODS, LOW_RATIO, TargetTracking
from gureum.autoscaling.domain.targets import ScalableTarget


class Direction(StrEnum):
    OUT = "out"
    IN = "in"


@dataclass(frozen=True, slots=True)
class Cooldowns:
    """When the target last scaled out and in (epoch seconds), and the clock's scale."""

    last_out: float | None = None
    last_in: float | None = None
    time_scale: float = 1.0

    def waiting(self, since: float | None, seconds: int, now: float) -> bool:
        return since is not None and now - since < seconds * self.time_scale


@dataclass(frozen=True, slots=True)
class Decision:
    direction: Direction
    capacity: int
    utilization: float


def decide(
    target: ScalableTarget,
    policy: TargetTracking,
    current: int,
    periods: Sequence[float | None],
    cooldowns: Cooldowns,
    now: float,
) -> Decision | None:
    """What one policy asks of the target now; `periods` are period averages, oldest first."""
    if current <= 0:
        return None  # nothing allocated, nothing measured
    high = periods[-HIGH_PERIODS:]
    if len(high) == HIGH_PERIODS and all(p is not None and p > policy.target_value for p in high):
        if target.is_suspended("DynamicScalingOutSuspended"):
            return None
        if cooldowns.waiting(cooldowns.last_out, policy.scale_out_cooldown, now):
            return None
        utilization = _mean(high)
        wanted = max(current + 1, math.ceil(current * utilization / policy.target_value - 1e-9))
        capacity = target.clamp(wanted)
        return Decision(Direction.OUT, capacity, utilization) if capacity > current else None
    low = periods[-LOW_PERIODS:]
    floor = policy.target_value * LOW_RATIO
    if len(low) == LOW_PERIODS and all(p is not None and p < floor for p in low):
        if policy.disable_scale_in or target.is_suspended("DynamicScalingInSuspended"):
            return None
        moved = [t for t in (cooldowns.last_in, cooldowns.last_out) if t is not None]
        last = max(moved, default=None)
        if cooldowns.waiting(last, policy.scale_in_cooldown, now):
            return None
        utilization = _mean(low)
        wanted = min(current - 1, math.ceil(current * utilization / policy.target_value - 1e-9))
        capacity = target.clamp(wanted)
        return Decision(Direction.IN, capacity, utilization) if capacity < current else None
    return None


def combined(decisions: Sequence[Decision | None]) -> Decision | None:
    """Several policies on one target: any scale-out wins (the largest); a scale-in happens
    only when every policy asks for one (the smallest cut), as AWS combines them."""
    outs = [d for d in decisions if d is not None and d.direction is Direction.OUT]
    if outs:
        return max(outs, key=lambda d: d.capacity)
    ins = [d for d in decisions if d is not None and d.direction is Direction.IN]
    if ins and len(ins) == len(decisions):
        return max(ins, key=lambda d: d.capacity)
    return None


def _mean(values: Sequence[float | None]) -> float:
    present = [v for v in values if v is not None]
    return sum(present) / len(present)
