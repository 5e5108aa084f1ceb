"""The asynchronous retry decision (spec 5.2), row by row, with time as a number."""

from __future__ import annotations

import pytest

from gureum.lambda_.domain.retries import (
    Attempt,
    Condition,
    Finish,
    Progress,
    Retry,
    RetryPolicy,
    after_fault,
    decide,
)

DEFAULT = RetryPolicy()
ACCEPTED = 1_000_000.0


def progress(invocations: int = 0, backoffs: int = 0, accepted: float = ACCEPTED) -> Progress:
    return Progress(accepted, invocations, backoffs)


@pytest.mark.parametrize(
    ("before", "attempt", "policy", "now", "expected"),
    [
        # success on the first attempt
        (progress(), Attempt.SUCCESS, DEFAULT, ACCEPTED, Finish(Condition.SUCCESS, progress(1))),
        # function errors: about a minute, then two, then give up with count 3
        (progress(), Attempt.FUNCTION_ERROR, DEFAULT, ACCEPTED, Retry(ACCEPTED + 60, progress(1))),
        (
            progress(1),
            Attempt.FUNCTION_ERROR,
            DEFAULT,
            ACCEPTED + 60,
            Retry(ACCEPTED + 180, progress(2)),
        ),
        (
            progress(2),
            Attempt.FUNCTION_ERROR,
            DEFAULT,
            ACCEPTED + 180,
            Finish(Condition.RETRIES_EXHAUSTED, progress(3)),
        ),
        # MaximumRetryAttempts 0: the first failure is final, count 1
        (
            progress(),
            Attempt.FUNCTION_ERROR,
            RetryPolicy(max_retries=0),
            ACCEPTED,
            Finish(Condition.RETRIES_EXHAUSTED, progress(1)),
        ),
        # throttles back off 1 s, 2 s, 4 s ... without consuming retries
        (progress(), Attempt.THROTTLED, DEFAULT, ACCEPTED, Retry(ACCEPTED + 1, progress(0, 1))),
        (progress(0, 3), Attempt.THROTTLED, DEFAULT, ACCEPTED, Retry(ACCEPTED + 8, progress(0, 4))),
        (
            progress(0, 20),
            Attempt.THROTTLED,
            DEFAULT,
            ACCEPTED,
            Retry(ACCEPTED + 300, progress(0, 21)),
        ),
        (
            progress(1, 2),
            Attempt.SYSTEM_ERROR,
            DEFAULT,
            ACCEPTED,
            Retry(ACCEPTED + 4, progress(1, 3)),
        ),
        # a success after throttles resets the backoff
        (
            progress(0, 5),
            Attempt.SUCCESS,
            DEFAULT,
            ACCEPTED,
            Finish(Condition.SUCCESS, progress(1, 0)),
        ),
        # reserved concurrency 0: straight to failure handling, nothing invoked
        (
            progress(),
            Attempt.ZERO_RESERVED,
            DEFAULT,
            ACCEPTED,
            Finish(Condition.ZERO_RESERVED, progress()),
        ),
        # age look-ahead: a retry that would land past the maximum age fails now
        (
            progress(),
            Attempt.FUNCTION_ERROR,
            RetryPolicy(max_age=60),
            ACCEPTED + 10,
            Finish(Condition.EVENT_AGE_EXCEEDED, progress(1)),
        ),
        (
            progress(0, 10),
            Attempt.THROTTLED,
            RetryPolicy(max_age=600),
            ACCEPTED + 500,
            Finish(Condition.EVENT_AGE_EXCEEDED, progress(0, 11)),
        ),
    ],
)
def test_decision(
    before: Progress, attempt: Attempt, policy: RetryPolicy, now: float, expected: object
) -> None:
    assert decide(before, attempt, policy, now) == expected


def test_time_scale_shrinks_every_delay_and_the_age_limit() -> None:
    scaled = RetryPolicy(scale=0.01)
    assert decide(progress(), Attempt.FUNCTION_ERROR, scaled, ACCEPTED) == Retry(
        ACCEPTED + 0.6, progress(1)
    )
    assert decide(progress(), Attempt.THROTTLED, scaled, ACCEPTED) == Retry(
        ACCEPTED + 0.01, progress(0, 1)
    )
    late = ACCEPTED + 21600 * 0.01
    assert decide(progress(), Attempt.THROTTLED, scaled, late) == Finish(
        Condition.EVENT_AGE_EXCEEDED, progress(0, 1)
    )


@pytest.mark.parametrize(
    ("before", "policy", "now", "expected"),
    [
        # a fault inside gureum backs off like a system error ...
        (progress(), DEFAULT, ACCEPTED, Retry(ACCEPTED + 1, progress(0, 1))),
        (progress(2, 3), DEFAULT, ACCEPTED + 9, Retry(ACCEPTED + 17, progress(2, 4))),
        (progress(0, 30), DEFAULT, ACCEPTED, Retry(ACCEPTED + 300, progress(0, 31))),
        (progress(), RetryPolicy(scale=0.01), ACCEPTED, Retry(ACCEPTED + 0.01, progress(0, 1))),
        # ... but never drops the event, however old: its outcome was not handled
        (
            progress(1, 5),
            RetryPolicy(max_age=60),
            ACCEPTED + 3600,
            Retry(ACCEPTED + 3632, progress(1, 6)),
        ),
    ],
)
def test_after_fault(before: Progress, policy: RetryPolicy, now: float, expected: Retry) -> None:
    assert after_fault(before, policy, now) == expected
