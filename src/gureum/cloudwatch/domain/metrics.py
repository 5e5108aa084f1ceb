"""Metrics and the samples published into them, with PutMetricData's rules.

A metric is its namespace, name and dimensions (order does not matter: `{A=1, B=2}` is
`{B=2, A=1}`); a sample is what one MetricDatum says about one metric at one time, in one unit.
Times are epoch seconds; periods that AWS states in seconds are multiplied by `scale`
(`--time-scale`) by the caller, so "two weeks" here is two weeks of the scaled clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gureum.cloudwatch.domain.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)

Dimensions = tuple[tuple[str, str], ...]
NONE_UNIT = "None"
MAX_VALUES = 150
MAX_DATA = 1000
# AWS rejects values outside +-2^360 (and NaN, and the infinities).
_LIMIT = 2.0**360
_PAST = 14 * 24 * 3600.0
_FUTURE = 2 * 3600.0


@dataclass(frozen=True, slots=True, order=True)
class MetricKey:
    namespace: str
    name: str
    dimensions: Dimensions = ()

    @staticmethod
    def of(namespace: str, name: str, dimensions: Mapping[str, str]) -> MetricKey:
        return MetricKey(namespace, name, tuple(sorted(dimensions.items())))

    def wire(self) -> dict[str, Any]:
        """The Metric shape."""
        return {
            "Namespace": self.namespace,
            "MetricName": self.name,
            "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions],
        }


@dataclass(frozen=True, slots=True)
class Sample:
    """Values (each with its count), or one statistic set, for `key` at `timestamp`."""

    key: MetricKey
    unit: str
    timestamp: float
    values: tuple[tuple[float, float], ...] = ()
    # (SampleCount, Sum, Minimum, Maximum)
    statistic_set: tuple[float, float, float, float] | None = None


def dimensions_of(wire: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in wire or ()}


def _check_value(value: float, where: str) -> float:
    if not math.isfinite(value) or abs(value) > _LIMIT:
        raise InvalidParameterValue(f"The value {value} for parameter {where} is invalid.")
    return value


def _values(datum: Mapping[str, Any], where: str) -> tuple[tuple[float, float], ...]:
    if "Value" in datum:
        return ((_check_value(float(datum["Value"]), f"{where}.Value"), 1.0),)
    values: list[float] = list(datum.get("Values") or ())
    counts: list[float] = list(datum.get("Counts") or [1.0] * len(values))
    if len(values) > MAX_VALUES:
        raise InvalidParameterValue(
            f"The collection {where}.Values must not contain more than {MAX_VALUES} items."
        )
    if len(counts) != len(values):
        raise InvalidParameterValue(
            f"The parameters {where}.Values and {where}.Counts must be of the same size."
        )
    return tuple(
        (_check_value(float(v), f"{where}.Values"), float(c))
        for v, c in zip(values, counts, strict=True)
    )


def _exclusive(datum: Mapping[str, Any], where: str) -> None:
    given = [name for name in ("Value", "StatisticValues", "Values") if name in datum]
    if len(given) > 1:
        raise InvalidParameterCombination(
            f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually exclusive "
            "and you have specified both."
        )
    if not given:
        raise MissingParameter(f"The parameter {where}.Value is required.")


def _timestamp(datum: Mapping[str, Any], where: str, now: float, scale: float) -> float:
    stamp = datum.get("Timestamp")
    if stamp is None:
        return now
    assert isinstance(stamp, datetime)
    at = stamp.timestamp()
    if at < now - _PAST * scale:
        raise InvalidParameterValue(
            f"The parameter {where}.Timestamp must specify a time no more than two weeks in "
            "the past."
        )
    if at > now + _FUTURE * scale:
        raise InvalidParameterValue(
            f"The parameter {where}.Timestamp must specify a time no more than two hours in "
            "the future."
        )
    return at


def samples_from(
    namespace: str, metric_data: Sequence[Mapping[str, Any]], now: float, scale: float
) -> list[Sample]:
    """PutMetricData's request as samples, or the first of AWS's refusals (nothing half-put)."""
    if namespace.startswith("AWS/"):
        raise InvalidParameterValue("The value AWS/ for parameter Namespace is invalid.")
    if not metric_data:
        raise MissingParameter("The parameter MetricData is required.")
    if len(metric_data) > MAX_DATA:
        raise InvalidParameterValue(
            f"The collection MetricData must not contain more than {MAX_DATA} items."
        )
    samples = []
    for index, datum in enumerate(metric_data, 1):
        where = f"MetricData.member.{index}"
        _exclusive(datum, where)
        wire_dimensions = datum.get("Dimensions") or ()
        dimensions = dimensions_of(wire_dimensions)
        if len(dimensions) != len(wire_dimensions):
            raise InvalidParameterValue(
                f"The collection {where}.Dimensions must not contain duplicate dimension names."
            )
        key = MetricKey.of(namespace, datum["MetricName"], dimensions)
        unit = datum.get("Unit") or NONE_UNIT
        at = _timestamp(datum, where, now, scale)
        statistics = datum.get("StatisticValues")
        if statistics is not None:
            numbers = [
                _check_value(float(statistics[name]), f"{where}.StatisticValues.{name}")
                for name in ("SampleCount", "Sum", "Minimum", "Maximum")
            ]
            statistic_set = (numbers[0], numbers[1], numbers[2], numbers[3])
            samples.append(Sample(key, unit, at, (), statistic_set))
        else:
            samples.append(Sample(key, unit, at, _values(datum, where)))
    return samples
