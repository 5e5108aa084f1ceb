"""The dashboard's and the functions page's figures as CloudWatch queries, and their answers
folded into what the pages draw. Pure: times come in as epoch seconds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LAMBDA = "AWS/Lambda"
GUREUM = "Gureum/Lambda"  # what AWS publishes nowhere: see lambda_.services.metrics
# AWS's reasons for a 429 (lambda_.domain.concurrency.ThrottleReason), in the legend's order.
THROTTLE_REASONS = (
    "ConcurrentInvocationLimitExceeded",
    "ReservedFunctionConcurrentInvocationLimitExceeded",
    "FunctionInvocationRateLimitExceeded",
    "ReservedFunctionInvocationRateLimitExceeded",
)


@dataclass(frozen=True, slots=True)
class Figure:
    """One series of the dashboard: a metric, a statistic, and the key the page draws it by."""

    key: str
    namespace: str
    metric: str
    stat: str
    dimensions: Mapping[str, str]


def dashboard_figures(
    reserved: Sequence[str], provisioned: Sequence[tuple[str, str]]
) -> list[Figure]:
    """Every series of the live dashboard. `reserved`: functions with reserved concurrency;
    `provisioned`: (function, resource) of each provisioned concurrency configuration."""
    figures = [
        Figure("concurrency", LAMBDA, "ConcurrentExecutions", "Maximum", {}),
        Figure("unreserved", LAMBDA, "UnreservedConcurrentExecutions", "Maximum", {}),
        Figure("cold", GUREUM, "ColdStarts", "Sum", {}),
        Figure("warm", GUREUM, "WarmStarts", "Sum", {}),
        Figure("init", GUREUM, "InitDuration", "Average", {}),
        Figure("p50", LAMBDA, "Duration", "p50", {}),
        Figure("p90", LAMBDA, "Duration", "p90", {}),
        Figure("p99", LAMBDA, "Duration", "p99", {}),
        Figure("depth", GUREUM, "AsyncQueueDepth", "Maximum", {}),
        Figure("age", LAMBDA, "AsyncEventAge", "Maximum", {}),
        Figure("dlq", GUREUM, "DeadLetterDeliveries", "Sum", {}),
        Figure("dest", GUREUM, "DestinationDeliveries", "Sum", {}),
        Figure("dlqerr", LAMBDA, "DeadLetterErrors", "Sum", {}),
        Figure("desterr", LAMBDA, "DestinationDeliveryFailures", "Sum", {}),
    ]
    figures += [
        Figure(f"throttle:{reason}", GUREUM, "Throttles", "Sum", {"Reason": reason})
        for reason in THROTTLE_REASONS
    ]
    figures += [
        Figure(f"pool:{name}", LAMBDA, "ConcurrentExecutions", "Maximum", {"FunctionName": name})
        for name in reserved
    ]
    figures += [
        Figure(
            f"pc:{resource}",
            LAMBDA,
            "ProvisionedConcurrencyUtilization",
            "Maximum",
            {"FunctionName": name, "Resource": resource},
        )
        for name, resource in provisioned
    ]
    return figures


def queries(figures: Sequence[Figure], period: int) -> list[dict[str, Any]]:
    """GetMetricData's MetricDataQueries for `figures` (ids by position: keys are free text)."""
    return [
        {
            "Id": f"q{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": figure.namespace,
                    "MetricName": figure.metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in figure.dimensions.items()],
                },
                "Period": period,
                "Stat": figure.stat,
            },
        }
        for index, figure in enumerate(figures)
    ]


def timeline(start: float, end: float, step: float) -> list[float]:
    """The x axis every series shares: one point per period, oldest first."""
    first = start - start % step
    count = int((end - first) // step) + 1
    return [first + i * step for i in range(count)]


def aligned(
    figures: Sequence[Figure], results: Sequence[Mapping[str, Any]], xs: Sequence[float]
) -> dict[str, list[float | None]]:
    """Each figure's values on the shared axis (None where CloudWatch has no point)."""
    by_id = {r["Id"]: r for r in results}
    out: dict[str, list[float | None]] = {}
    for index, figure in enumerate(figures):
        result = by_id.get(f"q{index}", {})
        points = dict(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
        out[figure.key] = [points.get(x) for x in xs]
    return out


def total(values: Sequence[float | None]) -> float:
    return sum(v for v in values if v is not None)


def last_seen(xs: Sequence[float], values: Sequence[float | None]) -> float | None:
    """The latest time a count was above zero."""
    seen = [x for x, v in zip(xs, values, strict=True) if v]
    return seen[-1] if seen else None


@dataclass(frozen=True, slots=True)
class SplitRow:
    """One version of an alias: its configured share and the share it actually ran."""

    version: str
    configured: float  # percent
    invocations: int
    observed: float  # percent of the alias's invocations


def traffic_split(
    primary: str, weights: Mapping[str, float], executed: Mapping[str, int]
) -> list[SplitRow]:
    """An alias's routing beside what ran: the primary version takes what the additional
    versions' weights leave. Versions that ran but are no longer routed still show."""
    configured = {primary: 1.0 - sum(weights.values()), **dict(weights)}
    runs = sum(executed.values())
    versions = sorted(set(configured) | set(executed), key=_version_order)
    return [
        SplitRow(
            v,
            round(configured.get(v, 0.0) * 100, 2),
            executed.get(v, 0),
            round(executed.get(v, 0) * 100 / runs, 2) if runs else 0.0,
        )
        for v in versions
    ]


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 62, version)
