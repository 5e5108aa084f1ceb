"""What the console's pages show, read through the other services for one account and Region.

Every method takes the signed-in `Session` and asks only for that session's account: a page
can never show another account's functions, queues, keys or figures. Methods block (SQLite):
the web layer runs them on worker threads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gureum.aws.errors import AwsError
from gureum.console.domain.figures import (
    LAMBDA,
    Figure,
    SplitRow,
    aligned,
    dashboard_figures,
    last_seen,
    queries,
    timeline,
    total,
    traffic_split,
)
from gureum.console.domain.sessions import Session
from gureum.console.services.sources import Sources
from gureum.kms.domain.keys import Key
from gureum.lambda_.domain.aliases import Alias
from gureum.lambda_.domain.arns import FunctionRef
from gureum.lambda_.domain.event_configs import EventInvokeConfig
from gureum.lambda_.domain.functions import FunctionVersion
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.functions import VersionView
from gureum.sqs.domain.messages import Message
from gureum.sqs.domain.queues import QueueKey

HOUR = 3600.0
DASHBOARD_WINDOW = 15 * 60.0  # what the live charts span (scaled by --time-scale)


@dataclass(frozen=True, slots=True)
class FunctionRow:
    name: str
    runtime: str
    state: str
    memory: int
    reserved: int | None
    provisioned: int
    last_invocation: float | None  # epoch seconds (to the minute)
    errors: int
    throttles: int


@dataclass(frozen=True, slots=True)
class AliasView:
    alias: Alias
    split: list[SplitRow]


@dataclass(frozen=True, slots=True)
class FunctionPage:
    latest: VersionView
    versions: list[FunctionVersion]
    aliases: list[AliasView]
    key: Key | None
    key_error: str | None
    event_configs: list[tuple[str, EventInvokeConfig]]
    provisioned: list[tuple[str, int, int, str]]  # qualifier, requested, allocated, status


@dataclass(frozen=True, slots=True)
class QueueRow:
    name: str
    url: str
    visible: int
    in_flight: int
    delayed: int
    oldest_age: float | None  # seconds
    dead_letter_target: str | None
    dead_letter_of: list[str]


@dataclass(frozen=True, slots=True)
class KeyRow:
    key: Key
    functions: list[str]


@dataclass
class Dashboard:
    xs: list[float]
    series: dict[str, list[float | None]]
    account_limit: int
    reserved: dict[str, int]
    provisioned: list[str]
    activities: list[dict[str, Any]] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        return {
            "xs": self.xs,
            "series": self.series,
            "accountLimit": self.account_limit,
            "reserved": self.reserved,
            "provisioned": self.provisioned,
            "activities": self.activities,
        }


def _caller(session: Session) -> Caller:
    return Caller(session.account, session.region)


class Readings:
    """The pages' data, read through Lambda's, SQS's, KMS's, CloudWatch's and Application Auto
    Scaling's services."""

    def __init__(self, sources: Sources) -> None:
        self._s = sources

    @property
    def _step(self) -> float:
        return 60.0 * self._s.time_scale

    # --- functions --------------------------------------------------------------------------

    def _all_functions(self, session: Session) -> list[VersionView]:
        views: list[VersionView] = []
        marker: str | None = None
        while True:
            page = self._s.functions.list_functions(_caller(session), marker, None, False)
            views.extend(page.items)
            marker = page.next_marker
            if marker is None:
                return views

    def _metric_data(
        self, session: Session, figures: list[Figure], span: float
    ) -> tuple[list[float], dict[str, list[float | None]]]:
        end = self._s.now()
        start = end - span
        xs = timeline(start, end, self._step)
        series: dict[str, list[float | None]] = {}
        for chunk in range(0, len(figures), 400):  # GetMetricData takes 500 queries a call
            part = figures[chunk : chunk + 400]
            answer = self._s.metrics.metric_data(
                session.account,
                session.region,
                {
                    "StartTime": datetime.fromtimestamp(start, UTC),
                    "EndTime": datetime.fromtimestamp(end + self._step, UTC),
                    "MetricDataQueries": queries(part, 60),
                    "ScanBy": "TimestampAscending",
                },
            )
            series.update(aligned(part, answer["MetricDataResults"], xs))
        return xs, series

    def functions(self, session: Session) -> list[FunctionRow]:
        views = self._all_functions(session)
        figures = []
        for view in views:
            dims = {"FunctionName": view.function.name}
            figures += [
                Figure(f"inv:{view.function.name}", LAMBDA, "Invocations", "Sum", dims),
                Figure(f"err:{view.function.name}", LAMBDA, "Errors", "Sum", dims),
                Figure(f"thr:{view.function.name}", LAMBDA, "Throttles", "Sum", dims),
            ]
        xs, series = self._metric_data(session, figures, HOUR * self._s.time_scale)
        rows = []
        for view in views:
            name, settings = view.function.name, view.version.settings
            rows.append(
                FunctionRow(
                    name,
                    settings.runtime or settings.package_type,
                    view.version.lifecycle.state.value,
                    settings.memory_size,
                    view.function.reserved_concurrency,
                    self._provisioned_total(session, name),
                    last_seen(xs, series[f"inv:{name}"]),
                    int(total(series[f"err:{name}"])),
                    int(total(series[f"thr:{name}"])),
                )
            )
        return rows

    def _provisioned_total(self, session: Session, name: str) -> int:
        page = self._s.provisioned.list_configs(_caller(session), FunctionRef(name), None, None)
        return sum(v.config.allocated for v in page.items)

    def function(self, session: Session, name: str) -> FunctionPage:
        caller = _caller(session)
        latest = self._s.functions.get(caller, FunctionRef(name))
        versions = self._s.functions.list_versions(caller, FunctionRef(name), None, None).items
        _, aliases = self._s.aliases.list_aliases(caller, FunctionRef(name), None, None, None)
        split = self._executed(session, name, aliases.items)
        key, key_error = None, None
        key_arn = latest.version.settings.kms_key_arn
        if key_arn:
            try:
                key = self._s.keys.describe_key(session.account, session.region, key_arn)
            except AwsError as error:
                key_error = f"{error.code}: {error.message}"
        _, event_configs = self._s.event_configs.list_configs(caller, FunctionRef(name))
        provisioned = self._s.provisioned.list_configs(caller, FunctionRef(name), None, None)
        return FunctionPage(
            latest,
            [v.version for v in versions],
            [
                AliasView(a, traffic_split(a.function_version, a.weights, split.get(a.name, {})))
                for a in aliases.items
            ],
            key,
            key_error,
            event_configs,
            [
                (p.config.qualifier, p.config.requested, p.config.allocated, p.config.status.value)
                for p in provisioned.items
            ],
        )

    def _executed(
        self, session: Session, name: str, aliases: list[Alias]
    ) -> dict[str, dict[str, int]]:
        """Invocations through each alias by ExecutedVersion over the last hour (CloudWatch's
        FunctionName + Resource + ExecutedVersion dimension set)."""
        figures = []
        for alias in aliases:
            versions = {alias.function_version, *alias.weights}
            figures += [
                Figure(
                    f"{alias.name}\n{version}",
                    LAMBDA,
                    "Invocations",
                    "Sum",
                    {
                        "FunctionName": name,
                        "Resource": f"{name}:{alias.name}",
                        "ExecutedVersion": version,
                    },
                )
                for version in versions
            ]
        _, series = self._metric_data(session, figures, HOUR * self._s.time_scale)
        out: dict[str, dict[str, int]] = {}
        for key, values in series.items():
            alias_name, _, version = key.partition("\n")
            out.setdefault(alias_name, {})[version] = int(total(values))
        return out

    def log_tail(
        self, session: Session, name: str, since_ms: int
    ) -> tuple[list[tuple[int, str]], int]:
        """The function's log lines after `since_ms` (newest streams first looked at), and the
        timestamp to continue from."""
        group = f"/aws/lambda/{name}"
        streams = self._s.logs.streams(session.account, session.region, group)
        recent = [s for s in streams if s[2] > since_ms]
        recent.sort(key=lambda s: s[2])
        lines: list[tuple[int, str]] = []
        for stream, *_ in recent[-5:]:
            events = self._s.logs.events(session.account, session.region, group, stream)
            lines += [(e.timestamp, e.message) for e in events if e.timestamp > since_ms]
        lines.sort(key=lambda line: line[0])
        lines = lines[-200:]
        return lines, max([since_ms, *(t for t, _ in lines)])

    # --- dashboard --------------------------------------------------------------------------

    def dashboard(self, session: Session) -> Dashboard:
        views = self._all_functions(session)
        reserved = {
            v.function.name: v.function.reserved_concurrency
            for v in views
            if v.function.reserved_concurrency is not None
        }
        provisioned = []
        for view in views:
            page = self._s.provisioned.list_configs(
                _caller(session), FunctionRef(view.function.name), None, None
            )
            provisioned += [
                (view.function.name, f"{view.function.name}:{p.config.qualifier}")
                for p in page.items
            ]
        figures = dashboard_figures(sorted(reserved), provisioned)
        xs, series = self._metric_data(session, figures, DASHBOARD_WINDOW * self._s.time_scale)
        activities = self._s.scaling.describe_activities(
            session.account, session.region, {"ServiceNamespace": "lambda", "MaxResults": 10}
        ).get("ScalingActivities", [])
        return Dashboard(
            xs,
            series,
            self._s.limits.account,
            reserved,
            [resource for _, resource in provisioned],
            [_activity(a) for a in activities],
        )

    # --- queues -----------------------------------------------------------------------------

    def queues(self, session: Session) -> list[QueueRow]:
        keys, _ = self._s.queues.list_queues(session.account, session.region)
        now = self._s.now()
        rows = []
        for key in keys:
            attributes = self._s.queues.get_attributes(key, ["All"])
            oldest = self._s.queues.browse(key, 1)
            policy = attributes.get("RedrivePolicy")
            target = None
            if policy:
                target = str(json.loads(policy).get("deadLetterTargetArn", "")).rsplit(":", 1)[-1]
            rows.append(
                QueueRow(
                    key.name,
                    self._s.queues.url(key),
                    int(attributes.get("ApproximateNumberOfMessages", 0)),
                    int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                    int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
                    now - oldest[0].sent if oldest else None,
                    target,
                    [k.name for k in self._s.queues.dead_letter_sources(key)],
                )
            )
        return rows

    def messages(self, session: Session, name: str) -> list[Message]:
        return self._s.queues.browse(QueueKey(session.account, session.region, name), 50)

    # --- keys -------------------------------------------------------------------------------

    def keys(self, session: Session) -> list[KeyRow]:
        users: dict[str, list[str]] = {}
        for view in self._all_functions(session):
            arn = view.version.settings.kms_key_arn
            if arn:
                users.setdefault(arn, []).append(view.function.name)
        rows = []
        for key in self._s.keys.list_keys(session.account, session.region):
            names = users.get(key.arn, []) + users.get(key.key_id, [])
            rows.append(KeyRow(key, sorted(set(names))))
        return rows


def _activity(wire: dict[str, Any]) -> dict[str, Any]:
    """A scaling activity as the dashboard lists it (times as ISO text)."""
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in wire.items()
        if k in ("ResourceId", "Description", "StatusCode", "StatusMessage", "StartTime", "Cause")
    }
