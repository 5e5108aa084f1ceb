"""Memory cgroups for execution environments (v1 and v2).

Each environment gets its own group under `gureum/`, limited to the function's `MemorySize`
(swap included, so exceeding it means the OOM killer, not swapping), from which the REPORT
line's `Max Memory Used` is read. The environment's first process joins it itself (by writing to
`cgroup.procs` before it forks anything), so everything it starts is counted and contained.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

V1_MEMORY = Path("/sys/fs/cgroup/memory")
V2_ROOT = Path("/sys/fs/cgroup")
MEGABYTE = 1024 * 1024


class MemoryGroup:
    """One environment's memory cgroup."""

    def __init__(self, path: Path, v2: bool) -> None:
        self.path = path
        self.v2 = v2

    @property
    def procs(self) -> str:
        return str(self.path / "cgroup.procs")

    def peak_bytes(self) -> int:
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        try:
            return int((self.path / name).read_text())
        except (OSError, ValueError):
            return 0

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()


class MemoryGroups:
    """Creates environment groups under one parent; `None` from `detect` means unavailable."""

    def __init__(self, parent: Path, v2: bool) -> None:
        self._parent = parent
        self._v2 = v2

    @classmethod
    def detect(cls, name: str = "gureum") -> MemoryGroups | None:
        try:
            if (V2_ROOT / "cgroup.controllers").exists() and not V1_MEMORY.exists():
                parent = V2_ROOT / name
                parent.mkdir(exist_ok=True)
                (V2_ROOT / "cgroup.subtree_control").write_text("+memory")
                (parent / "cgroup.subtree_control").write_text("+memory")
                return cls(parent, v2=True)
            if V1_MEMORY.is_dir():
                parent = V1_MEMORY / name
                parent.mkdir(exist_ok=True)
                return cls(parent, v2=False)
        except OSError:
            return None
        return None

    def create(self, environment_id: str, memory_mb: int) -> MemoryGroup:
        path = self._parent / environment_id
        path.mkdir()
        limit = str(memory_mb * MEGABYTE)
        if self._v2:
            (path / "memory.max").write_text(limit)
            (path / "memory.swap.max").write_text("0")
        else:
            (path / "memory.limit_in_bytes").write_text(limit)
            swap = path / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(limit)
        return MemoryGroup(path, self._v2)

    def sweep(self) -> None:
        """Removes groups left by a previous run (their processes died with it)."""
        for child in self._parent.iterdir() if self._parent.is_dir() else ():
            if child.is_dir():
                with contextlib.suppress(OSError):
                    os.rmdir(child)
