"""SQS messages as values: their limits, their digests, receipt handles and what a receive shows.

Pure rules only; ids, tokens and times come in as arguments. The digests are SQS's own
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html
"Calculating the MD5 message digest for message attributes"): SDKs such as the Java and Go ones
recompute them and refuse a reply that disagrees.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from gureum.domain.queue_errors import (
    InvalidMessageContents,
    MissingParameter,
    ReceiptHandleIsInvalid,
    SqsInvalidParameterValue,
    invalid_parameter,
)

MAX_ATTRIBUTES = 10
MAX_ATTRIBUTE_NAME = 256
MAX_DELAY = 900
MAX_VISIBILITY = 43_200
MAX_WAIT = 20
MAX_RECEIVE = 10
_BODY = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_RESERVED_PREFIX = re.compile(r"(?i)(aws|amazon)\.")
_INVALID_CHARACTERS = (
    "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | "
    "#xE000 to #xFFFD | #x10000 to #x10FFFF"
)
SYSTEM_ATTRIBUTES = (
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)


@dataclass(frozen=True, slots=True)
class MessageAttribute:
    """One user attribute: a `String`/`Number` type carries text, a `Binary` one bytes.

    Custom types (`Number.float`, `Binary.gif`) keep their label; the part before the dot decides.
    """

    data_type: str
    string_value: str | None = None
    binary_value: bytes | None = None

    @property
    def size(self) -> int:
        value = self.binary_value or (self.string_value or "").encode()
        return len(self.data_type.encode()) + len(value)


def _field(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def md5_of_attributes(attributes: Mapping[str, MessageAttribute]) -> str | None:
    """SQS's digest: for each name in order, length-prefixed name and type, a transport byte
    (1 text, 2 binary) and the length-prefixed value. None for no attributes, as SQS omits it."""
    if not attributes:
        return None
    encoded = bytearray()
    for name in sorted(attributes):
        attribute = attributes[name]
        encoded += _field(name.encode()) + _field(attribute.data_type.encode())
        if attribute.binary_value is not None:
            encoded += b"\x02" + _field(attribute.binary_value)
        else:
            encoded += b"\x01" + _field((attribute.string_value or "").encode())
    return hashlib.md5(encoded, usedforsecurity=False).hexdigest()


def check_attribute(name: str, attribute: MessageAttribute) -> None:
    if len(name) > MAX_ATTRIBUTE_NAME:
        raise SqsInvalidParameterValue(
            "Message (user) attribute names must be shorter than 256 Bytes"
        )
    if not _ATTRIBUTE_NAME.fullmatch(name):
        raise SqsInvalidParameterValue(
            "Message (user) attributes name can only contain upper and lower score characters, "
            "digits, periods, hyphens and underscores. "
        )
    if _RESERVED_PREFIX.match(name) or name.startswith(".") or name.endswith(".") or ".." in name:
        raise SqsInvalidParameterValue(
            "You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. These "
            "strings are reserved for internal use. Additionally, they cannot start or end with "
            "'.' or contain consecutive periods."
        )
    kind = attribute.data_type.partition(".")[0]
    if kind not in ("String", "Number", "Binary"):
        raise SqsInvalidParameterValue(
            "Type for parameter MessageAttributes.Attribute_name.DataType must be prefixed with "
            f'"String", "Binary", or "Number", but was: {attribute.data_type}'
        )
    if len(attribute.data_type) > MAX_ATTRIBUTE_NAME:
        raise SqsInvalidParameterValue(
            "Message (user) attribute types must be shorter than 256 Bytes"
        )
    value = attribute.binary_value if kind == "Binary" else attribute.string_value
    if not value:
        raise SqsInvalidParameterValue(
            f"Message (user) attribute '{name}' must contain a non-empty value of type '{kind}'."
        )
    if kind == "Number" and not _is_number(attribute.string_value or ""):
        raise SqsInvalidParameterValue(
            f"Could not cast message attribute '{name}' value to number."
        )
    if kind == "String" and not _BODY.fullmatch(attribute.string_value or ""):
        raise SqsInvalidParameterValue(_INVALID_CHARACTERS)


def _is_number(text: str) -> bool:
    return re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text.strip()) is not None


def message_size(body: str, attributes: Mapping[str, MessageAttribute]) -> int:
    """Body, attribute names, types and values all count toward MaximumMessageSize."""
    return len(body.encode()) + sum(len(n.encode()) + a.size for n, a in attributes.items())


def check_message(body: str, attributes: Mapping[str, MessageAttribute], max_size: int) -> None:
    if not body:
        raise MissingParameter("The request must contain the parameter MessageBody.")
    if not _BODY.fullmatch(body):
        raise InvalidMessageContents(_INVALID_CHARACTERS)
    if len(attributes) > MAX_ATTRIBUTES:
        raise SqsInvalidParameterValue(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
            f"[{MAX_ATTRIBUTES}]."
        )
    for name, attribute in attributes.items():
        check_attribute(name, attribute)
    if message_size(body, attributes) > max_size:
        raise SqsInvalidParameterValue(
            f"One or more parameters are invalid. Reason: Message must be shorter than {max_size} "
            "bytes."
        )


def check_delay(delay: int) -> int:
    if not 0 <= delay <= MAX_DELAY:
        raise invalid_parameter("DelaySeconds", delay, "DelaySeconds must be >= 0 and <= 900.")
    return delay


def check_visibility(timeout: int) -> int:
    if not 0 <= timeout <= MAX_VISIBILITY:
        raise invalid_parameter(
            "VisibilityTimeout", timeout, "Must be between 0 and 43200, if provided."
        )
    return timeout


def check_wait_time(wait: int) -> int:
    if not 0 <= wait <= MAX_WAIT:
        raise invalid_parameter("WaitTimeSeconds", wait, "Must be >= 0 and <= 20, if provided.")
    return wait


def check_standard_message(deduplication_id: str | None) -> None:
    """Standard queues take `MessageGroupId` (fair queues) but not `MessageDeduplicationId`."""
    if deduplication_id is not None:
        raise invalid_parameter(
            "MessageDeduplicationId",
            deduplication_id,
            "The request includes a parameter that is not valid for this queue type.",
        )


def check_trace_header(system: Mapping[str, MessageAttribute]) -> str | None:
    """The only message system attribute a sender may set is `AWSTraceHeader`, a String."""
    for name, attribute in system.items():
        if name != "AWSTraceHeader" or attribute.data_type != "String":
            raise SqsInvalidParameterValue(f"Message system attribute name '{name}' is invalid.")
        if not attribute.string_value:
            raise SqsInvalidParameterValue(
                f"Message system attribute '{name}' must contain a non-empty value of type "
                "'String'."
            )
    trace = system.get("AWSTraceHeader")
    return trace.string_value if trace is not None else None


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


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message. Times are epoch seconds of the clock port."""

    id: str
    body: str
    sent: float
    sender: str
    attributes: Mapping[str, MessageAttribute] = field(default_factory=dict)
    trace_header: str | None = None
    dead_letter_source: str | None = None
    receive_count: int = 0
    first_received: float | None = None

    def system_attributes(self, names: Iterable[str]) -> dict[str, str]:
        values = {
            "SenderId": self.sender,
            "SentTimestamp": str(int(self.sent * 1000)),
            "ApproximateReceiveCount": str(self.receive_count),
            "ApproximateFirstReceiveTimestamp": str(int((self.first_received or 0) * 1000)),
            "AWSTraceHeader": self.trace_header,
            "DeadLetterQueueSourceArn": self.dead_letter_source,
        }
        return {name: value for name in names if (value := values.get(name)) is not None}

    @property
    def md5_of_system_attributes(self) -> str | None:
        if self.trace_header is None:
            return None
        return md5_of_attributes({"AWSTraceHeader": MessageAttribute("String", self.trace_header)})


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
