"""The plain HTTP values the wire layer passes around, independent of any server library."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


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
