"""The rules every SQS batch request shares (SendMessageBatch, DeleteMessageBatch,
ChangeMessageVisibilityBatch): 1 to 10 entries with distinct, well-formed ids.

A batch that breaks them fails whole; an entry that is valid as an entry but refused on its own
(a bad receipt handle, a message too large) fails alone, in the response's `Failed` list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gureum.sqs.domain.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    TooManyEntriesInBatchRequest,
)

MAX_ENTRIES = 10
MAX_BATCH_BYTES = 1_048_576
_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")


def check_batch(ids: Sequence[str], entry_shape: str) -> None:
    """`entry_shape` names the entries in AWS's message, e.g. `SendMessageBatchRequestEntry`."""
    if not ids:
        raise EmptyBatchRequest(f"There should be at least one {entry_shape} in the request.")
    if len(ids) > MAX_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are {MAX_ENTRIES}. You have sent {len(ids)}."
        )
    seen: set[str] = set()
    for entry_id in ids:
        if not _ENTRY_ID.fullmatch(entry_id):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long."
            )
        if entry_id in seen:
            raise BatchEntryIdsNotDistinct(f"Id {entry_id} repeated.")
        seen.add(entry_id)


def check_batch_size(sizes: Sequence[int]) -> None:
    """The messages of one SendMessageBatch share the single-message limit (1 MiB)."""
    total = sum(sizes)
    if total > MAX_BATCH_BYTES:
        raise BatchRequestTooLong(
            f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent "
            f"{total} bytes."
        )
