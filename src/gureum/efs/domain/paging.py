"""Pages of a listing: the marker is the id of the first item of the next page, so a page
stays right while items before it are deleted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from gureum.efs.domain.errors import BadRequest

T = TypeVar("T")
DEFAULT_PAGE = 100


def page(
    items: Sequence[T], key: Callable[[T], str], marker: str | None, size: int | None
) -> tuple[list[T], str | None]:
    """One page of `items` (sorted by `key`) from `marker`, and the next marker or None."""
    start = 0
    if marker is not None:
        if not marker.startswith(("fs-", "fsmt-", "fsap-")):
            raise BadRequest(f"Invalid marker: {marker}")
        start = next((i for i, item in enumerate(items) if key(item) >= marker), len(items))
    end = start + (size or DEFAULT_PAGE)
    following = key(items[end]) if end < len(items) else None
    return list(items[start:end]), following
