"""Recursive loop detection (spec 10.8): the lineage of a chain of invocations, as pure values.

AWS follows one triggering event through the invocations it causes by the `Lineage` field of
its X-Ray trace header (`X-Amzn-Trace-Id`): Lambda hands the header to the function
(`_X_AMZN_TRACE_ID`), the AWS SDKs send it on every call they make from inside a function, SQS
keeps it with a message (`AWSTraceHeader`), and Lambda reads it back when that message, or an
asynchronous event, or a destination's record invokes a function. Each time a function is
invoked in the chain its count goes up; past 16 (`THRESHOLD`) a function whose
RecursiveLoop is `Terminate` is not invoked, and the event ends as a failure.

The field's contents are opaque to everyone but Lambda. gureum writes one `hash:count` pair per
function the chain has invoked, `|`-separated, the hash the first 8 hex digits of the SHA-256
of the function's unqualified ARN (so versions and aliases count together). Only invocations
of the same function in one chain add up: one event fanned out to many functions, or one
function calling another many times, is no loop.
"""

from __future__ import annotations

import functools
import hashlib
from enum import StrEnum

THRESHOLD = 16
# A chain through more distinct functions than this keeps the most recent ones.
MAX_ENTRIES = 32
_LINEAGE = "Lineage"


class RecursiveLoop(StrEnum):
    ALLOW = "Allow"
    TERMINATE = "Terminate"


@functools.lru_cache(maxsize=4096)  # asked on every invocation: one digest per function
def function_key(function_arn: str) -> str:
    return hashlib.sha256(function_arn.encode()).hexdigest()[:8]


def fields(header: str | None) -> list[tuple[str, str]]:
    """The `key=value` fields of a trace header, in order (a malformed one yields none)."""
    found: list[tuple[str, str]] = []
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            found.append((key, value))
    return found


def lineage(header: str | None) -> dict[str, int]:
    """Counts by function key; entries that cannot be read are ignored (a header from
    outside gureum may carry AWS's own, which only AWS can read)."""
    counts: dict[str, int] = {}
    for key, value in fields(header):
        if key != _LINEAGE:
            continue
        for entry in value.split("|"):
            name, sep, count = entry.partition(":")
            if sep and len(name) == 8 and count.isdigit():
                counts[name] = max(counts.get(name, 0), int(count))
    return counts


def count(header: str | None, function_arn: str) -> int:
    """How many times the chain of `header` has invoked the function so far."""
    return lineage(header).get(function_key(function_arn), 0)


def is_loop(header: str | None, function_arn: str) -> bool:
    """Whether invoking the function once more would pass AWS's threshold."""
    return count(header, function_arn) >= THRESHOLD


def carried(header: str | None, function_arn: str, root: str, parent: str) -> str:
    """The header an invocation of the function runs with: the caller's root (or `root`, a
    new one, when it had none), a new `parent`, and the lineage with this function counted."""
    given = dict(fields(header))
    counts = lineage(header)
    key = function_key(function_arn)
    counts[key] = counts.get(key, 0) + 1
    entries = [f"{name}:{n}" for name, n in counts.items() if name != key][-(MAX_ENTRIES - 1) :]
    entries.append(f"{key}:{counts[key]}")
    sampled = given.get("Sampled", "0")
    return (
        f"Root={given.get('Root') or root};Parent={parent};Sampled={sampled};"
        f"{_LINEAGE}={'|'.join(entries)}"
    )


def most_recursive(headers: list[str | None], function_arn: str) -> str | None:
    """Of a batch's trace headers (an SQS batch), the one furthest along a chain through the
    function: the batch runs as one invocation, counted with it."""
    best, best_count = None, -1
    for header in headers:
        n = count(header, function_arn)
        if header is not None and n > best_count:
            best, best_count = header, n
    return best
