"""The rules of reading metrics back: periods, time ranges, statistics, and datapoints.

Points are one (scaled) minute wide: `Grid.width` is 60 seconds times `--time-scale`, and a
query's Period of N seconds covers N times the scale of the clock's seconds. Periods are
validated as the caller wrote them (AWS's rules are about the number: 1, 5, 10, 20, 30 or a
multiple of 60). A datapoint's Timestamp is the start of its period, counted from StartTime.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gureum.cloudwatch.domain.aggregates import Aggregate, valid_statistic
from gureum.cloudwatch.domain.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)

MAX_DATAPOINTS = 1440
HIGH_RESOLUTION = frozenset({1, 5, 10, 20, 30})
MINUTE = 60.0
_SLACK = 1e-6


@dataclass(frozen=True, slots=True)
class Grid:
    """Where points fall on the clock under `scale`."""

    scale: float = 1.0

    @property
    def width(self) -> float:
        return MINUTE * self.scale

    def point_start(self, at: float) -> float:
        """The start of the point `at` falls in."""
        return math.floor(at / self.width) * self.width

    def seconds(self, period: float) -> float:
        return period * self.scale


@dataclass(frozen=True, slots=True)
class Point:
    """One stored point: its start, its unit and what it aggregates."""

    start: float
    unit: str
    aggregate: Aggregate


def check_period(period: int | None, name: str = "Period") -> int:
    if period is None:
        raise MissingParameter(f"The parameter {name} is required.")
    if period <= 0 or (period not in HIGH_RESOLUTION and period % 60 != 0):
        raise InvalidParameterValue(f"The parameter {name} must be a multiple of 60.")
    return period


def check_range(start: float, end: float) -> None:
    if start >= end:
        raise InvalidParameterValue(
            "The parameter StartTime must be less than the parameter EndTime."
        )


def check_statistics_request(
    start: float, end: float, period: int | None, statistics: Sequence[str], extended: Sequence[str]
) -> None:
    """GetMetricStatistics' rules, in AWS's order."""
    period = check_period(period)
    check_range(start, end)
    if not statistics and not extended:
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics.")
    for name in extended:
        if not valid_statistic(name) or name[0] != "p":
            raise InvalidParameterValue(
                f"The value {name} for parameter ExtendedStatistics is not supported."
            )
    # The count is of the caller's periods over the caller's range: scale does not change it.
    requested = math.ceil((end - start) / period)
    if requested > MAX_DATAPOINTS:
        raise InvalidParameterCombination(
            f"You have requested up to {requested:,} datapoints, which exceeds the limit of "
            f"{MAX_DATAPOINTS:,}. You may reduce the datapoints requested by increasing Period, "
            "or decreasing the time range."
        )


def bucketed(
    points: Iterable[Point], start: float, end: float, period: float, unit: str | None
) -> dict[tuple[float, str], Aggregate]:
    """The points in [start, end) of `unit` (any when None), merged per period and unit; keys
    are (period start, unit). `period` is in the clock's seconds."""
    buckets: dict[tuple[float, str], Aggregate] = {}
    for point in points:
        if not start <= point.start < end or (unit is not None and point.unit != unit):
            continue
        # Epoch seconds near 2**31 carry about 0.2 us of error, which a scaled minute (0.6 s
        # under --time-scale 0.01) would turn into the period before: allow a millionth.
        index = math.floor((point.start - start) / period + _SLACK)
        key = (start + index * period, point.unit)
        buckets.setdefault(key, Aggregate()).merge(point.aggregate)
    return buckets


def datapoints(
    buckets: dict[tuple[float, str], Aggregate],
    statistics: Sequence[str],
    extended: Sequence[str],
) -> list[dict[str, object]]:
    """GetMetricStatistics' Datapoints, oldest first (AWS promises no order)."""
    result: list[dict[str, object]] = []
    for (at, unit), aggregate in sorted(buckets.items()):
        point: dict[str, object] = {"Timestamp": at, "Unit": unit}
        for name in statistics:
            point[name] = aggregate.statistic(name)
        if extended:
            values = {name: aggregate.statistic(name) for name in extended}
            point["ExtendedStatistics"] = {k: v for k, v in values.items() if v is not None}
        result.append(point)
    return result
