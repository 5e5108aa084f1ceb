"""Object bytes on disk: one immutable file per blob, named by a random id, never by a key.

A key is a user's string (`..`, `/`, 1,024 bytes, anything), so it never becomes a path: an
object row in SQLite names its blob, and the blob's name is 32 hex digits under a two-digit
fan-out directory. A blob is complete before anything names it: its bytes are written and
fsynced under a temporary name, then renamed into place (and the directory fsynced), and only
then does a transaction commit a row naming it. A crash in between leaves an unnamed blob,
which `sweep` removes at the next start, never a partial object.

Blobs are never rewritten. A copy is a hard link; a removed or replaced object's blob is
unlinked after the transaction that stopped naming it commits (a reader that opened it still
reads it whole: POSIX keeps an unlinked file's bytes for its open descriptors).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from gureum.aws.http import BodyFile
from gureum.aws.payloads import fsync_file

_COPY_SLICE = 1 << 20


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """The blob files under one directory (`<data>/s3/blobs`)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._scratch = root / "tmp"
        self._scratch.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        if len(name) != 32 or not all(c in "0123456789abcdef" for c in name):
            raise ValueError(f"not a blob name: {name!r}")
        return self._root / name[:2] / name

    def _place(self, source: Path) -> str:
        """Renames a complete, fsynced file into place under a new name; returns the name."""
        name = uuid.uuid4().hex
        target = self.path(name)
        target.parent.mkdir(exist_ok=True)
        os.rename(source, target)
        _fsync_dir(target.parent)
        return name

    def adopt(self, body: BodyFile) -> str:
        """Takes a spooled request body over as a new blob (it must be on the same file system:
        the server spools under the data directory)."""
        fsync_file(body.path)
        return self._place(body.path)

    def link(self, name: str) -> str:
        """A new blob with `name`'s bytes (a hard link; a copy where links are refused)."""
        fresh = uuid.uuid4().hex
        target = self.path(fresh)
        target.parent.mkdir(exist_ok=True)
        try:
            os.link(self.path(name), target)
        except OSError:
            scratch = self._scratch / f"{fresh}.copy"
            shutil.copyfile(self.path(name), scratch)
            fsync_file(scratch)
            os.rename(scratch, target)
        _fsync_dir(target.parent)
        return fresh

    def concatenate(self, names: Iterable[str]) -> str:
        """A new blob with the bytes of `names` one after another (a multipart upload's)."""
        scratch = self._scratch / f"{uuid.uuid4().hex}.join"
        try:
            with scratch.open("wb") as out:
                for name in names:
                    with self.path(name).open("rb") as part:
                        shutil.copyfileobj(part, out, _COPY_SLICE)
                out.flush()
                os.fsync(out.fileno())
            return self._place(scratch)
        except BaseException:
            scratch.unlink(missing_ok=True)
            raise

    def spool_bytes(self, data: bytes) -> BodyFile:
        """A body that arrived in memory (an empty PUT), as a spooled file a blob can adopt."""
        path = self._scratch / f"{uuid.uuid4().hex}.part"
        path.write_bytes(data)
        return BodyFile(
            path,
            len(data),
            hashlib.sha256(data).hexdigest(),
            hashlib.md5(data, usedforsecurity=False).digest(),
            zlib.crc32(data),
        )

    def open(self, name: str) -> BinaryIO:
        return self.path(name).open("rb")

    def remove(self, names: Iterable[str]) -> None:
        for name in names:
            self.path(name).unlink(missing_ok=True)

    def names(self) -> Iterator[str]:
        for directory in self._root.iterdir():
            if len(directory.name) == 2 and directory.is_dir():
                for blob in directory.iterdir():
                    yield blob.name

    def sweep(self, named: set[str]) -> int:
        """Removes the blobs no row names (left by a crash) and any scratch file; returns how
        many blobs went. Only while nothing else writes blobs (at start)."""
        shutil.rmtree(self._scratch, ignore_errors=True)
        self._scratch.mkdir(exist_ok=True)
        orphans = [name for name in self.names() if name not in named]
        self.remove(orphans)
        return len(orphans)
