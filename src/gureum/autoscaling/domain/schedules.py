"""Scheduled actions' schedules: `at(...)`, `rate(...)` and `cron(...)`, and when each fires
next.

AWS's forms ([PutScheduledAction]): `at(yyyy-mm-ddThh:mm:ss)`, `rate(value unit)` with unit
minute(s), hour(s) or day(s), and `cron(minutes hours day-of-month month day-of-week year)`,
where exactly one of the two day fields is `?`, days of the week run 1-7 from SUN and names
(JAN, MON) are allowed. `at` and `cron` are read in the action's Timezone (UTC by default) and
are wall-clock times, never scaled; a rate's interval is a delay the platform keeps, so it is
multiplied by `--time-scale`. The cron forms `L`, `W` and `#` are refused.

Pure: the time zone comes in as a `tzinfo` (the service resolves its name), the time as an
argument.

[PutScheduledAction]: https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PutScheduledAction.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from gureum.autoscaling.domain.errors import Invalid

_AT = re.compile(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)")
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\(([^()]*)\)")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}
_MONTH_NAMES = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC"
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES.split(" "))}
_DAYS = {d: i + 1 for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
# (lowest, highest, names) of each cron field, in order.
_FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, _MONTHS),
    (1, 7, _DAYS),
    (1970, 2199, {}),
)
# How far ahead a cron expression is searched before it is taken to never fire again.
_HORIZON_DAYS = 366 * 5


def _invalid(expression: str) -> Invalid:
    return Invalid(f"Unsupported or invalid schedule expression: {expression}")


@dataclass(frozen=True, slots=True)
class Cron:
    """The values each field allows; `None` for a `?` day field."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None
    months: frozenset[int]
    weekdays: frozenset[int] | None
    years: frozenset[int]

    def day_matches(self, day: date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.days is not None and day.day not in self.days:
            return False
        # date.isoweekday(): Monday 1 .. Sunday 7; cron's: Sunday 1 .. Saturday 7.
        return self.weekdays is None or day.isoweekday() % 7 + 1 in self.weekdays


def _values(text: str, low: int, high: int, names: dict[str, int], expression: str) -> set[int]:
    chosen: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 1
        if (step_text and not step_text.isdigit()) or step < 1:
            raise _invalid(expression)
        if span == "*":
            first, last = low, high
        else:
            first_text, dash, last_text = span.partition("-")
            first = _number(first_text, names, expression)
            last = _number(last_text, names, expression) if dash else (high if step_text else first)
        if not low <= first <= last <= high:
            raise _invalid(expression)
        chosen.update(range(first, last + 1, step))
    return chosen


def _number(text: str, names: dict[str, int], expression: str) -> int:
    if text.isdigit():
        return int(text)
    if text.upper() in names:
        return names[text.upper()]
    raise _invalid(expression)


def parse_cron(expression: str, body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6 or (fields[2] == "?") == (fields[4] == "?"):
        # AWS: one of day-of-month and day-of-week must be `?`, not both.
        raise _invalid(expression)
    sets: list[frozenset[int] | None] = []
    for text, (low, high, names) in zip(fields, _FIELDS, strict=True):
        sets.append(None if text == "?" else frozenset(_values(text, low, high, names, expression)))
    minutes, hours, days, months, weekdays, years = sets
    assert minutes is not None
    assert hours is not None
    assert months is not None
    assert years is not None
    return Cron(minutes, hours, days, months, weekdays, years)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule. Exactly one of `at`, `every` (seconds, unscaled) and `cron` is set;
    `at` is a naive local time in the action's zone."""

    expression: str
    at: datetime | None = None
    every: int | None = None
    cron: Cron | None = None

    def next_after(
        self, after: datetime, base: datetime, zone: tzinfo, time_scale: float
    ) -> datetime | None:
        """The first firing strictly after `after` (aware), or None if there is none.
        `base` is when a rate starts counting (StartTime, else the action's creation)."""
        if self.at is not None:
            moment = self.at.replace(tzinfo=zone).astimezone(UTC)
            return moment if moment > after else None
        if self.every is not None:
            interval = self.every * time_scale
            elapsed = (after - base).total_seconds()
            count = max(1, int(elapsed // interval) + 1)
            moment = base + timedelta(seconds=count * interval)
            while moment <= after:  # float error at the boundary
                count += 1
                moment = base + timedelta(seconds=count * interval)
            return moment
        assert self.cron is not None
        return _next_cron(self.cron, after, zone)


def _next_cron(cron: Cron, after: datetime, zone: tzinfo) -> datetime | None:
    local = after.astimezone(zone)
    day = local.date()
    hours, minutes = sorted(cron.hours), sorted(cron.minutes)
    for _ in range(_HORIZON_DAYS):
        if cron.day_matches(day):
            for hour in hours:
                for minute in minutes:
                    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    if moment.astimezone(UTC) > after:
                        return moment.astimezone(UTC)
        day += timedelta(days=1)
    return None


def parse_schedule(expression: str) -> Schedule:
    """PutScheduledAction's Schedule, or AWS's ValidationException."""
    if (at := _AT.fullmatch(expression)) is not None:
        try:
            year, month, day, hour, minute, second = (int(group) for group in at.groups())
            moment = datetime(year, month, day, hour, minute, second)  # local, in the action's zone
        except ValueError:
            raise _invalid(expression) from None
        return Schedule(expression, at=moment)
    if (rate := _RATE.fullmatch(expression)) is not None:
        value = int(rate.group(1))
        if value < 1:
            raise _invalid(expression)
        return Schedule(expression, every=value * _UNIT[rate.group(2).rstrip("s")])
    if (cron := _CRON.fullmatch(expression)) is not None:
        return Schedule(expression, cron=parse_cron(expression, cron.group(1)))
    raise _invalid(expression)
