"""ListObjectsV2, pure: one page of a bucket's keys under a prefix, rolled up at a delimiter.

The store hands the keys in order from where the page starts; `page` takes what fits in
`max_keys` (keys and common prefixes count alike, as on S3) and says where the next page starts.
A continuation token names the last key or common prefix of a page, so the next page starts
after it (after every key under it, for a prefix).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

from gureum.s3.domain.errors import InvalidArgument
from gureum.s3.domain.objects import StoredObject

MAX_KEYS = 1000


@dataclass(frozen=True, slots=True)
class Resume:
    """Where a page starts: after `after` (exclusive), skipping every key under it when it is
    a common prefix."""

    after: str
    is_prefix: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    contents: list[StoredObject]
    common_prefixes: list[str]
    truncated: bool
    next_token: str | None


def encode_token(resume: Resume) -> str:
    kind = "P" if resume.is_prefix else "K"
    return base64.urlsafe_b64encode(f"{kind}{resume.after}".encode()).decode()


def decode_token(token: str) -> Resume:
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode()
    except (binascii.Error, ValueError, UnicodeError):
        raise InvalidArgument("The continuation token provided is incorrect") from None
    if not text or text[0] not in "KP":
        raise InvalidArgument("The continuation token provided is incorrect")
    return Resume(text[1:], text[0] == "P")


def start_of(token: str | None, start_after: str | None) -> Resume | None:
    """Where the listing resumes: the token wins over StartAfter, as on S3."""
    if token is not None:
        return decode_token(token)
    if start_after:
        return Resume(start_after)
    return None


def page(
    objects: Iterable[StoredObject],
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    resume: Resume | None,
) -> Page:
    """One page from `objects` (every key under `prefix` after `resume.after`, in order)."""
    contents: list[StoredObject] = []
    prefixes: list[str] = []
    last: Resume | None = None
    for item in objects:
        if resume is not None and resume.is_prefix and item.key.startswith(resume.after):
            continue
        rolled = None
        if delimiter:
            rest = item.key[len(prefix) :]
            at = rest.find(delimiter)
            if at >= 0:
                rolled = prefix + rest[: at + len(delimiter)]
        if rolled is not None and prefixes and prefixes[-1] == rolled:
            continue
        if len(contents) + len(prefixes) >= max_keys:
            token = encode_token(last) if last is not None else None
            return Page(contents, prefixes, True, token)
        if rolled is not None:
            prefixes.append(rolled)
            last = Resume(rolled, True)
        else:
            contents.append(item)
            last = Resume(item.key)
    return Page(contents, prefixes, False, None)
