"""The retry decision for asynchronous events (spec 5.2), as a pure function.

After each attempt at delivering a queued event, `decide` says what happens next:

    attempt ──success──────────────────────────────> Finish(Success)
       ├──function error, retries left, fits in age─> Retry after ~1 min, then ~2 min
       ├──function error, no retries left───────────> Finish(RetriesExhausted)
       ├──throttled / system error, fits in age─────> Retry after 1 s, 2 s, 4 s ... 5 min
       ├──reserved concurrency 0────────────────────> Finish(ZeroReservedConcurrency)
       └──the next try would come too late──────────> Finish(EventAgeExceeded)

Throttles do not consume retries. Like LocalStack (and, by all accounts, AWS), the age check
looks ahead: an event whose next try would land past its maximum age fails right away rather
than waiting to be dropped. Every delay and the age limit are multiplied by the time scale.

A fault inside gureum while delivering (not the function's error, not a throttle: the outcome
could not even be handled) is `after_fault`: the event stays queued and comes back after the
system-error backoff, whatever its age, because its outcome was never handled; an event already
past its maximum age is then handed to failure handling without being invoked again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE = 21600
RETRY_DELAYS = (60.0, 120.0)
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 300.0


class Condition(StrEnum):
    SUCCESS = "Success"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    EVENT_AGE_EXCEEDED = "EventAgeExceeded"
    ZERO_RESERVED = "ZeroReservedConcurrency"
    # Stopped by recursive loop detection (domain.recursion): never retried.
    RECURSIVE_LOOP = "RecursiveInvocationDetected"


class Attempt(StrEnum):
    SUCCESS = "success"
    FUNCTION_ERROR = "function-error"
    THROTTLED = "throttled"
    SYSTEM_ERROR = "system-error"
    ZERO_RESERVED = "zero-reserved"
    RECURSIVE = "recursive"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = DEFAULT_RETRIES
    max_age: float = DEFAULT_MAX_AGE
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class Progress:
    """What an event has been through: when it was accepted, attempts made, throttles in a row."""

    accepted_at: float
    invocations: int = 0
    backoffs: int = 0


@dataclass(frozen=True, slots=True)
class Retry:
    due_at: float
    progress: Progress


@dataclass(frozen=True, slots=True)
class Finish:
    condition: Condition
    progress: Progress


Decision = Retry | Finish


def too_old(progress: Progress, policy: RetryPolicy, at: float) -> bool:
    return at - progress.accepted_at > policy.max_age * policy.scale


def _backoff(progress: Progress, policy: RetryPolicy) -> tuple[float, Progress]:
    """The delay before the next try after a throttle or a system error, and the progress then."""
    delay = min(BACKOFF_FIRST * 2**progress.backoffs, BACKOFF_CAP) * policy.scale
    return delay, Progress(progress.accepted_at, progress.invocations, progress.backoffs + 1)


def after_fault(progress: Progress, policy: RetryPolicy, now: float) -> Retry:
    """After a fault inside gureum at `now`: always back to the queue, after the backoff."""
    delay, after = _backoff(progress, policy)
    return Retry(now + delay, after)


def decide(progress: Progress, attempt: Attempt, policy: RetryPolicy, now: float) -> Decision:
    """What to do after `attempt`, made at `now`, on an event with `progress` before it."""
    if attempt is Attempt.ZERO_RESERVED:
        return Finish(Condition.ZERO_RESERVED, progress)
    if attempt is Attempt.RECURSIVE:
        return Finish(Condition.RECURSIVE_LOOP, progress)
    if attempt in (Attempt.THROTTLED, Attempt.SYSTEM_ERROR):
        delay, after = _backoff(progress, policy)
        if too_old(after, policy, now + delay):
            return Finish(Condition.EVENT_AGE_EXCEEDED, after)
        return Retry(now + delay, after)
    after = Progress(progress.accepted_at, progress.invocations + 1, 0)
    if attempt is Attempt.SUCCESS:
        return Finish(Condition.SUCCESS, after)
    if after.invocations > policy.max_retries:
        return Finish(Condition.RETRIES_EXHAUSTED, after)
    delay = RETRY_DELAYS[min(after.invocations, len(RETRY_DELAYS)) - 1] * policy.scale
    if too_old(after, policy, now + delay):
        return Finish(Condition.EVENT_AGE_EXCEEDED, after)
    return Retry(now + delay, after)


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """An accepted asynchronous invocation, waiting in the durable queue until it is done."""

    request_id: str
    account: str
    region: str
    function_name: str
    qualifier: str | None
    payload: bytes
    progress: Progress
    due_at: float
    id: int = 0
    # The X-Ray trace header it was accepted with: its chain's lineage (domain.recursion).
    trace_header: str | None = None
