"""GetMetricData's rules: which queries it runs, and how its datapoints are paged.

gureum runs MetricStat queries; a metric math or Metrics Insights Expression is refused with a
ValidationError naming the query, rather than answered wrongly. A page holds at most
MaxDatapoints datapoints across every returned query, in query order; the NextToken is the
number of datapoints already delivered, and a query cut short says `PartialData`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gureum.cloudwatch.domain.aggregates import valid_statistic
from gureum.cloudwatch.domain.errors import InvalidNextToken, MetricQueryInvalid
from gureum.cloudwatch.domain.queries import check_period

DEFAULT_MAX_DATAPOINTS = 100_800
MAX_QUERIES = 500


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """One MetricStat query: what to read, which statistic, over which period."""

    id: str
    metric: Mapping[str, Any]
    stat: str
    period: int
    unit: str | None
    label: str
    returned: bool


def metric_queries(wire: Sequence[Mapping[str, Any]]) -> list[MetricQuery]:
    """The queries of a request, or AWS's refusal of the first that cannot run."""
    if len(wire) > MAX_QUERIES:
        raise MetricQueryInvalid(
            f"The collection MetricDataQueries must not contain more than {MAX_QUERIES} items."
        )
    seen: set[str] = set()
    queries = []
    for index, query in enumerate(wire, 1):
        where = f"MetricDataQueries.member.{index}"
        query_id = query["Id"]
        if query_id in seen:
            raise MetricQueryInvalid(
                f"The value {query_id} for parameter {where}.Id is a duplicate."
            )
        seen.add(query_id)
        if "Expression" in query:
            raise MetricQueryInvalid(
                f"Error in expression '{query_id}': gureum runs MetricStat queries only; "
                "metric math and Metrics Insights expressions are not supported."
            )
        stat = query.get("MetricStat")
        if stat is None:
            raise MetricQueryInvalid(
                f"Query '{query_id}' must specify either MetricStat or Expression."
            )
        if not valid_statistic(stat["Stat"]):
            raise MetricQueryInvalid(
                f"The value {stat['Stat']} for parameter {where}.MetricStat.Stat is invalid."
            )
        period = check_period(stat.get("Period"), f"{where}.MetricStat.Period")
        label = query.get("Label") or stat["Metric"].get("MetricName", query_id)
        returned = query.get("ReturnData", True)
        queries.append(
            MetricQuery(
                query_id, stat["Metric"], stat["Stat"], period, stat.get("Unit"), label, returned
            )
        )
    return queries


def token_offset(token: str | None) -> int:
    if token is None:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(token.encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidNextToken("The service couldn't process the NextToken.") from None
    if offset < 0:
        raise InvalidNextToken("The service couldn't process the NextToken.")
    return offset


def next_token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


@dataclass(frozen=True, slots=True)
class Series:
    """One query's answer before paging: (timestamp, value) pairs in the order to return."""

    query: MetricQuery
    points: Sequence[tuple[float, float]]


def page(
    answers: Sequence[Series], offset: int, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """MetricDataResults from `offset` on, at most `limit` datapoints, and the next token."""
    results = []
    skipped = offset
    room = limit
    delivered = offset
    more = False
    for series in answers:
        points = series.points[min(skipped, len(series.points)) :]
        skipped = max(0, skipped - len(series.points))
        taken = points[:room]
        room -= len(taken)
        delivered += len(taken)
        partial = len(taken) < len(points)
        more = more or partial
        results.append(
            {
                "Id": series.query.id,
                "Label": series.query.label,
                "Timestamps": [at for at, _ in taken],
                "Values": [value for _, value in taken],
                "StatusCode": "PartialData" if partial else "Complete",
                "Messages": [],
            }
        )
    return results, next_token(delivered) if more else None
