"""Each execution environment's `/tmp`, sized by `EphemeralStorage`.

With isolation, a tmpfs of exactly that size is mounted on the host side and bound into the
environment, so it outlives a reset of the runtime (AWS keeps `/tmp` across a crash or timeout,
spec 6.1) and disappears with the environment. Without isolation it is a plain directory handed
to the function as `TMPDIR`, with no size limit, and gureum says so.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from gureum.lambda_.sandbox.isolation import mount_tmpfs, unmount


class ScratchSpaces:
    """Creates and removes environments' /tmp directories under one root."""

    def __init__(self, root: Path, sized: bool) -> None:
        self._root = root
        self._sized = sized
        root.mkdir(parents=True, exist_ok=True)

    def create(self, environment_id: str, size_mb: int) -> Path:
        path = self._root / environment_id
        path.mkdir(mode=0o1777)
        try:
            path.chmod(0o1777)
            if self._sized:
                mount_tmpfs(path, size_mb)
        except BaseException:
            path.rmdir()
            raise
        return path

    def remove(self, path: Path) -> None:
        if self._sized:
            unmount(path)
        shutil.rmtree(path, ignore_errors=True)

    def sweep(self) -> None:
        """Removes scratch spaces left by a previous run."""
        for path in self._root.iterdir():
            with contextlib.suppress(OSError):
                self.remove(path)
