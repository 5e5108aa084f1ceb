"""AWS's event stream encoding (`application/vnd.amazon.eventstream`), driven by the model.

An output member marked `eventstream` in botocore's model (Lambda's InvokeWithResponseStream:
`PayloadChunk`, `InvokeComplete`) is answered as a sequence of binary messages, each

    prelude:  total length (4 bytes) | headers length (4) | CRC32 of those 8 bytes (4)
    headers:  name length (1) | name | value type (1; 7 = string) | value length (2) | value
    payload
    CRC32 of everything before (4)

which is what botocore's `EventStreamBuffer` parses (and checks both CRCs of). An event's headers
name it (`:event-type`), say it is an event (`:message-type`) and what its payload is
(`:content-type`): the event's `eventpayload` blob as raw bytes, or else its members as JSON.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import AsyncGenerator, AsyncIterable, Mapping
from typing import Any

from botocore.model import Shape

from gureum.aws.shapes import render_value

# What one message carries at most: botocore refuses a payload past 16 MiB; a chunk this size
# keeps messages small enough that a reader sees bytes as they come.
MAX_PAYLOAD = 1 << 20
_STRING = 7


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event stream message with string-valued `headers`."""
    encoded = b"".join(
        struct.pack("!B", len(name.encode()))
        + name.encode()
        + struct.pack("!BH", _STRING, len(v))
        + v
        for name, v in ((n, value.encode()) for n, value in headers.items())
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack("!I", zlib.crc32(message))


def encode_event(stream: Shape, name: str, members: Mapping[str, Any]) -> list[bytes]:
    """The message(s) of one event of the `stream` shape: a blob payload past MAX_PAYLOAD is
    split over several events of the same name, which a reader joins as one would."""
    shape = stream.members[name]
    payload_member = next(
        (m for m, s in shape.members.items() if s.serialization.get("eventpayload")), None
    )
    headers = {":event-type": name, ":message-type": "event"}
    if payload_member is not None and shape.members[payload_member].type_name == "blob":
        body = bytes(members.get(payload_member) or b"")
        headers[":content-type"] = "application/octet-stream"
        pieces = [body[i : i + MAX_PAYLOAD] for i in range(0, len(body), MAX_PAYLOAD)] or [b""]
        return [encode_message(headers, piece) for piece in pieces]
    document = {
        key: render_value(shape.members[key], value)
        for key, value in members.items()
        if value is not None and key in shape.members
    }
    headers[":content-type"] = "application/json"
    return [encode_message(headers, json.dumps(document, separators=(",", ":")).encode())]


async def encode_stream(
    stream: Shape, events: AsyncIterable[tuple[str, Mapping[str, Any]]]
) -> AsyncGenerator[bytes, None]:
    """The bytes of a whole event stream, one event's messages at a time, as the events come.
    Closing this closes `events` (the producer learns at once that nobody is reading)."""
    iterator = aiter(events)
    try:
        async for name, members in iterator:
            for message in encode_event(stream, name, members):
                yield message
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
