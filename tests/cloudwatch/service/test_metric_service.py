"""The metric service over its real store and a ManualClock: published values wait in memory
until a flush, reads flush first, a failed write loses nothing, the queue is bounded, retention
drops old points (scaled) and the oldest past the cap, and points are durable. Every test runs on
SQLite and on PostgreSQL (the `stores` fixture): the store's contract suite (issue #24)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gureum.aws.sql import Backend
from gureum.clock import ManualClock
from gureum.cloudwatch.domain.aggregates import Aggregate
from gureum.cloudwatch.domain.metrics import MetricKey
from gureum.cloudwatch.services.metrics import RETENTION, MetricService
from gureum.cloudwatch.store.points import MetricStore, PointKey

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACCOUNT, REGION = "000000000000", "us-east-1"
ORDERS = MetricKey("Shop", "Orders")


class FailingOnce(MetricStore):
    """The real store, whose next write fails (a full disk, say)."""

    fail = True

    def write(self, batch: Mapping[PointKey, Aggregate]) -> None:
        if self.fail:
            self.fail = False
            raise OSError("disk full")
        super().write(batch)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def store(stores: Callable[[], Backend]) -> Iterator[FailingOnce]:
    store = FailingOnce(stores())
    store.fail = False
    yield store
    store.close()


def publish(service: MetricService, value: float, name: str = "Orders") -> None:
    service.publish(ACCOUNT, REGION, "Shop", [(name, {}, value, "Count")])


def stored(store: MetricStore, metric: MetricKey = ORDERS) -> list[tuple[float, float]]:
    points = store.points(ACCOUNT, REGION, metric, 0.0)
    return [(point.start, point.aggregate.sum) for point in points]


def sums(service: MetricService, minutes: int = 10, period: int = 60) -> list[tuple[Any, float]]:
    answer = service.statistics(
        ACCOUNT,
        REGION,
        {
            "Namespace": "Shop",
            "MetricName": "Orders",
            "StartTime": START,
            "EndTime": START + timedelta(minutes=minutes),
            "Period": period,
            "Statistics": ["Sum"],
        },
    )
    return [(p["Timestamp"], p["Sum"]) for p in answer["Datapoints"]]


def test_published_values_wait_for_a_flush_and_reads_flush(
    store: MetricStore, clock: ManualClock
) -> None:
    service = MetricService(store, clock)
    publish(service, 1.0)
    clock.advance(30)
    publish(service, 2.0)
    clock.advance(60)
    publish(service, 4.0)
    assert stored(store) == []
    at = START.timestamp()
    assert sums(service) == [(at, 3.0), (at + 60, 4.0)]
    assert stored(store) == [(at, 3.0), (at + 60, 4.0)]


def test_a_failed_write_keeps_its_points_for_the_next(
    store: FailingOnce, clock: ManualClock
) -> None:
    service = MetricService(store, clock)
    publish(service, 1.0)
    store.fail = True
    with pytest.raises(OSError, match="disk full"):
        service.flush()
    publish(service, 2.0)
    service.flush()
    assert stored(store) == [(START.timestamp(), 3.0)]


def test_the_queue_is_bounded(store: MetricStore, clock: ManualClock) -> None:
    service = MetricService(store, clock, max_pending=2)
    for value in (1.0, 2.0, 4.0):
        publish(service, value)
    assert sums(service) == [(START.timestamp(), 3.0)]


def test_under_time_scale_a_point_is_a_scaled_minute(
    store: MetricStore, clock: ManualClock
) -> None:
    service = MetricService(store, clock, time_scale=0.01)  # a minute is 0.6 seconds
    publish(service, 1.0)
    clock.advance(0.7)
    publish(service, 2.0)
    at = START.timestamp()
    assert sums(service, minutes=1) == [(at, 1.0), (pytest.approx(at + 0.6), 2.0)]


def test_retention_is_scaled_and_forgets_the_metric(store: MetricStore, clock: ManualClock) -> None:
    service = MetricService(store, clock, time_scale=0.001)
    publish(service, 1.0)
    service.flush()
    clock.advance(RETENTION * 0.001 + 1)
    service.expire()
    assert stored(store) == []
    assert service.list_metrics(ACCOUNT, REGION, {"Namespace": "Shop"})["Metrics"] == []


def test_past_the_cap_the_oldest_points_go_first(store: MetricStore, clock: ManualClock) -> None:
    service = MetricService(store, clock, max_points=2)
    for value in (1.0, 2.0, 4.0):
        publish(service, value)
        clock.advance(60)
    service.flush()
    service.expire()
    at = START.timestamp()
    assert stored(store) == [(at + 60, 2.0), (at + 120, 4.0)]


def test_points_outlive_the_store(stores: Callable[[], Backend], clock: ManualClock) -> None:
    service = MetricService(MetricStore(stores()), clock)
    publish(service, 5.0)
    service.flush()
    service.close()
    again = MetricStore(stores())
    try:
        assert stored(again) == [(START.timestamp(), 5.0)]
    finally:
        again.close()


def test_a_start_time_inside_a_minute_reads_from_that_minute(
    store: MetricStore, clock: ManualClock
) -> None:
    service = MetricService(store, clock)
    clock.advance(10)
    publish(service, 1.0)
    clock.advance(60)
    publish(service, 2.0)
    answer = service.statistics(
        ACCOUNT,
        REGION,
        {
            "Namespace": "Shop",
            "MetricName": "Orders",
            "StartTime": START + timedelta(seconds=30),
            "EndTime": START + timedelta(minutes=2),
            "Period": 60,
            "Statistics": ["Sum"],
        },
    )
    at = START.timestamp()
    assert [(p["Timestamp"], p["Sum"]) for p in answer["Datapoints"]] == [
        (at, 1.0),
        (at + 60, 2.0),
    ]


def test_list_metrics_narrows_by_namespace_and_name_in_byte_order(
    store: MetricStore, clock: ManualClock
) -> None:
    service = MetricService(store, clock)
    service.publish(ACCOUNT, REGION, "Shop", [("b", {}, 1.0, "Count"), ("B", {}, 1.0, "Count")])
    service.publish(ACCOUNT, REGION, "Shop", [("a", {"Z": "1"}, 1.0, "Count")])
    service.publish(ACCOUNT, REGION, "Other", [("a", {}, 1.0, "Count")])
    service.publish("111111111111", REGION, "Shop", [("a", {}, 1.0, "Count")])

    def listed(**params: str) -> list[tuple[str, str]]:
        metrics = service.list_metrics(ACCOUNT, REGION, params)["Metrics"]
        return [(m["Namespace"], m["MetricName"]) for m in metrics]

    assert listed() == [("Other", "a"), ("Shop", "B"), ("Shop", "a"), ("Shop", "b")]
    assert listed(Namespace="Shop") == [("Shop", "B"), ("Shop", "a"), ("Shop", "b")]
    assert listed(MetricName="a") == [("Other", "a"), ("Shop", "a")]
    assert listed(Namespace="Shop", MetricName="a") == [("Shop", "a")]


def test_alarms_are_replaced_listed_by_name_and_deleted(
    store: MetricStore, clock: ManualClock
) -> None:
    service = MetricService(store, clock)
    alarm = {
        "Namespace": "Shop",
        "MetricName": "Orders",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    for name in ("low", "High", "high"):
        service.put_alarm(ACCOUNT, REGION, {**alarm, "AlarmName": name})
    service.put_alarm(ACCOUNT, REGION, {**alarm, "AlarmName": "low", "Threshold": 5.0})
    service.put_alarm("111111111111", REGION, {**alarm, "AlarmName": "other"})

    def described() -> list[tuple[str, float]]:
        found = service.alarms(ACCOUNT, REGION, {})["MetricAlarms"]
        return [(a["AlarmName"], a["Threshold"]) for a in found]

    assert described() == [("High", 1.0), ("high", 1.0), ("low", 5.0)]
    service.delete_alarms(ACCOUNT, REGION, ["High", "low", "missing"])
    assert described() == [("high", 1.0)]
    assert [a["AlarmName"] for a in service.alarms("111111111111", REGION, {})["MetricAlarms"]] == [
        "other"
    ]


def test_a_later_write_adds_to_the_stored_point_and_never_ages_the_metric(
    store: MetricStore, clock: ManualClock
) -> None:
    service = MetricService(store, clock)
    publish(service, 1.0)
    service.flush()
    publish(service, 2.0)
    service.flush()
    assert stored(store) == [(START.timestamp(), 3.0)]
    # A point put four hours back: the metric stays recently active, by its newest point.
    past = START - timedelta(hours=4)
    datum = {"MetricName": "Orders", "Value": 8.0, "Timestamp": past}
    service.put(ACCOUNT, REGION, "Shop", [datum])
    recent = service.list_metrics(ACCOUNT, REGION, {"RecentlyActive": "PT3H"})["Metrics"]
    assert [m["MetricName"] for m in recent] == ["Orders"]
    assert stored(store) == [(past.timestamp(), 8.0), (START.timestamp(), 3.0)]


def test_a_batch_of_many_series_is_written_whole_and_merges_into_what_is_stored(
    store: MetricStore,
) -> None:
    at = START.timestamp()
    # Past what one statement writes (`_CHUNK`), over two minutes of the same series.
    keys = [
        PointKey(ACCOUNT, REGION, MetricKey("Shop", f"m{n}", (("Id", str(n)),)), "Count", start)
        for n in range(700)
        for start in (at, at + 60)
    ]

    def batch(value: float) -> dict[PointKey, Aggregate]:
        aggregates = {key: Aggregate() for key in keys}
        for aggregate in aggregates.values():
            aggregate.add(value)
        return aggregates

    store.write(batch(1.0))
    store.write(batch(2.0))
    assert len(store.metrics(ACCOUNT, REGION, "Shop", None, 0.0)) == 700
    for key in (keys[0], keys[-1]):
        points = store.points(ACCOUNT, REGION, key.metric, 0.0)
        assert [(p.start, p.aggregate.sum, p.aggregate.count) for p in points] == [
            (at, 3.0, 2.0),
            (at + 60, 3.0, 2.0),
        ]
