"""IAM's paging: `MaxItems` (1 to 1000, 100 by default) and an opaque `Marker` naming where the
next page starts; `IsTruncated` says whether there is one."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import TypeVar

from gureum.iam.domain.errors import InvalidInput

T = TypeVar("T")
DEFAULT_MAX_ITEMS = 100


def page(
    items: Sequence[T], key: Callable[[T], str], marker: str | None, max_items: int | None
) -> tuple[list[T], str | None]:
    """One page of `items` (sorted by `key`) and the marker of the next, if any."""
    ordered = sorted(items, key=key)
    start = 0
    if marker is not None:
        try:
            after = base64.b64decode(marker.encode(), altchars=b"-_", validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidInput("Invalid Marker.") from None
        start = next((i for i, item in enumerate(ordered) if key(item) >= after), len(ordered))
    limit = max_items or DEFAULT_MAX_ITEMS
    chosen = ordered[start : start + limit]
    if start + limit >= len(ordered):
        return chosen, None
    following = key(ordered[start + limit])
    return chosen, base64.urlsafe_b64encode(following.encode()).decode()
