"""The console's pure core: traffic splits, the dashboard's axis and series, sessions, markup."""

from __future__ import annotations

import pytest

from gureum.console.domain.figures import (
    THROTTLE_REASONS,
    Figure,
    SplitRow,
    aligned,
    dashboard_figures,
    last_seen,
    queries,
    timeline,
    traffic_split,
)
from gureum.console.domain.sessions import IDLE_LIMIT, Session, cookie_header, token_from_cookies
from gureum.console.web.markup import path_part, tag, text


@pytest.mark.parametrize(
    ("primary", "weights", "executed", "expected"),
    [
        ("1", {}, {}, [SplitRow("1", 100.0, 0, 0.0)]),
        (
            "1",
            {"2": 0.3},
            {"1": 69, "2": 31},
            [SplitRow("1", 70.0, 69, 69.0), SplitRow("2", 30.0, 31, 31.0)],
        ),
        # A version that ran before the weights changed still shows, configured at 0.
        (
            "3",
            {},
            {"2": 5, "3": 15},
            [SplitRow("2", 0.0, 5, 25.0), SplitRow("3", 100.0, 15, 75.0)],
        ),
        # Numeric order, not text order.
        (
            "10",
            {"9": 0.5},
            {},
            [SplitRow("9", 50.0, 0, 0.0), SplitRow("10", 50.0, 0, 0.0)],
        ),
    ],
)
def test_traffic_split(
    primary: str, weights: dict[str, float], executed: dict[str, int], expected: list[SplitRow]
) -> None:
    assert traffic_split(primary, weights, executed) == expected


def test_the_axis_and_the_series_on_it() -> None:
    xs = timeline(125.0, 250.0, 60.0)
    assert xs == [120.0, 180.0, 240.0]
    figures = [Figure("a", "N", "M", "Sum", {}), Figure("b", "N", "M", "Maximum", {"K": "V"})]
    results = [
        {"Id": "q0", "Timestamps": [180.0], "Values": [4.0]},
        {"Id": "q1", "Timestamps": [120.0, 240.0], "Values": [1.0, 0.0]},
    ]
    series = aligned(figures, results, xs)
    assert series == {"a": [None, 4.0, None], "b": [1.0, None, 0.0]}
    assert last_seen(xs, series["a"]) == 180.0
    assert last_seen(xs, series["b"]) == 120.0  # a zero is no invocation
    wire = queries(figures, 60)
    assert [q["Id"] for q in wire] == ["q0", "q1"]
    assert wire[1]["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "K", "Value": "V"}]


def test_the_dashboard_charts_every_reason_pool_and_configuration() -> None:
    keys = [f.key for f in dashboard_figures(["f"], [("g", "g:live")])]
    assert all(f"throttle:{r}" in keys for r in THROTTLE_REASONS)
    assert "pool:f" in keys
    assert "pc:g:live" in keys
    assert len(keys) == len(set(keys))


def test_sessions_expire_when_idle_and_check_their_form_token() -> None:
    session = Session("t", "111111111111", "us-east-1", "form-token", 1000.0)
    assert not session.expired(1000.0 + IDLE_LIMIT)
    assert session.expired(1000.0 + IDLE_LIMIT + 1)
    assert session.accepts_form("form-token")
    assert not session.accepts_form("")
    assert not session.accepts_form("form-token-2")
    header = cookie_header("abc")
    assert header == (
        "gureum_console=abc; Path=/_gureum/console; HttpOnly; SameSite=Strict; Max-Age=43200"
    )
    assert token_from_cookies("x=1; gureum_console=abc; y=2") == "abc"
    assert token_from_cookies("gureum_console_pre=abc") == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<script>", "&lt;script&gt;"),
        ("\"quoted\" & 'single'", "&quot;quoted&quot; &amp; &#x27;single&#x27;"),
        (None, ""),
        (3, "3"),
    ],
)
def test_text_is_escaped(value: object, expected: str) -> None:
    assert text(value) == expected


def test_tags_escape_children_and_attributes_but_not_markup() -> None:
    inner = tag("b", "<i>")
    assert inner == "<b>&lt;i&gt;</b>"
    assert tag("p", inner, title='"><script>', class_="x", hidden=True, data_v=None) == (
        '<p title="&quot;&gt;&lt;script&gt;" class="x" hidden><b>&lt;i&gt;</b></p>'
    )
    assert path_part("a/b c") == "a%2Fb%20c"
