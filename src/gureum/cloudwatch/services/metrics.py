"""The metric service: samples in, statistics out, points buffered in memory and written in
batches.

Other services publish through `record` (Lambda, on every invoke): it folds the value into the
point it belongs to in an in-memory buffer, a few dictionary operations under a lock, and
returns; `flush` writes the buffer to the store in one transaction, and the assembly's loop calls
it every `FLUSH_INTERVAL` seconds off the request path, so a value is durable within about a
second. Reads flush first, so they always see what was recorded before them. PutMetricData
writes its own batch before answering, as AWS's 200 promises the data is accepted.

Under `--time-scale` a point is one scaled minute (`Grid`), Periods are scaled the same way, and
retention (15 days, AWS's for one-minute points) is scaled too; `max_points` bounds the file.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gureum.clock import Clock
from gureum.cloudwatch.domain.aggregates import Aggregate
from gureum.cloudwatch.domain.metric_data import (
    DEFAULT_MAX_DATAPOINTS,
    Series,
    metric_queries,
    next_token,
    page,
    token_offset,
)
from gureum.cloudwatch.domain.metrics import MetricKey, Sample, dimensions_of, samples_from
from gureum.cloudwatch.domain.queries import (
    Grid,
    bucketed,
    check_range,
    check_statistics_request,
    datapoints,
)
from gureum.cloudwatch.store.points import MetricStore, PointKey

FLUSH_INTERVAL = 0.5
RETENTION = 15 * 24 * 3600.0
MAX_POINTS = 2_000_000
LIST_PAGE = 500
# RecentlyActive=PT3H: metrics with a point in the last three hours.
RECENT = 3 * 3600.0
# ListMetrics lists metrics with data in the past two weeks.
LISTED = 14 * 24 * 3600.0


def _seconds(value: datetime) -> float:
    return value.timestamp()


class MetricService:
    """Metrics of every account and Region, with one buffer in front of the store."""

    def __init__(self, store: MetricStore, clock: Clock, time_scale: float = 1.0) -> None:
        self._store = store
        self._clock = clock
        self._scale = time_scale
        self.grid = Grid(time_scale)
        self._lock = threading.Lock()
        self._buffer: dict[PointKey, Aggregate] = {}

    # --- writing ------------------------------------------------------------------------------

    def record(
        self,
        account: str,
        region: str,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str],
        value: float,
        unit: str,
    ) -> None:
        """One value, now (the port other services publish through). Never blocks on I/O."""
        at = self.grid.point_start(self._clock.now().timestamp())
        key = PointKey(account, region, MetricKey.of(namespace, name, dimensions), unit, at)
        with self._lock:
            aggregate = self._buffer.get(key)
            if aggregate is None:
                aggregate = self._buffer[key] = Aggregate()
            aggregate.add(value)

    def put(self, account: str, region: str, namespace: str, data: Sequence[Any]) -> None:
        """PutMetricData: every datum checked first, then all written (nothing half-put)."""
        now = self._clock.now().timestamp()
        batch: dict[PointKey, Aggregate] = {}
        for sample in samples_from(namespace, data, now, self._scale):
            self._fold(batch, account, region, sample)
        self._store.write(batch)

    def _fold(
        self, batch: dict[PointKey, Aggregate], account: str, region: str, sample: Sample
    ) -> None:
        start = self.grid.point_start(sample.timestamp)
        key = PointKey(account, region, sample.key, sample.unit, start)
        aggregate = batch.setdefault(key, Aggregate())
        if sample.statistic_set is not None:
            aggregate.add_set(*sample.statistic_set)
        for value, count in sample.values:
            aggregate.add(value, count)

    def flush(self) -> None:
        """Writes what `record` buffered. On failure the batch goes back into the buffer."""
        with self._lock:
            batch, self._buffer = self._buffer, {}
        if not batch:
            return
        try:
            self._store.write(batch)
        except BaseException:
            with self._lock:
                for key, aggregate in batch.items():
                    self._buffer.setdefault(key, Aggregate()).merge(aggregate)
            raise

    def expire(self) -> None:
        now = self._clock.now().timestamp()
        self._store.expire(now - RETENTION * self._scale, MAX_POINTS)

    # --- reading ------------------------------------------------------------------------------

    def statistics(self, account: str, region: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """GetMetricStatistics."""
        start, end = _seconds(params["StartTime"]), _seconds(params["EndTime"])
        statistics = list(params.get("Statistics") or ())
        extended = list(params.get("ExtendedStatistics") or ())
        period = params.get("Period")
        check_statistics_request(start, end, period, statistics, extended)
        assert period is not None
        metric = MetricKey.of(
            params["Namespace"], params["MetricName"], dimensions_of(params.get("Dimensions"))
        )
        self.flush()
        points = self._store.points(account, region, metric, start - self.grid.width)
        buckets = bucketed(points, start, end, self.grid.seconds(period), params.get("Unit"))
        return {
            "Label": metric.name,
            "Datapoints": datapoints(buckets, statistics, extended),
        }

    def metric_data(self, account: str, region: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """GetMetricData, for MetricStat queries."""
        start, end = _seconds(params["StartTime"]), _seconds(params["EndTime"])
        check_range(start, end)
        queries = metric_queries(params["MetricDataQueries"])
        offset = token_offset(params.get("NextToken"))
        descending = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        self.flush()
        answers = []
        for query in queries:
            if not query.returned:
                continue
            metric = MetricKey.of(
                query.metric["Namespace"],
                query.metric["MetricName"],
                dimensions_of(query.metric.get("Dimensions")),
            )
            points = self._store.points(account, region, metric, start - self.grid.width)
            period = self.grid.seconds(query.period)
            merged: dict[float, Aggregate] = {}
            for (at, _unit), aggregate in bucketed(points, start, end, period, query.unit).items():
                merged.setdefault(at, Aggregate()).merge(aggregate)
            pairs = [
                (at, value)
                for at, aggregate in sorted(merged.items(), reverse=descending)
                if (value := aggregate.statistic(query.stat)) is not None
            ]
            answers.append(Series(query, pairs))
        limit = params.get("MaxDatapoints") or DEFAULT_MAX_DATAPOINTS
        results, token = page(answers, offset, limit)
        return {"MetricDataResults": results, "NextToken": token, "Messages": []}

    def list_metrics(self, account: str, region: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """ListMetrics: filters, RecentlyActive, pages of 500."""
        now = self._clock.now().timestamp()
        window = RECENT if params.get("RecentlyActive") == "PT3H" else LISTED
        self.flush()
        metrics = self._store.metrics(
            account,
            region,
            params.get("Namespace"),
            params.get("MetricName"),
            self.grid.point_start(now - window * self._scale),
        )
        filters = params.get("Dimensions") or ()
        matching = [m for m in metrics if _matches(m, filters)]
        offset = token_offset(params.get("NextToken"))
        chosen = matching[offset : offset + LIST_PAGE]
        more = offset + LIST_PAGE < len(matching)
        return {
            "Metrics": [m.wire() for m in chosen],
            "NextToken": next_token(offset + LIST_PAGE) if more else None,
        }

    def alarms(self, account: str, region: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """DescribeAlarms over the stored metric alarms."""
        names = set(params.get("AlarmNames") or ())
        prefix = params.get("AlarmNamePrefix") or ""
        state = params.get("StateValue")
        chosen = [
            alarm
            for alarm in self._store.alarms(account, region)
            if (not names or alarm["AlarmName"] in names)
            and alarm["AlarmName"].startswith(prefix)
            and (state is None or alarm.get("StateValue") == state)
        ]
        return {"MetricAlarms": chosen, "CompositeAlarms": []}

    def close(self) -> None:
        self._store.close()


def _matches(metric: MetricKey, filters: Sequence[Mapping[str, str]]) -> bool:
    dimensions = dict(metric.dimensions)
    for wanted in filters:
        if wanted["Name"] not in dimensions:
            return False
        if "Value" in wanted and dimensions[wanted["Name"]] != wanted["Value"]:
            return False
    return True
