"""What one point of a metric holds, and the statistics read from it.

A point aggregates every value published for one metric, unit and minute on write: sum, sample
count, minimum, maximum, and a histogram for percentiles. The histogram has logarithmic buckets
1% wide (bucket `+i` holds positive values near 1.01**i, `-i` negative ones, `0` zero), so it is
bounded (about 4,200 buckets cover 1e-9 to 1e9 in magnitude, and it is sparse) and merges by
adding counts, which is what a period of several minutes does. Beside it, the exact values are
kept with their counts while there are at most `EXACT_VALUES` distinct ones (an invocation
count is one value however many invocations), so a point (or a period) with few distinct values
answers exact percentiles; past that, a percentile is within about 1% of the exact value, and
never outside [Minimum, Maximum].
Statistic sets (StatisticValues) carry no values, so they add to every statistic but the
percentiles. A percentile is the nearest rank: the smallest value with at least that share of
the values at or below it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_GROWTH = 1.01
_LOG_GROWTH = math.log(_GROWTH)
_ZERO = "0"
# pNN or pNN.NN (AWS allows up to two decimals): p50, p99, p99.9, p100.
PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,2})?|100(?:\.0{1,2})?)")
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
EXACT_VALUES = 100


def bucket_of(value: float) -> str:
    """The histogram bucket of `value`."""
    if value == 0 or not math.isfinite(value):
        return _ZERO
    index = round(math.log(abs(value)) / _LOG_GROWTH)
    return f"+{index}" if value > 0 else f"-{index}"


def _value_of(bucket: str) -> float:
    if bucket == _ZERO:
        return 0.0
    magnitude: float = _GROWTH ** int(bucket[1:])
    return magnitude if bucket[0] == "+" else -magnitude


@dataclass(slots=True)
class Aggregate:
    """Sum, count, min, max and histogram of the values of one point (or several, merged)."""

    sum: float = 0.0
    count: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    histogram: dict[str, float] = field(default_factory=dict)
    # Each value and its count while there are at most EXACT_VALUES distinct values; None
    # once there were more.
    values: dict[float, float] | None = field(default_factory=dict)

    def add(self, value: float, count: float = 1.0) -> None:
        """`count` occurrences of `value` (PutMetricData's Values and Counts)."""
        self.sum += value * count
        self.count += count
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)
        bucket = bucket_of(value)
        self.histogram[bucket] = self.histogram.get(bucket, 0.0) + count
        if self.values is not None:
            self.values[value] = self.values.get(value, 0.0) + count
            if len(self.values) > EXACT_VALUES:
                self.values = None

    def add_set(self, count: float, total: float, minimum: float, maximum: float) -> None:
        """A statistic set (StatisticValues)."""
        self.sum += total
        self.count += count
        self.minimum = min(self.minimum, minimum)
        self.maximum = max(self.maximum, maximum)

    def merge(self, other: Aggregate) -> None:
        self.add_set(other.count, other.sum, other.minimum, other.maximum)
        for bucket, count in other.histogram.items():
            self.histogram[bucket] = self.histogram.get(bucket, 0.0) + count
        if self.values is None or other.values is None:
            self.values = None
            return
        for value, count in other.values.items():
            self.values[value] = self.values.get(value, 0.0) + count
        if len(self.values) > EXACT_VALUES:
            self.values = None

    def statistic(self, name: str) -> float | None:
        """One of `STATISTICS`, or a pNN percentile (None when no value supports it)."""
        if self.count <= 0:
            return None
        simple = {
            "SampleCount": self.count,
            "Sum": self.sum,
            "Average": self.sum / self.count,
            "Minimum": self.minimum,
            "Maximum": self.maximum,
        }
        if name in simple:
            return simple[name]
        match = PERCENTILE.fullmatch(name)
        return None if match is None else self.percentile(float(match.group(1)))

    def percentile(self, rank: float) -> float | None:
        """The smallest value with at least `rank`% of the values at or below it."""
        total = sum(self.histogram.values())
        if total <= 0:
            return None
        wanted = total * rank / 100.0
        if self.values is not None:
            seen = 0.0
            for value in sorted(self.values):
                seen += self.values[value]
                if seen >= wanted and seen > 0:
                    return value
            return self.maximum
        seen = 0.0
        for bucket in sorted(self.histogram, key=_value_of):
            seen += self.histogram[bucket]
            if seen >= wanted and seen > 0:
                return min(max(_value_of(bucket), self.minimum), self.maximum)
        return self.maximum


def merged(aggregates: Iterable[Aggregate]) -> Aggregate:
    total = Aggregate()
    for aggregate in aggregates:
        total.merge(aggregate)
    return total


def valid_statistic(name: str) -> bool:
    return name in STATISTICS or PERCENTILE.fullmatch(name) is not None
