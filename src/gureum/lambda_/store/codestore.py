"""Code and layer archives, stored by content hash with atomic writes.

A blob is written to a temporary file, fsync'd, renamed into place and its directory fsync'd
before any database row refers to it, so a crash leaves at worst an unreferenced blob (swept at
start-up), never a row pointing at a missing or torn file.

An archive is kept only once it has been unpacked whole into its tree (`put`): one streaming pass
that checks every member's CRC, compares the bytes it really holds with what its headers declare,
and counts them against the unzipped limit as they are read, so a damaged archive is refused while
its request can still be answered, never found out later by the settler. Extraction re-checks
every entry so nothing lands outside the target directory whatever the archive says.

A tree's Python sources are compiled (`compile`) for the interpreter that will import them before
any environment mounts it read-only, so a cold start loads bytecode instead of compiling the
handler module on every start.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from gureum.lambda_.domain import hot_reload
from gureum.lambda_.domain.packages import (
    READ_ERRORS,
    UNZIPPED_LIMIT,
    check_entry_path,
    check_link_target,
    is_symlink,
)
from gureum.lambda_.store.bytecode import BYTECODE_FILES, Compilers, sources

CHUNK = 1 << 20
# An archive whose entries cannot coexist as files (`a` and `a/b`, a file over a directory).
_CLASHES = (errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENOTEMPTY)


class UnreadableArchive(ValueError):
    """The archive cannot be unpacked as it is: a bad CRC, sizes that lie, a corrupt stream..."""


class ArchiveTooLarge(ValueError):
    """The archive holds more than the unzipped limit, counted as it was read."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CodeStore:
    """Content-addressed archive files under `root/blobs`, extracted trees under `trees`
    (default `root/trees`).

    In a cluster `root` is on the shared directory every host reads (`--shared-dir`), and
    `trees` on the host's own disk: a tree is this host's cache of its archive, made again from
    the archive when missing (`tree`), so the archives are the only shared state.
    """

    def __init__(self, root: Path, trees: Path | None = None) -> None:
        self._blobs = root / "blobs"
        self._trees = trees if trees is not None else root / "trees"
        # (tree, interpreter version) pairs compiled by this process: a tree is immutable once
        # published, so its bytecode for one version never needs making twice.
        self._compiled: set[tuple[Path, tuple[int, int]]] = set()
        self._compilers = Compilers()
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._trees.mkdir(parents=True, exist_ok=True)

    def path(self, blob: str) -> Path:
        return self._blobs / blob[:2] / f"{blob}.zip"

    def put(self, blob: str, data: bytes, limit: int = UNZIPPED_LIMIT) -> None:
        """Keeps `data` as `blob` once it has been unpacked whole into the blob's tree.

        Raises `UnreadableArchive` or `ArchiveTooLarge`, having written nothing. A blob whose tree
        exists was verified when the tree was made, and is not unpacked again.
        """
        tree = self._trees / blob
        if tree.exists():
            self._write(blob, data)
            return
        staging = self._staging(blob[:12])
        try:
            _unpack(io.BytesIO(data), staging, limit)
            self._write(blob, data)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _publish(staging, tree)

    def _write(self, blob: str, data: bytes) -> None:
        target = self.path(blob)
        if target.exists():
            return
        target.parent.mkdir(exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)

    def read(self, blob: str) -> bytes:
        return self.path(blob).read_bytes()

    def exists(self, blob: str) -> bool:
        return self.path(blob).exists()

    def remove(self, blob: str) -> None:
        if hot_reload.is_hot(blob):
            return  # a hot-reload directory is the user's: never gureum's to remove
        self.path(blob).unlink(missing_ok=True)
        shutil.rmtree(self._trees / blob, ignore_errors=True)

    def sweep(self, in_use: Callable[[str], bool], older_than: float | None = None) -> int:
        """Deletes blobs nothing refers to (left by a crash between write and commit), and the
        trees of blobs that are gone (another host of a cluster deleted them).

        Also the staging directories of extractions a crash interrupted: call it at start-up,
        before anything extracts. `older_than` (seconds): only files at least that old go.
        Another process sharing the blobs may have written one a moment ago for a function it
        has not committed yet; on one host, with no other process, every orphan goes.
        """
        for staging in self._trees.glob(".*"):
            shutil.rmtree(staging, ignore_errors=True)
        removed = 0
        now = time.time()
        for file in self._blobs.glob("*/*"):
            blob = file.name.removesuffix(".zip")
            if older_than is not None and now - _mtime(file, now) < older_than:
                continue
            if file.suffix == ".part" or not in_use(blob):
                file.unlink(missing_ok=True)
                shutil.rmtree(self._trees / blob, ignore_errors=True)
                removed += 1
        for tree in self._trees.iterdir():
            name = tree.name
            if not name.startswith((".", "opt-")) and not self.path(name).exists():
                shutil.rmtree(tree, ignore_errors=True)
        return removed

    def _staging(self, prefix: str) -> Path:
        staging = Path(tempfile.mkdtemp(dir=self._trees, prefix=f".{prefix}-"))
        staging.chmod(0o755)  # readable by the sandbox's unprivileged users
        return staging

    def made(self, blob: str) -> Path | None:
        """The archive's tree if it is extracted already (the usual case: `put` extracts it):
        one stat, cheap enough for the event loop, where `tree` may unpack. A hot-reload blob's
        tree is its directory, as it is (domain.hot_reload)."""
        if hot_reload.is_hot(blob):
            return Path(hot_reload.directory_of(blob))
        target = self._trees / blob
        return target if target.exists() else None

    def merged(self, blobs: list[str]) -> Path:
        """Several archives' trees overlaid in order into one (layers at /opt: later ones win).

        Built from each archive's own tree, which `put` made when it verified the archive, so a
        layer is unpacked once however many functions use it; files are hard links into those
        read-only trees.
        """
        if len(blobs) == 1 and hot_reload.is_hot(blobs[0]):
            return self.tree(blobs[0])  # a hot-reload layer alone: its directory is /opt
        key = hashlib.sha256(":".join(blobs).encode()).hexdigest()
        target = self._trees / f"opt-{key}"
        if target.exists():
            return target
        sources = [self.tree(blob) for blob in blobs]
        staging = self._staging(f"opt-{key[:12]}")
        try:
            for source in sources:
                _overlay(source, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _publish(staging, target)
        return target

    def compile(
        self,
        tree: Path,
        python: str,
        version: tuple[int, int],
        mounted_at: str,
        bound: int = BYTECODE_FILES,
    ) -> int:
        """Writes `tree`'s bytecode for Python `version` (run by `python`); the sources tried.

        The .pyc files land in `__pycache__` beside their sources, where the import system of a
        sandbox that sees the tree read-only at `mounted_at` looks for them. They are
        unchecked-hash .pyc files (PEP 552): valid whatever the mtimes and paths, and never
        stale, since a tree is content-addressed and never changes once published (new code is
        a new tree). Compiled once per tree and version by this process, at most `bound` files,
        shallowest first; a file that does not compile is left to the runtime, which reports its
        error as it would have.
        """
        if (tree, version) in self._compiled:
            return 0
        names = sources(tree, bound)
        if names:
            self._compilers.compile(python, tree, names, mounted_at)
        for name in names:  # readable by the sandbox's users whatever this process's umask
            cache = (tree / name).parent / "__pycache__"
            if cache.is_dir() and not cache.is_symlink():
                cache.chmod(0o755)
        self._compiled.add((tree, version))
        return len(names)

    def close(self) -> None:
        """Stops the compiler processes (they would end with this process anyway)."""
        self._compilers.close()

    def tree(self, blob: str, limit: int = UNZIPPED_LIMIT) -> Path:
        """The archive extracted (once) into a read-only directory of its own.

        Raises `UnreadableArchive` or `ArchiveTooLarge` for an archive kept before archives were
        verified, or damaged on disk since. A hot-reload blob's tree is its directory (an
        OSError when it is gone).
        """
        if hot_reload.is_hot(blob):
            directory = Path(hot_reload.directory_of(blob))
            if not directory.is_dir():
                raise FileNotFoundError(f"the hot-reload directory {directory} is gone")
            return directory
        target = self._trees / blob
        if target.exists():
            return target
        staging = self._staging(blob[:12])
        try:
            with self.path(blob).open("rb") as source:
                _unpack(source, staging, limit)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _publish(staging, target)
        return target


def _mtime(path: Path, default: float) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return default


def _publish(staging: Path, target: Path, attempts: int = 5) -> None:
    """Renames the finished `staging` tree to `target`, unless an equal tree is there already.

    The rename fails while `target` exists as a non-empty directory: either a concurrent cold
    start (or upload of the same bytes) published it first, and `staging` is dropped, or the
    delete of the last function using it is removing it right now (`CodeStore.remove`), and the
    rename is tried again once that removal has taken the directory away.
    """
    for attempt in range(attempts):
        try:
            os.replace(staging, target)
            return
        except OSError:
            if attempt == attempts - 1 or target.exists():
                shutil.rmtree(staging, ignore_errors=True)
                if target.exists():
                    return
                raise


def _overlay(source: Path, target: Path) -> None:
    """Adds the tree `source` into `target` as unpacking its archive there would have: what is
    there already is replaced, and a path through a symbolic link lands where the link points."""
    for directory, subdirectories, files in os.walk(source):  # symbolic links are not followed
        here = Path(directory)
        into = target / here.relative_to(source)
        for name in subdirectories + files:
            origin, destination = here / name, into / name
            if origin.is_symlink():
                if destination.is_symlink() or destination.exists():
                    destination.unlink()
                destination.symlink_to(os.readlink(origin))
            elif origin.is_dir():
                destination.mkdir(exist_ok=True)
                destination.chmod(0o755)
            else:
                if destination.is_symlink() or destination.exists():
                    destination.unlink()
                try:
                    os.link(origin, destination)
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                        raise
                    shutil.copy2(origin, destination)


def _unpack(source: IO[bytes], root: Path, limit: int) -> int:
    """Extracts every entry of the archive in `source` under `root`; returns the bytes written."""
    try:
        archive = zipfile.ZipFile(source)
    except READ_ERRORS as exc:
        raise UnreadableArchive(f"not a readable zip: {exc}") from exc
    written = 0
    with archive:
        for entry in archive.infolist():
            try:
                written += _extract(archive, entry, root, limit - written)
            except OSError as exc:
                if exc.errno not in _CLASHES:
                    raise  # the disk, not the archive (ENOSPC, EIO)
                raise UnreadableArchive(f"entry {entry.filename!r}: {exc}") from exc
    return written


def _extract(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, root: Path, allowance: int) -> int:
    """Writes one entry under `root`; returns its size, as read."""
    check_entry_path(entry.filename)
    destination = (root / entry.filename).resolve()
    if not destination.is_relative_to(root.resolve()):
        raise UnreadableArchive(f"entry {entry.filename!r} escapes the package")
    if entry.is_dir():
        destination.mkdir(parents=True, exist_ok=True)
        destination.chmod(0o755)
        return 0
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.is_symlink() or destination.exists():
        destination.unlink()
    if is_symlink(entry):
        buffer = io.BytesIO()
        size = _copy(archive, entry, buffer, allowance)
        try:
            link = buffer.getvalue().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadableArchive(f"entry {entry.filename!r}: {exc}") from exc
        check_link_target(entry.filename, link)
        destination.symlink_to(link)
        return size
    with open(destination, "wb") as sink:
        size = _copy(archive, entry, sink, allowance)
    mode = (entry.external_attr >> 16) & 0o777
    destination.chmod((mode or 0o644) | 0o444)
    return size


def _copy(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, sink: IO[bytes], allowance: int) -> int:
    """Streams one member into `sink`, counting what it really holds.

    zipfile checks the CRC once a member is read to its end. The count is checked against
    `allowance` before each chunk is written, so an archive that lies about its sizes never
    writes more than the limit; and it must equal the declared size, since an archive whose
    headers lie is not one AWS would unzip either.
    """
    try:
        member = archive.open(entry)
    except READ_ERRORS as exc:
        raise UnreadableArchive(f"entry {entry.filename!r}: {exc}") from exc
    size = 0
    with member:
        while True:
            try:  # only the reading: a failed write is the disk's fault, not the archive's
                chunk = member.read(CHUNK)
            except READ_ERRORS as exc:
                raise UnreadableArchive(f"entry {entry.filename!r}: {exc}") from exc
            if not chunk:
                break
            size += len(chunk)
            if size > allowance:
                raise ArchiveTooLarge(f"entry {entry.filename!r} goes past the limit")
            sink.write(chunk)
    if size != entry.file_size:
        raise UnreadableArchive(
            f"entry {entry.filename!r} declares {entry.file_size} bytes and holds {size}"
        )
    return size
