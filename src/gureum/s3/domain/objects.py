"""Objects: keys, what is stored of an object, ETags, byte ranges and conditional requests.

Keys are never paths: an object's bytes live in a blob file with a name of its own (see
`s3.store.blobs`), so a key can be any UTF-8 string S3 allows, `..` and all, stored exactly as
sent (no Unicode normalisation: `é` composed and decomposed are two keys, as on S3).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gureum.s3.domain.errors import (
    InvalidArgument,
    InvalidDigest,
    InvalidRange,
    KeyTooLong,
    NotModified,
    PreconditionFailed,
)

MAX_KEY_BYTES = 1024
# Characters XML 1.0 cannot carry: a key holding one could be stored but never listed.
_UNLISTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def check_key(key: str) -> str:
    size = len(key.encode("utf-8", errors="surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise KeyTooLong(size)
    if not key:
        raise InvalidArgument("The key must not be empty.")
    if _UNLISTABLE.search(key) is not None:
        raise InvalidArgument(
            "gureum refuses object keys with characters XML 1.0 cannot carry "
            "(U+0000 to U+001F other than tab, LF and CR)."
        )
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument("The key must be valid UTF-8.") from None
    return key


@dataclass(frozen=True, slots=True)
class ObjectHeaders:
    """The headers an object is stored with and answered with (Content-Type and the rest)."""

    content_type: str = "binary/octet-stream"
    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    expires: float | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredObject:
    bucket: str
    key: str
    blob: str  # the blob file's name: never derived from the key
    size: int
    etag: str  # quoted, as S3 sends it
    modified: float  # epoch seconds
    headers: ObjectHeaders
    parts: int | None = None  # parts of a multipart upload


def etag_of(md5: bytes) -> str:
    return f'"{md5.hex()}"'


def multipart_etag(part_md5s: Sequence[bytes]) -> str:
    """S3's ETag of a multipart object: the MD5 of the parts' MD5s, then `-` and their count."""
    digest = hashlib.md5(b"".join(part_md5s), usedforsecurity=False).hexdigest()
    return f'"{digest}-{len(part_md5s)}"'


def check_content_md5(claimed: str | None, md5: bytes) -> bool:
    """Whether a Content-MD5 header (base64 of the digest) matches `md5`; raises
    InvalidDigest for one that is not a base64 MD5 at all."""
    if claimed is None:
        return True
    try:
        decoded = base64.b64decode(claimed.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidDigest() from None
    if len(decoded) != 16:
        raise InvalidDigest()
    return decoded == md5


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def byte_range(header: str | None, size: int) -> ByteRange | None:
    """The part of an object of `size` bytes a Range header asks for; None for the whole object
    (no header, or one S3 ignores: not `bytes=`, or several ranges). 416 when unsatisfiable."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise InvalidRange(size)
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        return None  # syntactically invalid: S3 sends the whole object
    if start >= size:
        raise InvalidRange(size)
    return ByteRange(start, end)


@dataclass(frozen=True, slots=True)
class Conditions:
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: float | None = None
    if_unmodified_since: float | None = None


def _etag_matches(condition: str, etag: str) -> bool:
    wanted = [c.strip() for c in condition.split(",")]
    return "*" in wanted or etag in wanted or etag.strip('"') in [w.strip('"') for w in wanted]


def check_conditions(conditions: Conditions, etag: str, modified: float, read: bool) -> None:
    """RFC 7232 as S3 applies it: If-Match / If-Unmodified-Since fail with 412; If-None-Match /
    If-Modified-Since with 304 on a read (GET, HEAD), 412 otherwise. If-Match wins over
    If-Unmodified-Since and If-None-Match over If-Modified-Since."""
    whole_second = float(int(modified))  # HTTP dates have no fractions
    if conditions.if_match is not None:
        if not _etag_matches(conditions.if_match, etag):
            raise PreconditionFailed("If-Match")
    elif (
        conditions.if_unmodified_since is not None and whole_second > conditions.if_unmodified_since
    ):
        raise PreconditionFailed("If-Unmodified-Since")
    if conditions.if_none_match is not None:
        if _etag_matches(conditions.if_none_match, etag):
            if read:
                raise NotModified()
            raise PreconditionFailed("If-None-Match")
    elif (
        conditions.if_modified_since is not None
        and read
        and whole_second <= conditions.if_modified_since
    ):
        raise NotModified()
