"""Multipart uploads, pure: which parts a CompleteMultipartUpload may assemble, and in what
order (S3's rules: ascending part numbers, each uploaded with the ETag given, every part but the
last at least 5 MiB)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from gureum.s3.domain.errors import (
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    MalformedXml,
)

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000


@dataclass(frozen=True, slots=True)
class Part:
    number: int
    blob: str
    size: int
    etag: str  # quoted
    md5: bytes
    modified: float


def check_part_number(number: int) -> int:
    if not 1 <= number <= MAX_PART_NUMBER:
        raise InvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
    return number


def _unquoted(etag: str) -> str:
    return etag.strip().strip('"')


def assemble(requested: Sequence[tuple[int, str]], uploaded: Mapping[int, Part]) -> list[Part]:
    """The parts, in order, that (part number, ETag) pairs name; raises S3's error otherwise."""
    if not requested:
        raise MalformedXml()
    numbers = [number for number, _ in requested]
    if any(b <= a for a, b in pairwise(numbers)):
        raise InvalidPartOrder()
    parts = []
    for number, etag in requested:
        part = uploaded.get(number)
        if part is None or _unquoted(part.etag) != _unquoted(etag):
            raise InvalidPart()
        parts.append(part)
    if any(part.size < MIN_PART_SIZE for part in parts[:-1]):
        raise EntityTooSmall()
    return parts
