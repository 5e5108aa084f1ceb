"""Lambda's CloudWatch metrics: published into CloudWatch (namespace `AWS/Lambda`) through the
`MetricPublisher` port, and exported for Prometheus at `GET /_gureum/metrics`.

Names and dimensions are AWS's (`Invocations`, `Throttles`, `ConcurrentExecutions`, ...,
`FunctionName`); for Prometheus they are prefixed `aws_lambda_`, so a dashboard reads like the
CloudWatch console. Counters count as they happen; concurrency gauges are read from the ledger at
scrape time for Prometheus, and sampled into CloudWatch by `sample_concurrency` (the Lambda
assembly calls it once per scaled second), so their Maximum and Average are over those samples.

CloudWatch gets each value under AWS's dimension sets (spec 6.5): `FunctionName`;
`FunctionName` + `Resource` (`name:qualifier`, when the invocation named a qualifier);
`FunctionName` + `Resource` + `ExecutedVersion` (through an alias, the version it ran); and none,
the account's aggregate. Publishing only buffers in memory (the port's promise), so the invoke
path pays a few dictionary updates.

Provisioned concurrency (spec 6.5) adds `Resource` (`FunctionName:Qualifier`, the version or
alias whose configuration it is): ProvisionedConcurrencyInvocations and
ProvisionedConcurrencySpilloverInvocations count as they happen; ProvisionedConcurrentExecutions
(environments in use) and ProvisionedConcurrencyUtilization (in use / allocated) are read at
scrape time from the provisioner's usage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LABELS = ("Region", "FunctionName")
NAMESPACE = "AWS/Lambda"
EFS_NAMESPACE = "AWS/EFS"  # the connections Lambda's environments hold to file systems
# What AWS publishes nowhere (or only in logs) but the console charts: throttles by reason, cold
# and warm starts with Init Duration, the async queue's depth, dead-letter and destination
# deliveries. gureum's own namespace, so nothing here poses as an AWS metric.
GUREUM_NAMESPACE = "Gureum/Lambda"


# One value of one metric: (name, dimensions, value, unit).
Datum = tuple[str, Mapping[str, str], float, str]


class MetricPublisher(Protocol):
    """Where Lambda's metrics go (CloudWatch's metric service, filled in by the composition
    root). `publish` must not block: it queues the values, stamped now, and the publisher
    aggregates and writes them off the request path."""

    def publish(self, account: str, region: str, namespace: str, data: Sequence[Datum]) -> None: ...


class LedgerView(Protocol):
    """What the gauges read of the Ledger port (`services.ledger`): counts as last seen."""

    def scopes(self) -> list[tuple[str, str]]: ...

    def in_flight(self, scope: tuple[str, str], function_id: str | None = None) -> int: ...

    def unreserved_in_flight(self, scope: tuple[str, str]) -> int: ...


class _NoPublisher:
    def publish(self, account: str, region: str, namespace: str, data: Sequence[Datum]) -> None:
        pass


def _qualifier(invoked_arn: str) -> str | None:
    """The qualifier an invocation named (`arn:aws:lambda:r:a:function:name:qualifier`)."""
    parts = invoked_arn.split(":")
    return parts[7] if len(parts) > 7 else None


_RESOURCE_LABELS = ("Region", "FunctionName", "Resource")
# (account, region, function name, resource, environments in use, allocated) per READY
# configuration.
ProvisionedUsage = Callable[[], list[tuple[str, str, str, str, int, int]]]


class _ProvisionedCollector(Collector):
    def __init__(self) -> None:
        self.usage: ProvisionedUsage = list

    def collect(self) -> Iterator[GaugeMetricFamily]:
        executions = GaugeMetricFamily(
            "aws_lambda_ProvisionedConcurrentExecutions",
            "Provisioned environments running an invocation now",
            labels=list(_RESOURCE_LABELS),
        )
        utilization = GaugeMetricFamily(
            "aws_lambda_ProvisionedConcurrencyUtilization",
            "Provisioned environments in use divided by those allocated",
            labels=list(_RESOURCE_LABELS),
        )
        for _, region, name, resource, in_use, allocated in self.usage():
            executions.add_metric([region, name, resource], in_use)
            utilization.add_metric([region, name, resource], in_use / allocated if allocated else 0)
        yield executions
        yield utilization


class _LedgerCollector(Collector):
    def __init__(self, ledger: LedgerView, names: dict[tuple[str, str, str], str]) -> None:
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

    def __init__(self, ledger: LedgerView, publisher: MetricPublisher | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._ledger = ledger
        self._publisher: MetricPublisher = publisher or _NoPublisher()
        # Functions running at the last sample: each gets one more sample (its 0) after.
        self._sampled: set[tuple[str, str, str]] = set()
        self._connected: set[tuple[str, str, str]] = set()
        self._queued: set[tuple[str, str]] = set()
        self._names: dict[tuple[str, str, str], str] = {}
        self.registry.register(_LedgerCollector(ledger, self._names))
        self._provisioned = _ProvisionedCollector()
        self.registry.register(self._provisioned)
        self._provisioned_invocations = Counter(
            "aws_lambda_ProvisionedConcurrencyInvocations",
            "Invocations run on provisioned environments",
            _RESOURCE_LABELS,
            registry=self.registry,
        )
        self._spillover = Counter(
            "aws_lambda_ProvisionedConcurrencySpilloverInvocations",
            "Invocations run on demand while every provisioned environment was in use",
            _RESOURCE_LABELS,
            registry=self.registry,
        )
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
        self._recursive_dropped = Counter(
            "aws_lambda_RecursiveInvocationsDropped",
            "Invocations stopped by recursive loop detection",
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

    def _publish(
        self,
        account: str,
        region: str,
        function: str,
        metrics: Sequence[tuple[str, float, str]],
        invoked_arn: str = "",
        executed_version: str | None = None,
    ) -> None:
        """`metrics` (name, value, unit) of an invocation of `function`, each under every one of
        AWS's dimension sets that applies, in one call to the publisher."""
        sets: list[Mapping[str, str]] = [{}, {"FunctionName": function}]
        qualifier = _qualifier(invoked_arn)
        if qualifier is not None:
            resource = {"FunctionName": function, "Resource": f"{function}:{qualifier}"}
            sets.append(resource)
            if executed_version is not None and executed_version != qualifier:
                sets.append({**resource, "ExecutedVersion": executed_version})
        data = [(name, dims, value, unit) for name, value, unit in metrics for dims in sets]
        self._publisher.publish(account, region, NAMESPACE, data)

    def invocation(
        self,
        region: str,
        name: str,
        duration_ms: float,
        failed: bool,
        *,
        account: str = "",
        invoked_arn: str = "",
        executed_version: str | None = None,
        init_duration_ms: float | None = None,
    ) -> None:
        """One invocation that ran; `init_duration_ms` is its Init Duration when it started
        an environment (a cold start), None on a warm one."""
        self._invocations.labels(region, name).inc()
        self._duration.labels(region, name).observe(duration_ms)
        if failed:
            self._errors.labels(region, name).inc()
        metrics = (
            ("Invocations", 1.0, "Count"),
            ("Duration", duration_ms, "Milliseconds"),
            ("Errors", 1.0 if failed else 0.0, "Count"),
        )
        self._publish(account, region, name, metrics, invoked_arn, executed_version)
        starts: list[tuple[str, float, str]] = (
            [("WarmStarts", 1.0, "Count")]
            if init_duration_ms is None
            else [("ColdStarts", 1.0, "Count"), ("InitDuration", init_duration_ms, "Milliseconds")]
        )
        self._publish_own(account, region, name, starts)

    def _publish_own(
        self,
        account: str,
        region: str,
        function: str,
        metrics: Sequence[tuple[str, float, str]],
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """`metrics` into gureum's own namespace, for the account and for `function`; `extra`
        dimensions (a throttle's Reason) are added to both."""
        more = dict(extra or {})
        sets: list[Mapping[str, str]] = [more, {"FunctionName": function, **more}]
        data = [(name, dims, value, unit) for name, value, unit in metrics for dims in sets]
        self._publisher.publish(account, region, GUREUM_NAMESPACE, data)

    def watch_provisioned(self, usage: ProvisionedUsage) -> None:
        """Where the provisioned gauges are read from at scrape time (the provisioner)."""
        self._provisioned.usage = usage

    def provisioned_invocation(
        self, region: str, name: str, resource: str, *, account: str = ""
    ) -> None:
        self._provisioned_invocations.labels(region, name, resource).inc()
        self._publish_provisioned(
            account, region, name, resource, "ProvisionedConcurrencyInvocations"
        )

    def spillover(self, region: str, name: str, resource: str, *, account: str = "") -> None:
        self._spillover.labels(region, name, resource).inc()
        metric = "ProvisionedConcurrencySpilloverInvocations"
        self._publish_provisioned(account, region, name, resource, metric)

    def _publish_provisioned(
        self, account: str, region: str, name: str, resource: str, metric: str
    ) -> None:
        data: list[Datum] = [
            (metric, dims, 1.0, "Count")
            for dims in ({}, {"FunctionName": name}, {"FunctionName": name, "Resource": resource})
        ]
        self._publisher.publish(account, region, NAMESPACE, data)

    def throttle(self, region: str, name: str, *, account: str = "", reason: str = "") -> None:
        self._throttles.labels(region, name).inc()
        self._publish(account, region, name, (("Throttles", 1.0, "Count"),))
        if reason:  # AWS's Reason of the 429, which AWS/Lambda's Throttles does not split by
            metric = (("Throttles", 1.0, "Count"),)
            self._publish_own(account, region, name, metric, {"Reason": reason})

    def async_received(self, region: str, name: str, *, account: str = "") -> None:
        self._async_received.labels(region, name).inc()
        self._publish(account, region, name, (("AsyncEventsReceived", 1.0, "Count"),))

    def async_attempt(self, region: str, name: str, age_ms: float, *, account: str = "") -> None:
        self._async_age.labels(region, name).observe(age_ms)
        self._publish(account, region, name, (("AsyncEventAge", age_ms, "Milliseconds"),))

    def async_dropped(self, region: str, name: str, *, account: str = "") -> None:
        self._async_dropped.labels(region, name).inc()
        self._publish(account, region, name, (("AsyncEventsDropped", 1.0, "Count"),))

    def recursive_dropped(self, region: str, name: str, *, account: str = "") -> None:
        self._recursive_dropped.labels(region, name).inc()
        self._publish(account, region, name, (("RecursiveInvocationsDropped", 1.0, "Count"),))

    def destination_failure(self, region: str, name: str, *, account: str = "") -> None:
        self._destination_failures.labels(region, name).inc()
        self._publish(account, region, name, (("DestinationDeliveryFailures", 1.0, "Count"),))

    def delivered(self, region: str, name: str, *, account: str = "", dead_letter: bool) -> None:
        """A record a dead-letter queue or a destination took."""
        metric = "DeadLetterDeliveries" if dead_letter else "DestinationDeliveries"
        self._publish_own(account, region, name, ((metric, 1.0, "Count"),))

    def dead_letter_error(self, region: str, name: str, *, account: str = "") -> None:
        self._dead_letter_errors.labels(region, name).inc()
        self._publish(account, region, name, (("DeadLetterErrors", 1.0, "Count"),))

    def sample_concurrency(self) -> None:
        """One sample of the concurrency gauges into CloudWatch: the account's executions and
        unreserved executions, and each function's while it runs (and once more at 0)."""
        data: dict[tuple[str, str], list[Datum]] = {}
        for scope in self._ledger.scopes():
            running = float(self._ledger.in_flight(scope))
            unreserved = float(self._ledger.unreserved_in_flight(scope))
            data.setdefault(scope, []).extend(
                [
                    ("ConcurrentExecutions", {}, running, "Count"),
                    ("UnreservedConcurrentExecutions", {}, unreserved, "Count"),
                ]
            )
        by_name: dict[tuple[str, str, str], int] = {}
        for (account, region, function_id), name in list(self._names.items()):
            key = (account, region, name)
            in_flight = self._ledger.in_flight((account, region), function_id)
            by_name[key] = by_name.get(key, 0) + in_flight
        active = {key for key, running in by_name.items() if running > 0}
        for account, region, name in active | self._sampled:
            value = float(by_name.get((account, region, name), 0))
            datum: Datum = ("ConcurrentExecutions", {"FunctionName": name}, value, "Count")
            data.setdefault((account, region), []).append(datum)
        self._sampled = active
        # Every configuration whose environments serve, idle or not: an idle one reads 0, so
        # target tracking can scale it in (gureum's choice; AWS's emission when idle is not
        # documented).
        for account, region, name, resource, in_use, allocated in self._provisioned.usage():
            dims = {"FunctionName": name, "Resource": resource}
            share = in_use / allocated if allocated else 0.0
            data.setdefault((account, region), []).extend(
                [
                    ("ProvisionedConcurrentExecutions", dims, float(in_use), "Count"),
                    ("ProvisionedConcurrencyUtilization", dims, share, "None"),
                ]
            )
        for (account, region), sampled in data.items():
            self._publisher.publish(account, region, NAMESPACE, sampled)

    def sample_connections(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        """EFS's ClientConnections of each file system environments hold connections to (and
        once more at 0), in AWS/EFS by FileSystemId (spec 7.3)."""
        data: dict[tuple[str, str], list[Datum]] = {}
        active = {key for key, count in counts.items() if count > 0}
        for account, region, file_system_id in active | self._connected:
            value = float(counts.get((account, region, file_system_id), 0))
            datum: Datum = ("ClientConnections", {"FileSystemId": file_system_id}, value, "Count")
            data.setdefault((account, region), []).append(datum)
        self._connected = active
        for (account, region), sampled in data.items():
            self._publisher.publish(account, region, EFS_NAMESPACE, sampled)

    def queue_depth(self, depths: Mapping[tuple[str, str], int]) -> None:
        """Events waiting in the durable queue, by (account, region): the Prometheus gauge
        counts them all; each account gets its AsyncQueueDepth (and one more 0 once empty)."""
        self._queue_depth.set(sum(depths.values()))
        for account, region in set(depths) | self._queued:
            depth = float(depths.get((account, region), 0))
            datum: Datum = ("AsyncQueueDepth", {}, depth, "Count")
            self._publisher.publish(account, region, GUREUM_NAMESPACE, [datum])
        self._queued = {scope for scope, depth in depths.items() if depth > 0}

    def render(self) -> bytes:
        return generate_latest(self.registry)
