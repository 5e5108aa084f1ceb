"""Code and layer archives, stored by content hash with atomic writes.

A blob is written to a temporary file, fsync'd, renamed into place and its directory fsync'd
before any database row refers to it, so a crash leaves at worst an unreferenced blob (swept at
start-up), never a row pointing at a missing or torn file. Extraction re-checks every entry so
nothing lands outside the target directory whatever the archive says.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from gureum.lambda_.domain.packages import check_entry_path, check_link_target, is_symlink


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CodeStore:
    """Content-addressed archive files under `root/blobs`, extracted trees under `root/trees`."""

    def __init__(self, root: Path) -> None:
        self._blobs = root / "blobs"
        self._trees = root / "trees"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._trees.mkdir(parents=True, exist_ok=True)

    def path(self, blob: str) -> Path:
        return self._blobs / blob[:2] / f"{blob}.zip"

    def put(self, blob: str, data: bytes) -> None:
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
        self.path(blob).unlink(missing_ok=True)
        shutil.rmtree(self._trees / blob, ignore_errors=True)

    def sweep(self, in_use: Callable[[str], bool]) -> int:
        """Deletes blobs nothing refers to (left by a crash between write and commit)."""
        removed = 0
        for file in self._blobs.glob("*/*"):
            blob = file.name.removesuffix(".zip")
            if file.suffix == ".part" or not in_use(blob):
                file.unlink(missing_ok=True)
                shutil.rmtree(self._trees / blob, ignore_errors=True)
                removed += 1
        return removed

    def merged(self, blobs: list[str]) -> Path:
        """Several archives extracted in order into one tree (layers at /opt: later ones win)."""
        key = hashlib.sha256(":".join(blobs).encode()).hexdigest()
        target = self._trees / f"opt-{key}"
        if target.exists():
            return target
        staging = Path(tempfile.mkdtemp(dir=self._trees, prefix=f".opt-{key[:12]}-"))
        staging.chmod(0o755)  # readable by the sandbox's unprivileged users
        try:
            for blob in blobs:
                with zipfile.ZipFile(self.path(blob)) as archive:
                    for entry in archive.infolist():
                        _extract(archive, entry, staging)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if target.exists():  # a concurrent cold start extracted the same tree first
                return target
            raise
        return target

    def tree(self, blob: str) -> Path:
        """The archive extracted (once) into a read-only directory of its own."""
        target = self._trees / blob
        if target.exists():
            return target
        staging = Path(tempfile.mkdtemp(dir=self._trees, prefix=f".{blob[:12]}-"))
        staging.chmod(0o755)  # readable by the sandbox's unprivileged users
        try:
            with zipfile.ZipFile(self.path(blob)) as archive:
                for entry in archive.infolist():
                    _extract(archive, entry, staging)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if target.exists():  # a concurrent cold start extracted the same tree first
                return target
            raise
        return target


def _extract(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, root: Path) -> None:
    check_entry_path(entry.filename)
    destination = (root / entry.filename).resolve()
    if not destination.is_relative_to(root.resolve()):
        raise ValueError(f"entry {entry.filename!r} escapes the package")
    if entry.is_dir():
        destination.mkdir(parents=True, exist_ok=True)
        destination.chmod(0o755)
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.is_symlink() or destination.exists():
        destination.unlink()
    if is_symlink(entry):
        link = archive.read(entry).decode("utf-8")
        check_link_target(entry.filename, link)
        destination.symlink_to(link)
        return
    with archive.open(entry) as source, open(destination, "wb") as sink:
        shutil.copyfileobj(source, sink)
    mode = (entry.external_attr >> 16) & 0o777
    destination.chmod((mode or 0o644) | 0o444)
