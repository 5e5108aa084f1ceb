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

The directory is under the shared directory (`--shared-dir`, the data directory unless set), so
that every process of a cluster reads the same objects. There other processes write blobs while
one starts: its `sweep` then leaves alone what changed lately (a blob placed and not yet named,
a scratch file being written).
"""

from __future__ import annotations

import errno
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
        """Takes a spooled request body over as a new blob: renamed when it is on the blobs'
        file system (the server spools under the data directory, which holds them unless
        `--shared-dir` puts them elsewhere), else copied there first."""
        fsync_file(body.path)
        try:
            return self._place(body.path)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
        scratch = self._scratch / f"{uuid.uuid4().hex}.copy"
        try:
            shutil.copyfile(body.path, scratch)
            fsync_file(scratch)
            name = self._place(scratch)
        except BaseException:
            scratch.unlink(missing_ok=True)
            raise
        body.path.unlink(missing_ok=True)
        return name

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

    def sweep(self, named: set[str], settled_before: float | None = None) -> int:
        """Removes the blobs no row names (left by a crash) and the scratch files; returns how
        many blobs went. `named` is read before, at start, when this process writes no blob.

        `settled_before` (seconds since the epoch): only the files unchanged since then go,
        for a directory that other processes write meanwhile (a cluster's): a blob placed
        after `named` was read, or a scratch file still being written, changed lately (a rename
        or a link changes a file's ctime, a write its mtime). None: every such file goes (this
        process is the only one writing)."""
        if settled_before is None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch.mkdir(exist_ok=True)
            orphans = [name for name in self.names() if name not in named]
        else:
            for scratch in list(self._scratch.iterdir()):
                if _settled(scratch, settled_before):
                    scratch.unlink(missing_ok=True)
            orphans = [
                name
                for name in self.names()
                if name not in named and _settled(self.path(name), settled_before)
            ]
        self.remove(orphans)
        return len(orphans)


def _settled(path: Path, before: float) -> bool:
    """Whether `path` is unchanged since `before` (False when it is gone already)."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return False
    return max(status.st_mtime, status.st_ctime) < before
