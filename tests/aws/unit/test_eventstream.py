"""AWS's event stream encoding, read back with botocore's own parser (prelude and message CRCs
checked), table-driven over Lambda's InvokeWithResponseStream events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import botocore.session
import pytest
from botocore.eventstream import EventStreamBuffer

from gureum.aws.protocols.eventstream import MAX_PAYLOAD, encode_event, encode_stream

STREAM = (
    botocore.session.get_session()
    .get_service_model("lambda")
    .operation_model("InvokeWithResponseStream")
    .output_shape.members["EventStream"]
)


def parsed(data: bytes) -> list[tuple[dict[str, Any], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(dict(message.headers), message.payload) for message in buffer]


@pytest.mark.parametrize(
    ("name", "members", "content_type", "payload"),
    [
        ("PayloadChunk", {"Payload": b"hello"}, "application/octet-stream", b"hello"),
        ("PayloadChunk", {"Payload": b""}, "application/octet-stream", b""),
        ("InvokeComplete", {}, "application/json", b"{}"),
        (
            "InvokeComplete",
            {"ErrorCode": "TypeError", "ErrorDetails": "bad", "LogResult": None},
            "application/json",
            b'{"ErrorCode":"TypeError","ErrorDetails":"bad"}',
        ),
    ],
)
def test_each_event_is_one_checked_message(
    name: str, members: Mapping[str, Any], content_type: str, payload: bytes
) -> None:
    ((headers, body),) = parsed(b"".join(encode_event(STREAM, name, members)))
    assert headers == {
        ":event-type": name,
        ":message-type": "event",
        ":content-type": content_type,
    }
    assert body == payload


def test_a_large_chunk_is_split_into_messages_botocore_accepts() -> None:
    data = bytes(range(256)) * (MAX_PAYLOAD // 256 * 2 + 3)
    messages = parsed(b"".join(encode_event(STREAM, "PayloadChunk", {"Payload": data})))
    assert len(messages) == 3
    assert b"".join(body for _, body in messages) == data


def test_the_stream_encodes_events_as_they_come_and_closes_its_source() -> None:
    closed: list[bool] = []

    async def events() -> AsyncIterator[tuple[str, Mapping[str, Any]]]:
        try:
            yield "PayloadChunk", {"Payload": b"a"}
            yield "PayloadChunk", {"Payload": b"b"}
            yield "InvokeComplete", {}
        finally:
            closed.append(True)

    async def first_only() -> bytes:
        stream = encode_stream(STREAM, events())
        first = await anext(stream)
        await stream.aclose()  # the client went away
        return first

    first = asyncio.run(first_only())
    assert parsed(first)[0][1] == b"a"
    assert closed == [True]
