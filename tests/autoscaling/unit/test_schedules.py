"""Schedules: at, rate and cron parsed as AWS writes them, their next firing (cron in a time
zone, across daylight saving), and the expressions AWS refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from gureum.autoscaling.domain.errors import Invalid
from gureum.autoscaling.domain.schedules import parse_schedule

BASE = datetime(2026, 3, 1, tzinfo=UTC)
SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "zone", "expected"),
    [
        # at: once, in the action's zone
        ("at(2026-03-02T09:00:00)", BASE, UTC, at(2026, 3, 2, 9)),
        ("at(2026-03-02T09:00:00)", BASE, SEOUL, at(2026, 3, 2, 0)),
        ("at(2026-03-02T09:00:00)", at(2026, 3, 2, 9), UTC, None),
        # rate: every interval from the base
        ("rate(5 minutes)", at(2026, 3, 1, 0, 7), UTC, at(2026, 3, 1, 0, 10)),
        ("rate(1 minute)", BASE, UTC, at(2026, 3, 1, 0, 1)),
        ("rate(2 hours)", at(2026, 3, 1, 2), UTC, at(2026, 3, 1, 4)),
        ("rate(1 day)", BASE, UTC, at(2026, 3, 2)),
        # cron: 09:00 on weekdays in Seoul is 00:00 UTC; 2026-03-01 is a Sunday
        ("cron(0 9 ? * MON-FRI *)", BASE, SEOUL, at(2026, 3, 2, 0)),
        ("cron(0 9 ? * 2-6 *)", BASE, SEOUL, at(2026, 3, 2, 0)),
        ("cron(30 18 1 * ? *)", BASE, UTC, at(2026, 3, 1, 18, 30)),
        ("cron(*/15 * * * ? *)", at(2026, 3, 1, 0, 1), UTC, at(2026, 3, 1, 0, 15)),
        ("cron(0 0 1 JAN ? 2027)", BASE, UTC, at(2027, 1, 1)),
        ("cron(0 0 1 JAN ? 2025)", BASE, UTC, None),
        ("cron(0 12 ? * SUN *)", BASE, UTC, at(2026, 3, 1, 12)),
        # New York: 08:00 EST is 13:00 UTC before 2026-03-08, 12:00 UTC (EDT) after
        ("cron(0 8 * * ? *)", at(2026, 3, 6, 14), NEW_YORK, at(2026, 3, 7, 13)),
        ("cron(0 8 * * ? *)", at(2026, 3, 7, 14), NEW_YORK, at(2026, 3, 8, 12)),
    ],
)
def test_next_firing(
    expression: str, after: datetime, zone: ZoneInfo, expected: datetime | None
) -> None:
    assert parse_schedule(expression).next_after(after, BASE, zone, 1.0) == expected


def test_a_rate_is_scaled_by_the_time_scale() -> None:
    # rate(1 minute) at --time-scale 0.01 fires every 0.6 s
    moment = parse_schedule("rate(1 minute)").next_after(BASE, BASE, UTC, 0.01)
    assert moment is not None
    assert (moment - BASE).total_seconds() == pytest.approx(0.6)


@pytest.mark.parametrize(
    "expression",
    [
        "at(2026-02-30T00:00:00)",
        "at(2026-03-01 00:00:00)",
        "rate(0 minutes)",
        "rate(5 weeks)",
        "rate(minutes)",
        "cron(0 9 * * MON *)",  # both day fields set
        "cron(0 9 ? * ? *)",  # neither
        "cron(0 9 ? * MON)",  # five fields
        "cron(60 9 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 9 L * ? *)",
        "cron(0 9 ? * 2#1 *)",
        "cron(0 9 ? * 8 *)",
        "every day",
    ],
)
def test_refused_expressions(expression: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_schedule(expression)
    assert caught.value.message == f"Unsupported or invalid schedule expression: {expression}"
