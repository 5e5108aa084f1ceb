"""Tags on roles and users: keys unique regardless of case (a new value replaces the old one),
at most 50 per entity."""

from __future__ import annotations

from collections.abc import Iterable

from gureum.iam.domain.entities import Tags
from gureum.iam.domain.errors import LimitExceeded

MAX_TAGS = 50


def tagged(tags: Tags, added: Iterable[tuple[str, str]], quota: str) -> Tags:
    """`tags` with `added` set (replacing a tag of the same key, in any case)."""
    merged = {key.lower(): (key, value) for key, value in tags}
    for key, value in added:
        merged[key.lower()] = (key, value)
    if len(merged) > MAX_TAGS:
        raise LimitExceeded(f"Cannot exceed quota for {quota}: {MAX_TAGS}")
    return tuple(merged.values())


def untagged(tags: Tags, keys: Iterable[str]) -> Tags:
    removed = {key.lower() for key in keys}
    return tuple((k, v) for k, v in tags if k.lower() not in removed)
