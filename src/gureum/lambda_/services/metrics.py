"""Lambda's CloudWatch metrics, exported for Prometheus at `GET /_gureum/metrics`.

Names and dimensions are AWS's (`Invocations`, `Throttles`, `ConcurrentExecutions`, ...,
`FunctionName`), prefixed `aws_lambda_`, so a dashboard reads like the CloudWatch console.
Counters count as they happen; concurrency gauges are read from the ledger at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gureum.lambda_.domain.concurrency import ConcurrencyLedger

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LABELS = ("Region", "FunctionName")


class _LedgerCollector(Collector):
    def __init__(self, ledger: ConcurrencyLedger, names: dict[tuple[str, str, str], str]) -> None:
        self._ledger = ledger
        self._names = names

    def collect(self) -> Iterator[GaugeMetricFamily]:
        account = GaugeMetricFamily(
            "aws_lambda_ConcurrentExecutions",
            "Executions running now (account-wide when FunctionName is empty)",
            labels=["Account", *_LABELS],
        )
        unreserved = GaugeMetricFamily(
            "aws_lambda_UnreservedConcurrentExecutions",
            "Executions running now from the unreserved pool",
            labels=["Account", "Region"],
        )
        for scope in self._ledger.scopes():
            account_id, region = scope
            account.add_metric([account_id, region, ""], self._ledger.in_flight(scope))
            unreserved.add_metric([account_id, region], self._ledger.unreserved_in_flight(scope))
        # A function deleted and created again under its name is one series, not two.
        by_name: dict[tuple[str, str, str], int] = {}
        for (account_id, region, function_id), name in self._names.items():
            running = self._ledger.in_flight((account_id, region), function_id)
            key = (account_id, region, name)
            by_name[key] = by_name.get(key, 0) + running
        for labels, running in by_name.items():
            account.add_metric(list(labels), running)
        yield account
        yield unreserved


class LambdaMetrics:
    """Counters updated as things happen; gauges read from the ledger at scrape time."""

    def __init__(self, ledger: ConcurrencyLedger) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._names: dict[tuple[str, str, str], str] = {}
        self.registry.register(_LedgerCollector(ledger, self._names))
        self._invocations = Counter(
            "aws_lambda_Invocations", "Invocations run", _LABELS, registry=self.registry
        )
        self._errors = Counter(
            "aws_lambda_Errors",
            "Invocations ending in a function error",
            _LABELS,
            registry=self.registry,
        )
        self._throttles = Counter(
            "aws_lambda_Throttles",
            "Invocation requests refused with 429",
            _LABELS,
            registry=self.registry,
        )
        self._duration = Histogram(
            "aws_lambda_Duration",
            "Invocation duration in milliseconds",
            _LABELS,
            buckets=(1, 5, 10, 50, 100, 500, 1000, 5000, 30000, 900000),
            registry=self.registry,
        )

        self._async_received = Counter(
            "aws_lambda_AsyncEventsReceived",
            "Events accepted into the durable queue",
            _LABELS,
            registry=self.registry,
        )
        self._async_dropped = Counter(
            "aws_lambda_AsyncEventsDropped",
            "Events given up on (after failure handling)",
            _LABELS,
            registry=self.registry,
        )
        self._async_age = Histogram(
            "aws_lambda_AsyncEventAge",
            "Milliseconds from queueing to an attempt",
            _LABELS,
            buckets=(10, 100, 1000, 10000, 60000, 300000, 3600000, 21600000),
            registry=self.registry,
        )
        self._destination_failures = Counter(
            "aws_lambda_DestinationDeliveryFailures",
            "Records a destination did not take",
            _LABELS,
            registry=self.registry,
        )
        self._dead_letter_errors = Counter(
            "aws_lambda_DeadLetterErrors",
            "Events the dead-letter queue did not take",
            _LABELS,
            registry=self.registry,
        )
        self._queue_depth = Gauge(
            "gureum_async_queue_depth",
            "Events waiting in the durable queue",
            registry=self.registry,
        )

    def known(self, account: str, region: str, function_id: str, name: str) -> None:
        self._names[(account, region, function_id)] = name

    def invocation(self, region: str, name: str, duration_ms: float, failed: bool) -> None:
        self._invocations.labels(region, name).inc()
        self._duration.labels(region, name).observe(duration_ms)
        if failed:
            self._errors.labels(region, name).inc()

    def throttle(self, region: str, name: str) -> None:
        self._throttles.labels(region, name).inc()

    def async_received(self, region: str, name: str) -> None:
        self._async_received.labels(region, name).inc()

    def async_attempt(self, region: str, name: str, age_ms: float) -> None:
        self._async_age.labels(region, name).observe(age_ms)

    def async_dropped(self, region: str, name: str) -> None:
        self._async_dropped.labels(region, name).inc()

    def destination_failure(self, region: str, name: str) -> None:
        self._destination_failures.labels(region, name).inc()

    def dead_letter_error(self, region: str, name: str) -> None:
        self._dead_letter_errors.labels(region, name).inc()

    def queue_depth(self, depth: int) -> None:
        self._queue_depth.set(depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)
