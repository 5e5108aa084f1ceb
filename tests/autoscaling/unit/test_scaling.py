"""The target tracking decision, table-driven: scale out after 3 periods above the target, in
after 15 below 90% of it, the ceil(current * utilization / target) rule, min and max,
cooldowns, DisableScaleIn, suspended scaling, missing data and several policies."""

from __future__ import annotations

import pytest

from gureum.autoscaling.domain.policies import TargetTracking
from gureum.autoscaling.domain.scaling import Cooldowns, Decision, Direction, combined, decide
from gureum.autoscaling.domain.targets import ScalableTarget, TargetKey

KEY = TargetKey("000000000000", "us-east-1", "function:f:prod")
NOW = 10_000.0
POLICY = TargetTracking(0.5)


def target(low: int = 1, high: int = 100, **suspended: bool) -> ScalableTarget:
    return ScalableTarget(KEY, "id", low, high, "role", 0.0, dict(suspended))


OUT, IN = Direction.OUT, Direction.IN


@pytest.mark.parametrize(
    ("current", "periods", "low", "high", "expected"),
    [
        # 3 periods above 0.5 at 0.75: ceil(4 * 0.75 / 0.5) = 6
        (4, [0.75, 0.75, 0.75], 1, 100, (OUT, 6)),
        # the mean of the three: (1.0 + 0.6 + 0.8) / 3 = 0.8 -> ceil(10 * 1.6) = 16
        (10, [1.0, 0.6, 0.8], 1, 100, (OUT, 16)),
        # only 2 periods above: nothing
        (4, [0.4, 0.9, 0.9], 1, 100, None),
        (4, [0.9, 0.9], 1, 100, None),
        # exactly at the target is not above it
        (4, [0.5, 0.5, 0.5], 1, 100, None),
        # a barely-above utilization still adds one
        (10, [0.51, 0.51, 0.51], 1, 100, (OUT, 11)),
        # capped at max; already at max: nothing
        (4, [1.0, 1.0, 1.0], 1, 5, (OUT, 5)),
        (5, [1.0, 1.0, 1.0], 1, 5, None),
        # a missing period breaks the run
        (4, [0.9, None, 0.9], 1, 100, None),
        # 15 periods below 0.45: ceil(10 * 0.2 / 0.5) = 4
        (10, [0.2] * 15, 1, 100, (IN, 4)),
        # 14 are not enough
        (10, [0.2] * 14, 1, 100, None),
        # one period at 0.45 (not below 90% of the target) breaks the run
        (10, [0.2] * 7 + [0.45] + [0.2] * 7, 1, 100, None),
        # never below min; at min: nothing
        (10, [0.0] * 15, 3, 100, (IN, 3)),
        (3, [0.0] * 15, 3, 100, None),
        # utilization just below 90%: at least one removed
        (10, [0.44] * 15, 1, 100, (IN, 9)),
        # nothing allocated: nothing measured, nothing decided
        (0, [1.0, 1.0, 1.0], 0, 100, None),
    ],
)
def test_decisions(
    current: int,
    periods: list[float | None],
    low: int,
    high: int,
    expected: tuple[Direction, int] | None,
) -> None:
    decision = decide(target(low, high), POLICY, current, periods, Cooldowns(), NOW)
    if expected is None:
        assert decision is None
    else:
        assert decision is not None
        assert (decision.direction, decision.capacity) == expected


@pytest.mark.parametrize(
    ("policy", "cooldowns", "periods", "expected"),
    [
        # scale-out cooldown of 300 s: 200 s after the last scale-out, nothing
        (
            TargetTracking(0.5, scale_out_cooldown=300),
            Cooldowns(last_out=NOW - 200),
            [1.0] * 3,
            None,
        ),
        (
            TargetTracking(0.5, scale_out_cooldown=300),
            Cooldowns(last_out=NOW - 300),
            [1.0] * 3,
            OUT,
        ),
        # a scale-in cooldown never holds back a scale-out
        (TargetTracking(0.5, scale_in_cooldown=300), Cooldowns(last_in=NOW - 10), [1.0] * 3, OUT),
        # scale-in waits for its cooldown after a scale-in or a scale-out
        (
            TargetTracking(0.5, scale_in_cooldown=300),
            Cooldowns(last_in=NOW - 100),
            [0.1] * 15,
            None,
        ),
        (
            TargetTracking(0.5, scale_in_cooldown=300),
            Cooldowns(last_out=NOW - 100),
            [0.1] * 15,
            None,
        ),
        (TargetTracking(0.5, scale_in_cooldown=300), Cooldowns(last_in=NOW - 301), [0.1] * 15, IN),
        # cooldowns are scaled by --time-scale: 300 s at 0.01 is 3 s
        (
            TargetTracking(0.5, scale_out_cooldown=300),
            Cooldowns(last_out=NOW - 4, time_scale=0.01),
            [1.0] * 3,
            OUT,
        ),
        (
            TargetTracking(0.5, scale_out_cooldown=300),
            Cooldowns(last_out=NOW - 2, time_scale=0.01),
            [1.0] * 3,
            None,
        ),
        # DisableScaleIn: never in, still out
        (TargetTracking(0.5, disable_scale_in=True), Cooldowns(), [0.1] * 15, None),
        (TargetTracking(0.5, disable_scale_in=True), Cooldowns(), [1.0] * 3, OUT),
    ],
)
def test_cooldowns_and_disable_scale_in(
    policy: TargetTracking,
    cooldowns: Cooldowns,
    periods: list[float | None],
    expected: Direction | None,
) -> None:
    decision = decide(target(), policy, 10, periods, cooldowns, NOW)
    assert (decision.direction if decision else None) == expected


def test_suspended_dynamic_scaling_decides_nothing() -> None:
    out_suspended = target(DynamicScalingOutSuspended=True)
    in_suspended = target(DynamicScalingInSuspended=True)
    assert decide(out_suspended, POLICY, 10, [1.0] * 3, Cooldowns(), NOW) is None
    assert decide(in_suspended, POLICY, 10, [0.1] * 15, Cooldowns(), NOW) is None
    assert decide(in_suspended, POLICY, 10, [1.0] * 3, Cooldowns(), NOW) is not None


def test_several_policies_any_out_wins_in_needs_all() -> None:
    out_small, out_big = Decision(OUT, 12, 0.6), Decision(OUT, 20, 1.0)
    in_a, in_b = Decision(IN, 4, 0.2), Decision(IN, 6, 0.3)
    assert combined([out_small, in_a, out_big]) == out_big
    assert combined([in_a, in_b]) == in_b  # the smallest cut
    assert combined([in_a, None]) is None
    assert combined([None, None]) is None
