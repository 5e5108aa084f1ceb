"""SQS messages as values: what a sender may send, and the digests SQS answers with.

Pure rules only; ids, tokens and times come in as arguments. The digests are SQS's own
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html
"Calculating the MD5 message digest for message attributes"): SDKs such as the Java and Go ones
recompute them and refuse a reply that disagrees.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gureum.sqs.domain.errors import (
    InvalidMessageContents,
    MissingParameter,
    SqsInvalidParameterValue,
    invalid_parameter,
)

MAX_ATTRIBUTES = 10
MAX_ATTRIBUTE_NAME = 256
MAX_DELAY = 900
_BODY = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_RESERVED_PREFIX = re.compile(r"(?i)(aws|amazon)\.")
_INVALID_CHARACTERS = (
    "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | "
    "#xE000 to #xFFFD | #x10000 to #x10FFFF"
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
