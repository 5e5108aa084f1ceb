"""The plain HTTP values the wire layer passes around, independent of any server library."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qsl


@dataclass(frozen=True, slots=True)
class BodyFile:
    """A request body spooled to a file instead of memory (S3's uploads): its bytes as they
    arrived, with their size and digests taken on the way in. Whoever takes the file over
    renames it; the server removes it after the response if it is still there."""

    path: Path
    size: int
    sha256: str  # hex
    md5: bytes  # raw digest
    crc32: int


@dataclass(frozen=True, slots=True)
class FileSlice:
    """A response body read from an open file (S3's GetObject): `length` bytes from `offset`.
    The file was opened while the object was current, so a later overwrite or delete does not
    change what this response sends; the server closes it once the body is sent."""

    file: BinaryIO
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # A body too large for memory, sent from a file instead of `body`.
    content: FileSlice | None = None
    # A body sent as it is made (an event stream, a streamed function URL response), after
    # `body`: the server writes each piece as it comes, with no Content-Length. Closing it (the
    # client went away) tells its producer to stop.
    stream: AsyncGenerator[bytes, None] | None = None


def header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    """The first value of header `name` (case-insensitive), or None."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def query_params(raw_query: str) -> list[tuple[str, str]]:
    """The decoded (name, value) pairs of a query string, blanks kept, order kept."""
    return parse_qsl(raw_query, keep_blank_values=True)
