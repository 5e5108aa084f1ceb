"""What a receive of SQS messages asks for and shows: options, selections, states, receipts.

Pure rules only; tokens and times come in as arguments.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from gureum.sqs.domain.errors import MissingParameter, ReceiptHandleIsInvalid, invalid_parameter
from gureum.sqs.domain.messages import MessageAttribute

MAX_VISIBILITY = 43_200
MAX_WAIT = 20
MAX_RECEIVE = 10
SYSTEM_ATTRIBUTES = (
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)


def check_visibility(timeout: int | None) -> int:
    if timeout is None:
        raise MissingParameter("The request must contain the parameter VisibilityTimeout.")
    if not 0 <= timeout <= MAX_VISIBILITY:
        raise invalid_parameter(
            "VisibilityTimeout", timeout, "Must be between 0 and 43200, if provided."
        )
    return timeout


def check_wait_time(wait: int) -> int:
    if not 0 <= wait <= MAX_WAIT:
        raise invalid_parameter("WaitTimeSeconds", wait, "Must be >= 0 and <= 20, if provided.")
    return wait


class MessageState(StrEnum):
    """Where a stored message stands at an instant; counted by GetQueueAttributes."""

    VISIBLE = "visible"
    IN_FLIGHT = "in-flight"
    DELAYED = "delayed"


def message_state(visible_at: float, receive_count: int, now: float) -> MessageState:
    """Hidden messages never received are delayed; hidden ones received are in flight."""
    if visible_at <= now:
        return MessageState.VISIBLE
    return MessageState.IN_FLIGHT if receive_count else MessageState.DELAYED


def system_selection(names: Iterable[str]) -> tuple[str, ...]:
    """The system attributes asked for; `AttributeNames` may also hold queue attribute names,
    which a receive ignores."""
    wanted = set(names)
    if "All" in wanted:
        return SYSTEM_ATTRIBUTES
    return tuple(name for name in SYSTEM_ATTRIBUTES if name in wanted)


def select_attributes(
    attributes: Mapping[str, MessageAttribute], patterns: Iterable[str]
) -> dict[str, MessageAttribute]:
    """The user attributes a receive returns: `All`, `*` or `.*`; `prefix.*` (every name that
    starts with `prefix`); or exact names."""
    wanted = list(patterns)
    if {"All", ".*", "*"} & set(wanted):
        return dict(attributes)
    prefixes = tuple(p[:-2] for p in wanted if p.endswith(".*"))
    exact = set(wanted)
    return {n: a for n, a in attributes.items() if n in exact or n.startswith(prefixes or ("\0",))}


@dataclass(frozen=True, slots=True)
class ReceiveOptions:
    max_messages: int = 1
    visibility_timeout: int | None = None
    system_names: tuple[str, ...] = ()
    attribute_patterns: tuple[str, ...] = ()


def receive_options(
    max_messages: int | None,
    visibility_timeout: int | None,
    system_names: Iterable[str] = (),
    attribute_patterns: Iterable[str] = (),
) -> ReceiveOptions:
    count = 1 if max_messages is None else max_messages
    if not 1 <= count <= MAX_RECEIVE:
        raise invalid_parameter(
            "MaxNumberOfMessages", count, "Must be between 1 and 10, if provided."
        )
    if visibility_timeout is not None:
        check_visibility(visibility_timeout)
    return ReceiveOptions(
        count, visibility_timeout, system_selection(system_names), tuple(attribute_patterns)
    )


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a receipt handle names: one receive (`token`) of one message of one queue row."""

    queue_id: int
    message_id: str
    token: str

    def handle(self) -> str:
        return base64.b64encode(f"{self.queue_id}:{self.message_id}:{self.token}".encode()).decode()


def parse_receipt(handle: str) -> Receipt:
    invalid = ReceiptHandleIsInvalid(
        f'The input receipt handle "{handle}" is not a valid receipt handle.'
    )
    try:
        text = base64.b64decode(handle, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    queue_id, _, rest = text.partition(":")
    message_id, _, token = rest.partition(":")
    if not queue_id.isdigit() or not message_id or not token:
        raise invalid
    return Receipt(int(queue_id), message_id, token)
