"""The metric service: samples in, statistics out, points buffered in memory and written in
batches.

Other services publish through `publish` (Lambda, on every invoke): it stamps the values with
the time and appends them to a queue, one list append under a lock, and returns; `flush` folds
the queue into one-minute points and writes them to the store in one transaction, and the
assembly's loop calls it every `FLUSH_INTERVAL` seconds off the request path, so a value is
durable within about a second. The queue is bounded (`MAX_PENDING` values; past it, new values
are dropped and counted in the log, never blocking an invoke). Reads flush first, so they always
see what was published before them. PutMetricData writes its own batch before answering, as
AWS's 200 promises the data is accepted.

Under `--time-scale` a point is one scaled minute (`Grid`), Periods are scaled the same way, and
retention (15 days, AWS's for one-minute points) is scaled too; `max_points` bounds the file.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gureum.clock import Clock
from gureum.cloudwatch.domain.aggregates import Aggregate
from gureum.cloudwatch.domain.alarms import for_metric, metric_alarm, with_state
from gureum.cloudwatch.domain.errors import AlarmNotFound
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

log = logging.getLogger("gureum.cloudwatch")
# One value of one metric, as published: (name, dimensions, value, unit).
Datum = tuple[str, Mapping[str, str], float, str]
FLUSH_INTERVAL = 0.5
MAX_PENDING = 1_000_000
RETENTION = 15 * 24 * 3600.0
# Under 1 KB a point on disk (measured: 0.75 KB on average for Lambda's three invocation metrics
# at 50 invocations a minute), so at most about a GB of points.
MAX_POINTS = 1_000_000
LIST_PAGE = 500
ALARM_PAGE = 50
# RecentlyActive=PT3H: metrics with a point in the last three hours.
RECENT = 3 * 3600.0
# ListMetrics lists metrics with data in the past two weeks.
LISTED = 14 * 24 * 3600.0


# AWS rounds a recent StartTime down to its minute, so datapoints fall on whole minutes
# (`12:00:30` reads from `12:00`); the slack keeps a start already on a minute where it is.
_SLACK = 1e-6


def _seconds(value: datetime) -> float:
    return value.timestamp()


class MetricService:
    """Metrics of every account and Region, with one queue in front of the store.

    Invariants: a published value is in exactly one place (the queue, the batch a failed write
    left, or the store) until retention drops it; every read flushes first, so it sees every
    value published before it; PutMetricData and PutMetricAlarm reach the disk before they
    return. Thread-safe: the queue is behind a lock, the store serialises its writers.
    """

    def __init__(
        self,
        store: MetricStore,
        clock: Clock,
        time_scale: float = 1.0,
        max_pending: int = MAX_PENDING,
        max_points: int = MAX_POINTS,
    ) -> None:
        self._store = store
        self._max_pending = max_pending
        self._max_points = max_points
        self._clock = clock
        self._scale = time_scale
        self.grid = Grid(time_scale)
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str, str, float, Sequence[Datum]]] = []
        self._queued = 0
        self._dropped = 0
        # What a failed write left, merged into the next.
        self._unwritten: dict[PointKey, Aggregate] = {}

    # --- writing ------------------------------------------------------------------------------

    def publish(self, account: str, region: str, namespace: str, data: Sequence[Datum]) -> None:
        """Values measured now (the port other services publish through). Never blocks on I/O."""
        at = self._clock.now().timestamp()
        with self._lock:
            if self._queued + len(data) > self._max_pending:
                self._dropped += len(data)
                return
            self._queued += len(data)
            self._pending.append((account, region, namespace, at, data))

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
        """Folds what was published into points and writes them. On failure they are kept for
        the next flush."""
        with self._lock:
            pending, self._pending, self._queued = self._pending, [], 0
            dropped, self._dropped = self._dropped, 0
            batch, self._unwritten = self._unwritten, {}
        if dropped:
            log.warning("dropped %d metric values: the writer fell behind", dropped)
        # Values are counted per point first (an invocation count is 1.0 every time), so each
        # distinct value of a point is folded into its aggregate once.
        counted: dict[tuple[Any, ...], dict[float, float]] = {}
        for account, region, namespace, at, data in pending:
            start = self.grid.point_start(at)
            for name, dimensions, value, unit in data:
                key = (account, region, namespace, name, tuple(dimensions.items()), unit, start)
                values = counted.get(key)
                if values is None:
                    values = counted[key] = {}
                values[value] = values.get(value, 0.0) + 1.0
        for (account, region, namespace, name, pairs, unit, start), values in counted.items():
            metric = MetricKey.of(namespace, name, dict(pairs))
            aggregate = batch.setdefault(
                PointKey(account, region, metric, unit, start), Aggregate()
            )
            for value, count in values.items():
                aggregate.add(value, count)
        if not batch:
            return
        try:
            self._store.write(batch)
        except BaseException:
            with self._lock:
                for point, unwritten in self._unwritten.items():
                    batch.setdefault(point, Aggregate()).merge(unwritten)
                self._unwritten = batch
            raise

    def expire(self) -> None:
        now = self._clock.now().timestamp()
        self._store.expire(now - RETENTION * self._scale, self._max_points)

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
        start = self.grid.point_start(start + _SLACK)
        self.flush()
        points = self._store.points(account, region, metric, start)
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
        start = self.grid.point_start(start + _SLACK)
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
            points = self._store.points(account, region, metric, start)
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
        """DescribeAlarms over the stored metric alarms, in name order, paged."""
        names = set(params.get("AlarmNames") or ())
        prefix = params.get("AlarmNamePrefix") or ""
        state = params.get("StateValue")
        types = params.get("AlarmTypes") or ["MetricAlarm"]
        chosen = [
            alarm
            for alarm in self._store.alarms(account, region)
            if (not names or alarm["AlarmName"] in names)
            and alarm["AlarmName"].startswith(prefix)
            and (state is None or alarm.get("StateValue") == state)
            and "MetricAlarm" in types
        ]
        offset = token_offset(params.get("NextToken"))
        size = params.get("MaxRecords") or ALARM_PAGE
        more = offset + size < len(chosen)
        return {
            "MetricAlarms": chosen[offset : offset + size],
            "CompositeAlarms": [],
            "NextToken": next_token(offset + size) if more else None,
        }

    def put_alarm(self, account: str, region: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """PutMetricAlarm: creates the alarm, or replaces its configuration. Other services
        (Application Auto Scaling's target tracking) create theirs through this too."""
        now = self._clock.now().timestamp()
        name = params["AlarmName"]
        previous = next(
            (a for a in self._store.alarms(account, region) if a["AlarmName"] == name), None
        )
        alarm = metric_alarm(params, account, region, now, previous)
        self._store.put_alarm(account, region, name, alarm)
        return alarm

    def set_alarm_state(self, account: str, region: str, params: Mapping[str, Any]) -> None:
        """SetAlarmState (and how an alarm evaluator records what it decided)."""
        name = params["AlarmName"]
        alarm = next(
            (a for a in self._store.alarms(account, region) if a["AlarmName"] == name), None
        )
        if alarm is None:
            raise AlarmNotFound(f"Alarm {name} not found")
        now = self._clock.now().timestamp()
        state, reason = params["StateValue"], params["StateReason"]
        updated = with_state(alarm, state, reason, params.get("StateReasonData"), now)
        self._store.put_alarm(account, region, name, updated)

    def alarms_for_metric(
        self, account: str, region: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """DescribeAlarmsForMetric."""
        alarms = self._store.alarms(account, region)
        return {"MetricAlarms": [a for a in alarms if for_metric(a, params)]}

    def delete_alarms(self, account: str, region: str, names: Sequence[str]) -> None:
        """DeleteAlarms: a name with no alarm is no error, as on AWS."""
        self._store.delete_alarms(account, region, names)

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
