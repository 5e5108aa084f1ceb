"""Conversion between JSON documents and Python values, driven by botocore shapes.

Shared by every JSON-speaking protocol (rest-json for Lambda, json for SQS, KMS, Logs, ...). A
request document becomes plain Python values (`bytes` for blobs, `datetime` for timestamps, `int`
and `float` for numbers) and a handler's result becomes a JSON-ready document, with members the
shape does not know dropped rather than leaked.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.model import Shape

from gureum.aws.documents import UnreadableDocument

_INTEGER_TYPES = frozenset({"integer", "long", "short", "byte"})
_FLOAT_TYPES = frozenset({"float", "double"})
# The Java types AWS parses into: a number outside them is a parse error there, never a value
# (here it would reach SQLite, which cannot store past 64 bits, and fail as a 500).
_INTEGER_BITS = {"byte": 8, "short": 16, "integer": 32, "long": 64}


def integer_in_range(shape: Shape, value: int) -> bool:
    """Whether `value` fits the Java type behind `shape` (int for `integer`, long for `long`)."""
    bits = _INTEGER_BITS.get(shape.type_name, 64)
    return -(1 << (bits - 1)) <= value < (1 << (bits - 1))


def _type_error(shape: Shape, value: object) -> UnreadableDocument:
    return UnreadableDocument(
        f"Cannot deserialize value of type `{shape.type_name}` from {type(value).__name__} "
        f"value ({shape.name})"
    )


Scalar = Callable[[Shape, object], Any]
Mismatch = Callable[[Shape, object], UnreadableDocument]


def parse_value(
    shape: Shape, value: object, scalar: Scalar | None = None, mismatch: Mismatch = _type_error
) -> Any:
    """Turns one decoded value (JSON's; CBOR's with its own `scalar` and `mismatch`) into the
    Python value of `shape`.

    Raises UnreadableDocument, which each protocol turns into its own AWS error.
    """
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise mismatch(shape, value)
        members = shape.members
        return {
            name: parse_value(members[name], item, scalar, mismatch)
            for name, item in value.items()
            if name in members and item is not None
        }
    if kind == "list":
        if not isinstance(value, list):
            raise mismatch(shape, value)
        return [parse_value(shape.member, item, scalar, mismatch) for item in value]
    if kind == "map":
        if not isinstance(value, dict):
            raise mismatch(shape, value)
        return {str(k): parse_value(shape.value, v, scalar, mismatch) for k, v in value.items()}
    return (scalar or parse_scalar)(shape, value)


def parse_scalar(shape: Shape, value: object) -> Any:
    kind = shape.type_name
    if kind == "string":
        if not isinstance(value, str):
            raise _type_error(shape, value)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _type_error(shape, value)
        return value
    if kind in _INTEGER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(shape, value)
        if not integer_in_range(shape, value):
            raise UnreadableDocument(
                f"Numeric value ({value}) out of range of {kind} ({shape.name})"
            )
        return value
    if kind in _FLOAT_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(shape, value)
        return float(value)
    if kind == "blob":
        if not isinstance(value, str):
            raise _type_error(shape, value)
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise UnreadableDocument(f"invalid base64 in {shape.name}") from None
    if kind == "timestamp":
        return _parse_timestamp(shape, value)
    return value


def _parse_timestamp(shape: Shape, value: object) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, ValueError, OSError):  # NaN, or past what a datetime holds
            raise _type_error(shape, value) from None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise _type_error(shape, value)


def render_value(shape: Shape, value: object, timestamp_format: str = "unixTimestamp") -> Any:
    """Turns a handler's Python value into a JSON-ready value of `shape`."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, Mapping), shape.name
        members = shape.members
        return {
            name: render_value(members[name], item, timestamp_format)
            for name, item in value.items()
            if item is not None and name in members
        }
    if kind == "list":
        assert isinstance(value, list | tuple), shape.name
        return [render_value(shape.member, item, timestamp_format) for item in value]
    if kind == "map":
        assert isinstance(value, Mapping), shape.name
        return {k: render_value(shape.value, v, timestamp_format) for k, v in value.items()}
    if kind == "blob":
        assert isinstance(value, bytes), shape.name
        return base64.b64encode(value).decode("ascii")
    if kind == "timestamp":
        return render_timestamp(value, shape.serialization.get("timestampFormat", timestamp_format))
    return value


def render_timestamp(value: object, timestamp_format: str) -> object:
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    assert isinstance(value, datetime)
    if timestamp_format == "iso8601":
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if timestamp_format == "rfc822":
        return value.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    return round(value.timestamp(), 3)
