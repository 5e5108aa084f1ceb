"""Asynchronous invocation: the delivery workers of the durable event queue (spec 5).

Accepting is `gureum.lambda_.services.event_queue`. Delivering: `Delivery.run` takes due events,
runs each through the same path as a synchronous invocation (`Invoker.run`: the ledger, the pool),
asks the pure retry decision what next, and either reschedules the event or finishes it: on-success
/ on-failure destinations and the dead-letter queue. An event leaves the store only after its
outcome is handled, so a crash can repeat an attempt but never lose an event (at-least-once).
Deliveries run concurrently, so a throttled function's backlog (each attempt a quick 429 and a
backoff) never holds up another's. They share the event loop and the store with the accepts,
which come first: while accepts arrive, fewer deliveries run at once, and a delivery's writes to
the queue join the accepts' group commits (`EventQueue.finish`, `EventQueue.reschedule`) instead
of paying an fsync each.

A fault inside gureum while delivering one event (the store, a bug) is that event's alone: it is
logged, and the event goes back to the queue after the system-error backoff (`after_fault`),
never dropped and never retried at once; the loop itself outlives every error but its
cancellation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypeVar

from gureum.aws.errors import AwsError
from gureum.clock import Clock
from gureum.lambda_.domain.arns import LATEST, FunctionRef, parse_function_name
from gureum.lambda_.domain.credentials import session_arn
from gureum.lambda_.domain.errors import RecursiveInvocation, ResourceNotFound, TooManyRequests
from gureum.lambda_.domain.event_configs import (
    DestinationKind,
    EventInvokeConfig,
    Outcome,
    dead_letter_attributes,
    destination_kind,
    invocation_record,
    sender_id,
)
from gureum.lambda_.domain.retries import (
    Attempt,
    Condition,
    Finish,
    Progress,
    QueuedEvent,
    after_fault,
    decide,
    too_old,
)
from gureum.lambda_.sandbox.environment import InvocationRequest
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.event_queue import EventQueue
from gureum.lambda_.services.invoker import Invoker, Target, check_invocable
from gureum.lambda_.services.metrics import LambdaMetrics
from gureum.lambda_.store.ports import QueueStore
from gureum.sqs.services.queues import QueueService

log = logging.getLogger("gureum.events")

PARALLEL_DELIVERIES = 32
SHARED_DELIVERIES = 4  # at once while accepts are arriving (see `Delivery._round`)
REFILL_PARTS = 4  # free slots are refilled once a quarter of them are free,
REFILL_PAUSE = 0.02  # or this many seconds after the last refill
CONFIG_CACHE = 1024  # event configurations remembered (cleared when full)
FAULT_PAUSE = 1.0  # after a round of the loop itself failed (the store, most likely)
# How often the queue's depth gauges are counted (seconds, wall time): a count reads the whole
# queue, and the loop may go round hundreds of times a second through a backlog.
DEPTHS_EVERY = 1.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Attempted:
    attempt: Attempt
    target: Target | None
    outcome: Outcome | None
    # The trace header the attempt ran with (what it sends on continues its chain), or the
    # event's own when it did not run.
    trace_header: str | None = None


class Delivery:
    """Delivers due events; owned by the app and cancelled at shutdown (event loop only)."""

    def __init__(
        self,
        store: QueueStore,
        invoker: Invoker,
        queues: QueueService,
        events: EventQueue,
        executor: Executor,
        clock: Clock,
        scale: float,
        metrics: LambdaMetrics,
    ) -> None:
        self._store = store
        self._invoker = invoker
        self._queues = queues
        self._events = events
        self._executor = executor
        self._clock = clock
        self._scale = scale
        self._metrics = metrics
        self._busy: set[int] = set()
        # Events whose backoff after a fault could not be stored: id -> when they are due again.
        self._resting: dict[int, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._last_read = 0.0  # time.monotonic() of the last look for due events
        self._counted = -DEPTHS_EVERY  # time.monotonic() of the last count of the depths
        # Event configurations by function and qualifier, for the store generation they were
        # read at: one read per function while its events flow, not one per event.
        self._configs: dict[tuple[str, str, str, str], tuple[int, EventInvokeConfig]] = {}

    def wake(self) -> None:
        self._wake.set()

    async def _db(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def run(self) -> None:
        """Delivers due events until cancelled; owned by the app's task group."""
        try:
            while True:
                self._wake.clear()
                try:
                    await self._round()
                except Exception:
                    log.exception(
                        "a round of deliveries failed; trying again in %.0f s", FAULT_PAUSE
                    )
                    await asyncio.sleep(FAULT_PAUSE)
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _round(self) -> None:
        now = self._clock.now().timestamp()
        # While accepts arrive, fewer deliveries at once: they share the event loop with the
        # accepts, and an accept waits for every delivery step queued ahead of it. The backlog
        # is worked off at full width once the burst is over.
        limit = SHARED_DELIVERIES if self._events.accepting() else PARALLEL_DELIVERIES
        free = limit - len(self._busy)
        # Slots are refilled a few at a time (one read of the store for several deliveries),
        # but a free slot waits at most REFILL_PAUSE: long runs must not keep events waiting.
        recently = time.monotonic() - self._last_read < REFILL_PAUSE
        few = free < max(1, limit // REFILL_PARTS) and recently
        saturated = bool(self._busy) and (free <= 0 or few)
        if not saturated:
            self._last_read = time.monotonic()
        due = [] if saturated else await self._due(now, free)
        for event in due:
            self._busy.add(event.id)
            task = asyncio.get_running_loop().create_task(self._deliver(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await self._count()
        await self._sleep(now, picked=bool(due), saturated=saturated, free=free > 0)

    def _held(self, now: float) -> set[int]:
        """Events not to take now: being delivered, or resting after a fault."""
        for event_id in [i for i, until in self._resting.items() if until <= now]:
            del self._resting[event_id]
        return self._busy | set(self._resting)

    async def _due(self, now: float, limit: int) -> list[QueuedEvent]:
        return await self._events.due(now, limit, self._held(now))

    async def _count(self) -> None:
        """The queue depth gauges, every DEPTHS_EVERY seconds at most: counting a backlog of a
        million events every round would take the store's time from the deliveries that work
        it off (an idle loop still goes round every second, so an emptied queue shows 0)."""
        if time.monotonic() - self._counted < DEPTHS_EVERY:
            return
        self._counted = time.monotonic()
        self._metrics.queue_depth(await self._events.depths())

    async def _sleep(self, now: float, picked: bool, saturated: bool, free: bool) -> None:
        upcoming = None
        if not saturated:  # saturated, a delivery that ends wakes the loop: no need to look
            upcoming = await self._events.next_due()
        delay = 1.0 if upcoming is None else min(max(upcoming - now, 0.001), 1.0)
        if saturated or (upcoming is not None and upcoming <= now and not picked):
            # All that is due is held (being delivered, or resting): a delivery that ends wakes
            # the loop, and a rest that ends is waited for; polling the store would spin.
            rests = [until - now for until in self._resting.values()]
            if saturated and free:
                rests.append(REFILL_PAUSE)
            delay = min([1.0, *rests]) if rests else 1.0
            delay = max(delay, 0.001)
        # asyncio.wait, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
        # arrives as the event is set, and shutdown would wait for this loop forever.
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=delay)
        finally:
            waiter.cancel()

    # --- one event --------------------------------------------------------------------------

    async def _deliver(self, event: QueuedEvent) -> None:
        try:
            await self._deliver_once(event)
        except Exception:
            log.exception(
                "event %s for function %s (%s, %s): delivery failed inside gureum; it stays "
                "queued and backs off",
                event.request_id,
                event.function_name,
                event.account,
                event.region,
            )
            await self._back_off(event)
        finally:
            self._busy.discard(event.id)
            self._wake.set()

    async def _back_off(self, event: QueuedEvent) -> None:
        """After a fault: back to the queue, due after the system-error backoff."""
        try:
            policy = (await self._config(event)).policy(self._scale)
        except Exception:  # the store may be what failed: the default age is only a bound
            policy = EventInvokeConfig().policy(self._scale)
        retry = after_fault(event.progress, policy, self._clock.now().timestamp())
        # Held in memory first, so the loop does not take it again even if storing this fails.
        self._resting[event.id] = retry.due_at
        try:
            await self._events.reschedule(event.id, retry.due_at, retry.progress)
        except Exception:
            log.exception("event %s: its backoff could not be stored", event.request_id)

    async def _deliver_once(self, event: QueuedEvent) -> None:
        now = self._clock.now().timestamp()
        config = await self._config(event)
        policy = config.policy(self._scale)
        if too_old(event.progress, policy, now):
            # Held back past its maximum age (by faults, or by a server that was down): decide
            # never schedules a try this late, so it is not invoked again; it ends as AWS ends
            # an event too old to keep (EventAgeExceeded, to the failure destination / DLQ).
            await self._expire(event, config)
            return
        attempted = await self._attempt(event, now)
        if attempted is None:  # the function is gone: nothing left to deliver to
            self._metrics.async_dropped(event.region, event.function_name, account=event.account)
            await self._events.finish(event.id)
            return
        decision = decide(event.progress, attempted.attempt, policy, self._clock.now().timestamp())
        if isinstance(decision, Finish):
            await self._handle(event, decision.condition, decision.progress, attempted, config)
            await self._events.finish(event.id)
        else:
            progress, due = decision.progress, decision.due_at
            await self._events.reschedule(event.id, due, progress)

    async def _expire(self, event: QueuedEvent, config: EventInvokeConfig) -> None:
        caller = Caller(event.account, event.region)
        try:
            target = self._invoker.target(caller, FunctionRef(event.function_name, event.qualifier))
        except ResourceNotFound:
            target = None
        if target is not None:
            attempted = _Attempted(Attempt.SYSTEM_ERROR, target, None)
            condition = Condition.EVENT_AGE_EXCEEDED
            await self._handle(event, condition, event.progress, attempted, config)
        else:
            self._metrics.async_dropped(event.region, event.function_name, account=event.account)
        await self._events.finish(event.id)

    async def _config(self, event: QueuedEvent) -> EventInvokeConfig:
        key = (event.account, event.region, event.function_name, event.qualifier or LATEST)
        generation = self._store.generation
        cached = self._configs.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]

        def read() -> EventInvokeConfig:
            with self._store.transaction() as tx:
                function = tx.get_function(event.account, event.region, event.function_name)
                if function is None:
                    return EventInvokeConfig()
                found = tx.get_event_config(function, event.qualifier or LATEST)
                return found or EventInvokeConfig()

        config = await self._db(read)
        if len(self._configs) >= CONFIG_CACHE:
            self._configs.clear()
        self._configs[key] = (generation, config)
        return config

    async def _attempt(self, event: QueuedEvent, now: float) -> _Attempted | None:
        caller = Caller(event.account, event.region)
        ref = FunctionRef(event.function_name, event.qualifier)
        try:
            target = self._invoker.target(caller, ref)
        except ResourceNotFound:
            return None
        if target.function.reserved_concurrency == 0:
            return _Attempted(Attempt.ZERO_RESERVED, target, None)
        self._metrics.async_attempt(
            event.region,
            event.function_name,
            (now - event.progress.accepted_at) * 1000,
            account=event.account,
        )
        try:
            check_invocable(target.version)
            request = InvocationRequest(
                event.request_id, event.payload, target.invoked_arn, trace_id=event.trace_header
            )
            result = await self._invoker.run(target, request)
        except RecursiveInvocation:
            # AWS ends such an event at once: to the DLQ or the on-failure destination.
            return _Attempted(Attempt.RECURSIVE, target, None, event.trace_header)
        except TooManyRequests:
            return _Attempted(Attempt.THROTTLED, target, None)
        except AwsError as error:
            log.info("event %s: %s, will retry", event.request_id, error.code)
            return _Attempted(Attempt.SYSTEM_ERROR, target, None)
        except Exception:  # a platform fault: back off like a 5xx, never spin on it
            log.exception("event %s: the attempt failed inside gureum", event.request_id)
            return _Attempted(Attempt.SYSTEM_ERROR, target, None)
        outcome = Outcome(target.version.version, result.payload, result.function_error)
        attempt = Attempt.FUNCTION_ERROR if result.function_error else Attempt.SUCCESS
        return _Attempted(attempt, target, outcome, result.trace_id)

    # --- outcomes ---------------------------------------------------------------------------

    async def _handle(
        self,
        event: QueuedEvent,
        condition: Condition,
        progress: Progress,
        attempted: _Attempted,
        config: EventInvokeConfig,
    ) -> None:
        target = attempted.target
        assert target is not None
        if condition is Condition.SUCCESS and not config.on_success:
            return  # the common case: nothing to send, so no record to build
        arn = target.function.version_arn(event.qualifier or LATEST)
        now = self._clock.now().timestamp()
        record = invocation_record(
            event.request_id,
            arn,
            condition,
            progress.invocations,
            event.payload,
            attempted.outcome,
            now,
        )
        body = json.dumps(record)
        sender = sender_id(target.version.settings.role, event.request_id, now)
        role = session_arn(target.version.settings.role, target.function.name)
        trace = attempted.trace_header or event.trace_header
        if condition is Condition.SUCCESS:
            if config.on_success:
                await self._send(
                    event, config.on_success, body, sender, role, dead_letter=False, trace=trace
                )
            return
        self._metrics.async_dropped(event.region, event.function_name, account=event.account)
        dead_letter = target.version.settings.dead_letter_target
        if dead_letter:
            attributes = dead_letter_attributes(event.request_id, attempted.outcome, condition)
            payload = event.payload.decode("utf-8", "replace")
            await self._send(
                event,
                dead_letter,
                payload,
                sender,
                role,
                dead_letter=True,
                attributes=attributes,
                trace=trace,
            )
        if config.on_failure:
            await self._send(
                event, config.on_failure, body, sender, role, dead_letter=False, trace=trace
            )

    async def _send(
        self,
        event: QueuedEvent,
        arn: str,
        body: str,
        sender: str,
        role: str,
        *,
        dead_letter: bool,
        attributes: Mapping[str, tuple[str, str]] | None = None,
        trace: str | None = None,
    ) -> None:
        """Sends as the function's execution role (`role`, its session's ARN): under `--iam
        enforce` the role must be allowed sqs:SendMessage or lambda:InvokeFunction on the
        target, else delivery fails as on AWS (DeadLetterErrors or DestinationDeliveryFailures,
        spec 5.4, 5.5); `sender` is that role's SQS SenderId. `trace`: the header of the
        invocation that sends, so a loop through the destination is still seen as one
        (domain.recursion)."""
        kind = destination_kind(arn)
        try:
            permissions = self._invoker.permissions
            if permissions is not None:
                action = (
                    "sqs:SendMessage" if kind is DestinationKind.SQS else "lambda:InvokeFunction"
                )
                refused = permissions.denied(role, action, arn)
                if refused is not None:
                    raise PermissionError(refused)
            if kind is DestinationKind.SQS:
                await self._db(
                    lambda: self._queues.send(
                        event.account, event.region, arn, body, attributes or {}, sender, trace
                    )
                )
            elif kind is DestinationKind.LAMBDA:
                await self._invoke_destination(event, arn, body, trace)
            else:
                raise ValueError(f"no delivery to {arn}")
            self._metrics.delivered(
                event.region, event.function_name, account=event.account, dead_letter=dead_letter
            )
        except Exception as exc:
            if not _refused(exc):
                # gureum's own store failed (PostgreSQL restarting, say), not the destination:
                # dropped here, the record would be lost for a fault AWS does not have. Raised,
                # the event stays queued, backs off and is delivered again: at least once.
                raise
            log.warning("event %s: delivery to %s failed: %s", event.request_id, arn, exc)
            if dead_letter:
                self._metrics.dead_letter_error(
                    event.region, event.function_name, account=event.account
                )
            else:
                self._metrics.destination_failure(
                    event.region, event.function_name, account=event.account
                )

    async def _invoke_destination(
        self, event: QueuedEvent, arn: str, body: str, trace: str | None
    ) -> None:
        ref = parse_function_name(arn)
        caller = Caller(ref.account or event.account, ref.region or event.region)
        self._invoker.target(caller, ref)  # the destination function must exist
        now = self._clock.now().timestamp()
        queued = QueuedEvent(
            new_request_id(),
            caller.account,
            caller.region,
            ref.name,
            ref.qualifier,
            body.encode(),
            Progress(now),
            now,
            trace_header=trace,
        )
        await self._events.accept(queued)


def _refused(error: Exception) -> bool:
    """Whether a destination or dead-letter send failed as it fails on AWS (the queue or
    function is gone, the role may not send, the target is of a kind that takes nothing):
    AWS drops the record then, and counts it (spec 5.4). Anything else is a fault inside gureum."""
    if isinstance(error, AwsError):
        return error.sender_fault
    return isinstance(error, (PermissionError, ValueError))


def new_request_id() -> str:
    return str(uuid.uuid4())
