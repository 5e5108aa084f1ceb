"""The console's pages, rendered on the server from the readings (no data in inline scripts:
charts read their figures from the page's tables and from server-sent events)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from gureum.console.domain.figures import THROTTLE_REASONS
from gureum.console.domain.sessions import Session
from gureum.console.services.actions import Invoked
from gureum.console.services.readings import (
    AliasView,
    Dashboard,
    FunctionPage,
    FunctionRow,
    KeyRow,
    QueueRow,
)
from gureum.console.web.markup import Html, join, path_part, table, tag, text, void
from gureum.sqs.domain.messages import Message

BASE = "/_gureum/console"


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def layout(title: str, body: Html, session: Session | None, scripts: tuple[str, ...] = ()) -> Html:
    nav = Html("")
    if session is not None:
        links = join(
            tag("a", label, href=f"{BASE}/{where}")
            for label, where in (
                ("Functions", "functions"),
                ("Dashboard", "dashboard"),
                ("Queues", "queues"),
                ("Keys", "keys"),
            )
        )
        out = tag(
            "form",
            csrf_field(session),
            tag("button", "Sign out", type="submit"),
            method="post",
            action=f"{BASE}/sign-out",
            class_="sign-out",
        )
        who = tag("span", f"account {session.account} · {session.region}", class_="who")
        nav = tag("nav", tag("strong", "gureum"), links, who, out)
    head = join(
        [
            void("meta", charset="utf-8"),
            tag("title", f"{title} · gureum console"),
            void("link", rel="stylesheet", href=f"{BASE}/static/console.css"),
            void("link", rel="stylesheet", href=f"{BASE}/static/vendor/uplot/uPlot.min.css"),
            tag("script", src=f"{BASE}/static/vendor/uplot/uPlot.iife.min.js"),
            *(tag("script", type="module", src=f"{BASE}/static/{s}") for s in scripts),
        ]
    )
    page = tag("html", tag("head", head), tag("body", nav, tag("main", tag("h1", title), body)))
    return Html("<!doctype html>\n" + page)


def csrf_field(session: Session) -> Html:
    return void("input", type="hidden", name="csrf", value=session.csrf)


def error_box(error: str | None) -> Html:
    return tag("p", error, class_="error", role="alert") if error else Html("")


def sign_in(pre_token: str, error: str | None = None) -> Html:
    form = tag(
        "form",
        void("input", type="hidden", name="csrf", value=pre_token),
        tag("label", "Access key ID", void("input", name="access_key_id", autocomplete="off")),
        tag(
            "label",
            "Secret access key",
            void("input", name="secret_access_key", type="password", autocomplete="off"),
        ),
        tag("label", "Region", void("input", name="region", value="us-east-1")),
        tag("button", "Sign in", type="submit", id="sign-in"),
        method="post",
        action=f"{BASE}/sign-in",
        class_="sign-in",
    )
    return layout("Sign in", join([error_box(error), form]), None)


def functions(session: Session, rows: list[FunctionRow]) -> Html:
    body = join(
        [
            tag(
                "label",
                "Filter ",
                void("input", type="search", class_="filter", data_filter="functions"),
            ),
            table(
                [
                    "Name",
                    "Runtime",
                    "State",
                    "Memory (MB)",
                    "Reserved",
                    "Provisioned",
                    "Last invocation",
                    "Errors (1 h)",
                    "Throttles (1 h)",
                ],
                [
                    [
                        tag("a", r.name, href=f"{BASE}/functions/{path_part(r.name)}"),
                        r.runtime,
                        r.state,
                        r.memory,
                        "-" if r.reserved is None else r.reserved,
                        r.provisioned,
                        _when(r.last_invocation),
                        r.errors,
                        r.throttles,
                    ]
                    for r in rows
                ],
                id="functions",
                class_="sortable",
            ),
        ]
    )
    return layout("Functions", body, session, ("tables.js",))


def function(
    session: Session,
    page: FunctionPage,
    invoked: Invoked | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Html:
    view = page.latest
    name = view.function.name
    settings = view.version.settings
    here = f"{BASE}/functions/{path_part(name)}"
    form = form or {}
    parts: list[Html] = [error_box(error)]
    parts.append(
        tag(
            "section",
            tag("h2", "Invoke"),
            tag(
                "form",
                csrf_field(session),
                tag(
                    "label",
                    "Qualifier",
                    void("input", name="qualifier", value=form.get("qualifier", "")),
                ),
                tag(
                    "label",
                    "Payload",
                    tag("textarea", form.get("payload", "{}"), name="payload", rows="4"),
                ),
                tag(
                    "label",
                    void("input", type="checkbox", name="async", value="1"),
                    " asynchronously (Event)",
                ),
                tag("button", "Invoke", type="submit", id="invoke"),
                method="post",
                action=f"{here}/invoke",
            ),
            _invoked(invoked) if invoked else Html(""),
            id="invoke-section",
        )
    )
    variables = settings.environment or {}
    parts.append(
        tag(
            "section",
            tag("h2", "Configuration"),
            table(
                ["Setting", "Value"],
                [
                    ["Runtime", settings.runtime or settings.package_type],
                    ["Handler", settings.handler or "-"],
                    ["State", view.version.lifecycle.state.value],
                    ["Memory (MB)", settings.memory_size],
                    ["Timeout (s)", settings.timeout],
                    ["Role", settings.role],
                    ["Description", settings.description],
                    ["KMS key", _key(page)],
                    ["Dead-letter target", settings.dead_letter_target or "-"],
                    ["Tags", ", ".join(f"{k}={v}" for k, v in view.function.tags.items()) or "-"],
                ],
            ),
            tag("h3", "Environment variables"),
            table(
                ["Name", "Value"],
                [
                    [k, tag("details", tag("summary", "reveal"), tag("code", v))]
                    for k, v in sorted(variables.items())
                ],
                id="variables",
            )
            if variables
            else tag("p", "None."),
            tag("h3", "File systems"),
            table(
                ["Access point", "Mounted at"],
                [
                    [c.get("Arn", ""), c.get("LocalMountPath", "")]
                    for c in settings.file_system_configs
                ],
            )
            if settings.file_system_configs
            else tag("p", "None."),
        )
    )
    parts.append(
        tag(
            "section",
            tag("h2", "Concurrency"),
            tag(
                "p",
                "Reserved: ",
                "unreserved pool"
                if view.function.reserved_concurrency is None
                else str(view.function.reserved_concurrency),
            ),
            tag(
                "form",
                csrf_field(session),
                tag(
                    "label",
                    "Reserved concurrency ",
                    void("input", name="reserved", value=form.get("reserved", ""), size="6"),
                ),
                tag("button", "Save", type="submit", id="save-reserved"),
                method="post",
                action=f"{here}/concurrency",
            ),
            table(
                ["Qualifier", "Requested", "Allocated", "Status"],
                page.provisioned,
            )
            if page.provisioned
            else tag("p", "No provisioned concurrency."),
        )
    )
    parts.append(
        tag(
            "section",
            tag("h2", "Versions"),
            table(
                ["Version", "Description", "Last modified"],
                [
                    [v.version, v.settings.description, v.last_modified.isoformat()]
                    for v in page.versions
                ],
            ),
            tag("h2", "Aliases"),
            join(_alias(a) for a in page.aliases) if page.aliases else tag("p", "No aliases."),
        )
    )
    parts.append(
        tag(
            "section",
            tag("h2", "Asynchronous invocation"),
            table(
                ["Qualifier", "Retries", "Maximum event age (s)", "On success", "On failure"],
                [
                    [
                        q,
                        "2 (default)" if c.max_retries is None else c.max_retries,
                        "21600 (default)" if c.max_age is None else c.max_age,
                        c.on_success or "-",
                        c.on_failure or "-",
                    ]
                    for q, c in page.event_configs
                ],
            )
            if page.event_configs
            else tag("p", "Defaults: 2 retries, events kept 6 hours, no destinations."),
        )
    )
    parts.append(
        tag(
            "section",
            tag("h2", "Logs (live)"),
            tag("pre", "", id="log-tail", data_source=f"{BASE}/events/logs/{path_part(name)}"),
        )
    )
    return layout(name, join(parts), session, ("function.js",))


def _key(page: FunctionPage) -> Html:
    if page.key is not None:
        return text(f"{page.key.arn} ({page.key.state.value})")
    if page.key_error:
        return text(f"{page.latest.version.settings.kms_key_arn} ({page.key_error})")
    return text("AWS managed key (aws/lambda)")


def _alias(view: AliasView) -> Html:
    alias = view.alias
    rows = [
        [
            tag("span", r.version, class_="version"),
            tag("span", f"{r.configured:g} %", data_value=r.configured, class_="configured"),
            tag("span", r.invocations, class_="count"),
            tag("span", f"{r.observed:g} %", data_value=r.observed, class_="observed"),
        ]
        for r in view.split
    ]
    return tag(
        "div",
        tag("h3", f"{alias.name} → {alias.function_version}"),
        tag("p", alias.description) if alias.description else Html(""),
        table(
            ["Version", "Configured", "Invocations (1 h)", "Observed"],
            rows,
            class_="split",
            data_alias=alias.name,
        ),
        tag("div", "", class_="split-chart", data_alias=alias.name),
        class_="alias",
    )


def _invoked(invoked: Invoked) -> Html:
    return tag(
        "div",
        tag("h3", "Response"),
        table(
            ["Status", "Executed version", "Function error", "Request id"],
            [
                [
                    invoked.status,
                    invoked.executed_version or "-",
                    invoked.function_error or "-",
                    invoked.request_id,
                ]
            ],
        ),
        tag("pre", invoked.payload, id="response-payload"),
        tag("h3", "Log"),
        tag("pre", invoked.logs, id="response-log"),
        id="invoke-result",
    )


def dashboard(session: Session, data: Dashboard) -> Html:
    charts = [
        ("concurrency", "Concurrent executions (account limit and reserved pools)"),
        ("throttles", "Throttles by reason"),
        ("starts", "Cold and warm starts"),
        ("init", "Init Duration (ms, average)"),
        ("duration", "Duration percentiles (ms)"),
        ("async", "Async queue depth and AsyncEventAge (ms)"),
        ("deliveries", "Dead-letter and destination deliveries"),
        ("provisioned", "Provisioned concurrency utilization"),
    ]
    reasons = table(
        ["Reason", "Throttles (15 min)"],
        [
            [reason, tag("span", "0", id=f"total-{reason}", class_="total")]
            for reason in THROTTLE_REASONS
        ],
        id="throttle-totals",
    )
    body = join(
        [
            tag("p", "Updated live from CloudWatch, one point a minute.", id="status"),
            reasons,
            join(
                tag("section", tag("h2", title), tag("div", "", class_="chart", id=f"chart-{key}"))
                for key, title in charts
            ),
            tag(
                "section",
                tag("h2", "Scaling activities"),
                table(["Resource", "Status", "Description", "Started"], [], id="activities"),
            ),
            tag(
                "span",
                "",
                id="dashboard-source",
                data_source=f"{BASE}/events/dashboard",
                data_limit=data.account_limit,
            ),
        ]
    )
    return layout("Dashboard", body, session, ("dashboard.js",))


def queues(
    session: Session, rows: list[QueueRow], notice: str | None = None, error: str | None = None
) -> Html:
    body_rows = []
    for r in rows:
        action: Html = Html("")
        if r.dead_letter_of:
            action = tag(
                "form",
                csrf_field(session),
                tag(
                    "button",
                    "Redrive to " + ", ".join(r.dead_letter_of),
                    type="submit",
                    class_="redrive",
                    data_queue=r.name,
                ),
                method="post",
                action=f"{BASE}/queues/{path_part(r.name)}/redrive",
            )
        body_rows.append(
            [
                tag("a", r.name, href=f"{BASE}/queues/{path_part(r.name)}"),
                r.visible,
                r.in_flight,
                r.delayed,
                "-" if r.oldest_age is None else f"{r.oldest_age:.0f} s",
                r.dead_letter_target or "-",
                action,
            ]
        )
    body = join(
        [
            tag("p", notice, class_="notice", role="status") if notice else Html(""),
            error_box(error),
            table(
                ["Queue", "Messages", "In flight", "Delayed", "Oldest", "Dead-letter queue", ""],
                body_rows,
                id="queues",
                class_="sortable",
            ),
        ]
    )
    return layout("Queues", body, session, ("tables.js",))


def messages(session: Session, name: str, found: list[Message]) -> Html:
    rows = [
        [m.id, _when(m.sent), m.receive_count, m.dead_letter_source or "-", tag("pre", m.body)]
        for m in found
    ]
    body = join(
        [
            tag("p", "Browsed without receiving: nothing about these messages changes."),
            table(
                ["Message id", "Sent", "Receives", "Dead-lettered from", "Body"],
                rows,
                id="messages",
            ),
        ]
    )
    return layout(f"Queue {name}", body, session)


def keys(session: Session, rows: list[KeyRow]) -> Html:
    body = table(
        ["Key", "Description", "State", "Manager", "Used by"],
        [
            [
                r.key.key_id,
                r.key.description,
                r.key.state.value,
                r.key.manager.value,
                ", ".join(r.functions) or "-",
            ]
            for r in rows
        ],
        id="keys",
        class_="sortable",
    )
    return layout("Keys", body, session, ("tables.js",))


def event(data: object) -> bytes:
    """One server-sent event carrying JSON (JSON has no raw newlines: one data line)."""
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"
