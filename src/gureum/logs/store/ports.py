"""The port CloudWatch Logs' API (and, through the composition root, Lambda's `LogSink` and the
console's `LogReader`) is written against: log groups of log streams of timestamped events.

Two adapters: files in the data directory (`streams.FileLogStore`, the embedded default) and
tables of the `--store` PostgreSQL database (`postgres.PostgresLogStore`), where every process
of a cluster writes the logs of the functions it runs and every front door reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from gureum.logs.domain.events import LogEvent

# A stream past this many bytes (its events as JSON lines) drops its oldest half, so a chatty
# function cannot fill the disk (or the database).
STREAM_CAP = 16 * 1024 * 1024
FLUSH_INTERVAL = 0.02  # seconds


class LogStore(Protocol):
    """Log groups and streams by account and Region; safe to use from the event loop and from
    worker threads.

    Invariants both adapters keep (tests/logs/service/test_log_store.py proves them on both):
    - `append` never waits for I/O: events are buffered in the process and reach the store at
      the next `flush` (every `FLUSH_INTERVAL` by `flush_periodically`, which the Logs assembly
      owns), before any read, and at `close`; a group or stream written to is made then too;
    - a stream's events read back in the order they were appended;
    - a stream whose events pass the store's cap after a flush loses its oldest half (measured
      in bytes of its events as JSON lines, `[timestamp, ingestion time, message]`);
    - groups and streams are listed by name, byte by byte.
    """

    def append(
        self,
        account: str,
        region: str,
        group: str,
        stream: str,
        events: Iterable[LogEvent],
        create: bool = False,
    ) -> None:
        """Buffers `events` (an event without ingestion time gets its timestamp); `create`:
        the stream (and its group) exists when this returns, even with no events."""
        ...

    def flush(self) -> None:
        """Writes what is buffered."""
        ...

    async def flush_periodically(self, interval: float = FLUSH_INTERVAL) -> None:
        """Flushes every `interval` seconds until cancelled."""
        ...

    def close(self) -> None:
        """Flushes, then releases files and connections."""
        ...

    def create_group(self, account: str, region: str, group: str) -> None: ...

    def delete_group(self, account: str, region: str, group: str) -> None:
        """Removes the group, its streams and their events (buffered ones too)."""
        ...

    def groups(self, account: str, region: str) -> list[tuple[str, int]]:
        """(group name, creation time in ms) of every group, by name."""
        ...

    def streams(self, account: str, region: str, group: str) -> list[tuple[str, int, int, int]]:
        """(stream, first event ms, last event ms, size in bytes) of every stream in a group,
        by name; an empty stream's first and last are 0."""
        ...

    def has_group(self, account: str, region: str, group: str) -> bool: ...

    def has_stream(self, account: str, region: str, group: str, stream: str) -> bool: ...

    def events(self, account: str, region: str, group: str, stream: str) -> list[LogEvent]:
        """Every event of the stream, oldest first ([] for a stream that is not there)."""
        ...
