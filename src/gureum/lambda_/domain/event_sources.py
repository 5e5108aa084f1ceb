"""SQS event source mappings: their settings and rules, their lifecycle, the event a batch
becomes, and what a function's answer deletes. Pure: times, UUIDs and messages come in.

Lifecycle (AWS's states; transitions are the table `_TRANSITIONS`, any other move raises):
Creating -> Enabled | Disabled once the pollers took the mapping up; Enabled/Disabled ->
Updating on an update, then back to Enabled | Disabled; Enabled -> Disabling -> Disabled and
Disabled -> Enabling -> Enabled when only `Enabled` changes; any state but Updating ->
Deleting, after which the mapping is gone. Updates are refused while Creating, Updating or
Deleting, deletes while Updating or Deleting (ResourceInUseException).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from gureum.aws.errors import ClientError
from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.event_filters import EventPattern, matches_any, parse_patterns

SQS_BATCH_LIMIT = 10_000
FIFO_BATCH_LIMIT = 10
DEFAULT_BATCH_SIZE = 10
DEFAULT_CONCURRENCY = 5  # pollers per mapping without ScalingConfig (a local machine's share)
REPORT_FAILURES = "ReportBatchItemFailures"
NO_RECORDS = "No records processed"
OK = "OK"
FUNCTION_FAILED = "PROBLEM: Function call failed"
FUNCTION_MISSING = "PROBLEM: Function not found"


class ResourceInUse(ClientError):
    code = "ResourceInUseException"


class MappingState(StrEnum):
    CREATING = "Creating"
    ENABLING = "Enabling"
    ENABLED = "Enabled"
    DISABLING = "Disabling"
    DISABLED = "Disabled"
    UPDATING = "Updating"
    DELETING = "Deleting"


_S = MappingState
_TRANSITIONS: Mapping[MappingState, frozenset[MappingState]] = {
    _S.CREATING: frozenset({_S.ENABLED, _S.DISABLED, _S.DELETING}),
    _S.ENABLING: frozenset({_S.ENABLED, _S.UPDATING, _S.DISABLING, _S.DELETING}),
    _S.DISABLING: frozenset({_S.DISABLED, _S.UPDATING, _S.ENABLING, _S.DELETING}),
    _S.ENABLED: frozenset({_S.UPDATING, _S.DISABLING, _S.DELETING}),
    _S.DISABLED: frozenset({_S.UPDATING, _S.ENABLING, _S.DELETING}),
    _S.UPDATING: frozenset({_S.ENABLED, _S.DISABLED, _S.DELETING}),
    _S.DELETING: frozenset(),
}
_BUSY = frozenset({_S.CREATING, _S.UPDATING, _S.DELETING})
_SETTLING = frozenset({_S.CREATING, _S.UPDATING, _S.ENABLING, _S.DISABLING})


class IllegalTransition(Exception):
    """A bug: a move the lifecycle table does not allow."""


def transition(state: MappingState, to: MappingState) -> MappingState:
    if to not in _TRANSITIONS[state]:
        raise IllegalTransition(f"{state.value} -> {to.value}")
    return to


@dataclass(frozen=True, slots=True)
class MappingSettings:
    """What a user sets on a mapping."""

    batch_size: int = DEFAULT_BATCH_SIZE
    window: int = 0  # MaximumBatchingWindowInSeconds
    enabled: bool = True
    filters: tuple[str, ...] = ()
    report_failures: bool = False
    max_concurrency: int | None = None

    @property
    def patterns(self) -> tuple[EventPattern, ...]:
        return parse_patterns(self.filters)

    @property
    def ceiling(self) -> int:
        """The most batches this mapping has in flight at once."""
        return self.max_concurrency or DEFAULT_CONCURRENCY


@dataclass(frozen=True, slots=True)
class EventSourceMapping:
    uuid: str
    account: str
    region: str
    function_name: str
    qualifier: str | None
    function_arn: str
    source_arn: str
    settings: MappingSettings
    state: MappingState
    reason: str
    last_modified: float  # epoch seconds
    last_result: str = NO_RECORDS
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:event-source-mapping:{self.uuid}"

    @property
    def settling(self) -> bool:
        return self.state in _SETTLING

    @property
    def polling(self) -> bool:
        """Whether pollers should run for it now."""
        return self.state in (_S.ENABLED, _S.ENABLING, _S.UPDATING) or (
            self.state is _S.CREATING and self.settings.enabled
        )

    def check_changeable(self) -> None:
        if self.state in _BUSY:
            raise ResourceInUse(
                f"Cannot update the event source mapping because it is in use. "
                f"The event source mapping is currently in the {self.state.value} state."
            )

    def updated(self, settings: MappingSettings, now: float) -> EventSourceMapping:
        """After UpdateEventSourceMapping (refused while busy)."""
        self.check_changeable()
        only_enabled = replace(self.settings, enabled=settings.enabled) == settings
        if only_enabled and settings.enabled != self.settings.enabled:
            to = _S.ENABLING if settings.enabled else _S.DISABLING
        else:
            to = _S.UPDATING
        return replace(
            self,
            settings=settings,
            state=transition(self.state, to),
            reason="USER_INITIATED",
            last_modified=now,
        )

    def settled(self, now: float) -> EventSourceMapping:
        """Once the pollers took the latest settings up."""
        to = _S.ENABLED if self.settings.enabled else _S.DISABLED
        return replace(self, state=transition(self.state, to), last_modified=now)

    def deleting(self, now: float) -> EventSourceMapping:
        """Refused while Updating (AWS's ResourceInUseException) or already Deleting; a mapping
        still Creating may be deleted."""
        if self.state in (_S.UPDATING, _S.DELETING):
            raise ResourceInUse(
                f"Cannot delete the event source mapping because it is in use. "
                f"The event source mapping is currently in the {self.state.value} state."
            )
        return replace(
            self,
            state=transition(self.state, _S.DELETING),
            reason="USER_INITIATED",
            last_modified=now,
        )


def check_settings(settings: MappingSettings, fifo: bool) -> MappingSettings:
    """AWS's rules for an SQS source beyond the model's ranges (its messages)."""
    limit = FIFO_BATCH_LIMIT if fifo else SQS_BATCH_LIMIT
    if not 1 <= settings.batch_size <= limit:
        raise InvalidParameterValue(
            f"BatchSize must be between 1 and {limit} for an SQS"
            f"{' FIFO' if fifo else ''} event source."
        )
    if settings.batch_size > 10 and settings.window == 0:
        raise InvalidParameterValue(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
            "greater than 10"
        )
    if fifo and settings.window:
        raise InvalidParameterValue("Batching window is not supported for FIFO queues")
    mc = settings.max_concurrency
    if mc is not None and not 2 <= mc <= 1000:
        raise InvalidParameterValue("MaximumConcurrency must be between 2 and 1000.")
    settings.patterns  # noqa: B018 - parses every pattern: a bad one raises AWS's error
    return settings


def pollers_wanted(depth: int, batch_size: int, ceiling: int) -> int:
    """Concurrent pollers for a queue `depth` deep: one per batch waiting, at least one, at
    most the mapping's ceiling (AWS scales SQS pollers with the backlog)."""
    batches = -(-depth // max(batch_size, 1))
    return max(1, min(ceiling, batches))


# --- the event a batch becomes ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One received SQS message, as much as the event needs of it."""

    message_id: str
    receipt_handle: str
    body: str
    sent_ms: int
    sender: str
    receive_count: int
    first_received_ms: int
    # name -> (data type, text value or None, bytes value or None)
    attributes: Mapping[str, tuple[str, str | None, bytes | None]] = field(default_factory=dict)
    trace_header: str | None = None


def sqs_record(message: QueuedMessage, source_arn: str, region: str) -> dict[str, Any]:
    """AWS's record of one message in an SQS event."""
    attributes = {
        "ApproximateReceiveCount": str(message.receive_count),
        "SentTimestamp": str(message.sent_ms),
        "SenderId": message.sender,
        "ApproximateFirstReceiveTimestamp": str(message.first_received_ms),
    }
    if message.trace_header is not None:
        attributes["AWSTraceHeader"] = message.trace_header
    user: dict[str, Any] = {}
    for name, (kind, text, data) in message.attributes.items():
        value: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": kind}
        if data is not None:
            value["binaryValue"] = base64.b64encode(data).decode("ascii")
        else:
            value["stringValue"] = text
        user[name] = value
    return {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": user,
        "md5OfBody": hashlib.md5(message.body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn,
        "awsRegion": region,
    }


def filter_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as filter patterns see it: a JSON body is matched as its object."""
    view = dict(record)
    try:
        body = json.loads(record["body"])
    except ValueError:
        return view
    if isinstance(body, dict):
        view["body"] = body
    return view


def split_batch(
    records: Sequence[dict[str, Any]], patterns: Sequence[EventPattern]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(records to invoke with, records filtered out: AWS deletes those without invoking)."""
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for record in records:
        (kept if matches_any(patterns, filter_view(record)) else dropped).append(record)
    return kept, dropped


def handles_to_delete(
    records: Sequence[Mapping[str, Any]],
    payload: bytes,
    function_error: bool,
    report_failures: bool,
) -> list[str]:
    """The receipt handles a batch's outcome deletes.

    A function error deletes nothing. With ReportBatchItemFailures, a response listing
    `batchItemFailures` keeps those messages and deletes the rest; an empty or null response,
    or an empty list, is full success; an item that names no message of the batch, or a
    response of the wrong shape, fails the whole batch (AWS's rules:
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
    """
    if function_error:
        return []
    every = [str(r["receiptHandle"]) for r in records]
    if not report_failures:
        return every
    failed = _reported_failures(payload)
    if failed is None:
        return []
    ids = {str(r["messageId"]) for r in records}
    if not failed <= ids:
        return []
    return [str(r["receiptHandle"]) for r in records if r["messageId"] not in failed]


def _reported_failures(payload: bytes) -> set[str] | None:
    """The ids a response reports as failed, or None when the response fails the batch."""
    text = payload.strip()
    if not text:
        return set()
    try:
        response = json.loads(text)
    except ValueError:
        return set()  # not JSON: no partial response, the batch succeeded
    if response is None or response == {} or not isinstance(response, dict):
        return set()
    items = response.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return None
    failed: set[str] = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return None
        failed.add(identifier)
    return failed
