"""Function logs on disk, the embedded default `LogStore` (`ports`): log groups of log streams
of timestamped events (CloudWatch Logs' model).

One JSON-lines file per stream under `root/<account>/<region>/<group>/<stream>.jsonl` (names
percent-encoded). A per-stream size cap drops the oldest half when exceeded, so a chatty function
cannot fill the disk.

An invocation appends three to five events from the event loop, so appends are buffered in the
process and reach the file at most `FLUSH_INTERVAL` later (`flush_periodically`, a loop the Logs
assembly owns), on a read, or at close: a `kill -9` loses at most that much of the newest lines,
and no append pays a system call. That holds for a stream's first lines too: its group's
directory and its file are made at the flush, not on the cold start that wrote them.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote

from gureum.logs.domain.events import LogEvent
from gureum.logs.store.ports import FLUSH_INTERVAL, STREAM_CAP

OPEN_STREAMS = 256
PATHS_KEPT = 4096


def _name(text: str) -> str:
    """A group or stream name as one path segment: `/` encoded, and `.`/`..` never literal."""
    encoded = quote(text, safe="")
    return "%2E" + encoded[1:] if encoded.startswith(".") else encoded


class FileLogStore:
    """Log groups and streams on disk (`ports.LogStore`); safe to use from the event loop and
    worker threads."""

    def __init__(self, root: Path, stream_cap: int = STREAM_CAP) -> None:
        self._root = root
        self._cap = stream_cap
        root.mkdir(parents=True, exist_ok=True)
        # Streams being written keep their file open: an invocation appends three to five
        # events, and opening the file for each would cost more than the writes.
        self._open: OrderedDict[Path, BinaryIO] = OrderedDict()
        self._sizes: dict[Path, int] = {}  # of the open streams, buffered bytes included
        self._dirty: set[Path] = set()  # open streams with buffered bytes
        self._pending: dict[Path, list[bytes]] = {}  # lines of streams whose file is not open
        # Environments write from the event loop, the Logs API from worker threads.
        self._lock = threading.RLock()
        # Where each stream's file is: an invocation writes three lines or more, and building
        # the path (quoting, pathlib) cost more than writing them.
        self._paths: dict[tuple[str, str, str, str], Path] = {}

    def _handle(self, path: Path) -> BinaryIO:
        handle = self._open.pop(path, None)
        if handle is None or handle.closed:
            handle = path.open("ab")
            self._sizes[path] = handle.tell()
            if len(self._open) >= OPEN_STREAMS:
                self._close(next(iter(self._open)))
        self._open[path] = handle
        return handle

    def _close(self, path: Path) -> None:
        handle = self._open.pop(path, None)
        if handle is not None:
            handle.close()
        self._sizes.pop(path, None)
        self._dirty.discard(path)

    def flush(self, path: Path | None = None) -> None:
        """Writes what is buffered: of one stream, or of every one (making their files)."""
        with self._lock:
            for pending in [path] if path is not None else list(self._pending):
                lines = self._pending.pop(pending, None)
                if lines is not None:
                    if not pending.parent.is_dir():
                        self._make_group(pending.parent)
                    self._write(pending, b"".join(lines))
            for dirty in [path] if path is not None else list(self._dirty):
                if dirty in self._dirty:
                    self._open[dirty].flush()
                    self._dirty.discard(dirty)

    async def flush_periodically(self, interval: float = FLUSH_INTERVAL) -> None:
        """Flushes every `interval` seconds until cancelled (the Logs assembly owns it)."""
        while True:
            await asyncio.sleep(interval)
            if self._dirty or self._pending:
                self.flush()

    def close(self) -> None:
        with self._lock:
            self.flush()
            for path in list(self._open):
                self._close(path)
            self._open.clear()

    def _group_dir(self, account: str, region: str, group: str) -> Path:
        return self._root / _name(account) / _name(region) / _name(group)

    def create_group(self, account: str, region: str, group: str) -> None:
        self._make_group(self._group_dir(account, region, group))

    @staticmethod
    def _make_group(directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        created = directory / ".created"
        if not created.exists():
            created.write_text(str(int(time.time() * 1000)))

    def delete_group(self, account: str, region: str, group: str) -> None:
        directory = self._group_dir(account, region, group)
        with self._lock:
            for path in [p for p in self._open if p.parent == directory]:
                self._close(path)
            for path in [p for p in self._pending if p.parent == directory]:
                del self._pending[path]
            shutil.rmtree(directory, ignore_errors=True)

    def append(
        self,
        account: str,
        region: str,
        group: str,
        stream: str,
        events: Iterable[LogEvent],
        create: bool = False,
    ) -> None:
        key = (account, region, group, stream)
        path = self._paths.get(key)
        if path is None:
            if len(self._paths) >= PATHS_KEPT:
                self._paths.clear()
            path = self._group_dir(account, region, group) / f"{_name(stream)}.jsonl"
            self._paths[key] = path
        lines = "".join(
            json.dumps([e.timestamp, e.ingested or e.timestamp, e.message]) + "\n" for e in events
        ).encode()
        if not lines and not create:
            return
        with self._lock:
            if path in self._open:
                self._write(path, lines)
            else:  # its file is made at the next flush (this may be a cold start)
                self._pending.setdefault(path, []).append(lines)
            if create:
                self.flush(path)

    def _write(self, path: Path, lines: bytes) -> None:
        handle = self._handle(path)
        handle.write(lines)
        self._dirty.add(path)
        self._sizes[path] += len(lines)
        if self._sizes[path] > self._cap:
            self._close(path)
            self._trim(path)

    @staticmethod
    def _trim(path: Path) -> None:
        data = path.read_bytes()
        keep = data[len(data) // 2 :]
        keep = keep[keep.find(b"\n") + 1 :]
        temporary = path.with_suffix(".trim")
        temporary.write_bytes(keep)
        os.replace(temporary, path)

    # reading -----------------------------------------------------------------------------

    def groups(self, account: str, region: str) -> list[tuple[str, int]]:
        """(group name, creation time in ms) of every group, by name."""
        self.flush()  # groups not on disk yet
        base = self._root / account / region
        if not base.is_dir():
            return []
        found = [(unquote(d.name), self._created(d)) for d in base.iterdir() if d.is_dir()]
        return sorted(found)

    @staticmethod
    def _created(directory: Path) -> int:
        try:
            return int((directory / ".created").read_text())
        except (OSError, ValueError):
            return int(directory.stat().st_mtime * 1000)

    def streams(self, account: str, region: str, group: str) -> list[tuple[str, int, int, int]]:
        """(stream, first event ms, last event ms, size) of every stream in a group."""
        self.flush()
        directory = self._group_dir(account, region, group)
        if not directory.is_dir():
            return []
        result = []
        for path in directory.glob("*.jsonl"):
            events = list(self._read(path))
            first = events[0].timestamp if events else 0
            last = events[-1].timestamp if events else 0
            result.append((unquote(path.stem), first, last, path.stat().st_size))
        return sorted(result)

    def has_group(self, account: str, region: str, group: str) -> bool:
        self.flush()
        return self._group_dir(account, region, group).is_dir()

    def has_stream(self, account: str, region: str, group: str, stream: str) -> bool:
        self.flush()
        return self._stream_path(account, region, group, stream).is_file()

    def _stream_path(self, account: str, region: str, group: str, stream: str) -> Path:
        return self._group_dir(account, region, group) / f"{_name(stream)}.jsonl"

    def events(self, account: str, region: str, group: str, stream: str) -> list[LogEvent]:
        path = self._stream_path(account, region, group, stream)
        self.flush(path)
        return list(self._read(path)) if path.exists() else []

    @staticmethod
    def _read(path: Path) -> Iterator[LogEvent]:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    timestamp, ingested, message = json.loads(line)
                except ValueError:
                    continue
                yield LogEvent(timestamp, message, ingested)
