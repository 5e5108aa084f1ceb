"""Memory cgroups for execution environments (v1 and v2).

Each runtime process runs in its own group under `gureum/s<server pid>/`, limited to the
function's `MemorySize` (swap included, so exceeding it means the OOM killer, not swapping),
from which the REPORT line's `Max Memory Used` is read. The environment's keeper moves the
runtime into it before any function code runs, so everything it starts is counted and contained.

Why groups are pooled: the first process to join a new group pays the kernel's set-up of that
group (about 12-25 ms on cgroup v1, measured here); joining a group that has had a member before
costs 0.3 ms. So groups are recycled when their process ends, and new ones are "warmed" ahead
of need by a throwaway process that joins and exits, off the invocation path: a child of a
zygote (`joiner`), never a fork of the server, which would stall its event loop for
milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger("gureum.cgroups")

V1_MEMORY = Path("/sys/fs/cgroup/memory")
V2_ROOT = Path("/sys/fs/cgroup")
MEGABYTE = 1024 * 1024
WARM_TARGET = 4
REUSE_BELOW = 1024 * 1024


class MemoryGroup:
    """One memory cgroup, reused by successive runtime processes."""

    def __init__(self, path: Path, v2: bool) -> None:
        self.path = path
        self.v2 = v2
        # The peak is read after every invocation (REPORT's Max Memory Used): from a descriptor
        # kept open, with one pread, rather than an open, read and close each time.
        self._peak_fd: int | None = None

    @property
    def procs(self) -> str:
        return str(self.path / "cgroup.procs")

    def peak_bytes(self) -> int:
        try:
            if self._peak_fd is None:
                name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
                self._peak_fd = os.open(self.path / name, os.O_RDONLY | os.O_CLOEXEC)
            return int(os.pread(self._peak_fd, 32, 0))
        except (OSError, ValueError):
            return 0

    def usage_bytes(self) -> int:
        name = "memory.current" if self.v2 else "memory.usage_in_bytes"
        try:
            return int((self.path / name).read_text())
        except (OSError, ValueError):
            return 0

    def oom_kills(self) -> int:
        """How many processes the kernel has killed in this group for going over its limit."""
        name = "memory.events" if self.v2 else "memory.oom_control"
        try:
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def empty(self) -> bool:
        try:
            return not (self.path / "cgroup.procs").read_text().strip()
        except OSError:
            return False

    def limit(self, memory_mb: int) -> None:
        """Sets the limit (memory and memory+swap alike) and restarts the peak measurement."""
        value = str(memory_mb * MEGABYTE)
        if self.v2:
            (self.path / "memory.max").write_text(value)
            with contextlib.suppress(OSError):
                (self.path / "memory.swap.max").write_text("0")
            return
        memory = self.path / "memory.limit_in_bytes"
        swap = self.path / "memory.memsw.limit_in_bytes"
        # memory+swap may never be below memory: order the two writes by direction.
        current = int(memory.read_text())
        order = [memory, swap] if memory_mb * MEGABYTE < current else [swap, memory]
        for file in order:
            if file.exists():
                file.write_text(value)
        with contextlib.suppress(OSError):
            (self.path / "memory.max_usage_in_bytes").write_text("0")

    def remove(self) -> None:
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None
        with contextlib.suppress(OSError):
            self.path.rmdir()


class MemoryGroups:
    """Hands out warm memory groups under one parent; `detect` returns None when unavailable."""

    def __init__(self, parent: Path, v2: bool) -> None:
        self._parent = parent
        self._v2 = v2
        self._free: list[MemoryGroup] = []
        self._names = itertools.count()
        self._warming: asyncio.Task[None] | None = None
        self._prefix = "g"
        # Forks a throwaway process into groups (a zygote's `join`), set by the assembly.
        self.joiner: Callable[[list[str]], Awaitable[bool]] | None = None

    @classmethod
    def detect(cls, name: str = "gureum") -> MemoryGroups | None:
        """Groups under `<name>/s<pid>/`: one subtree per server, so servers sharing a machine
        (tests run several) never touch each other's groups."""
        server = f"s{os.getpid()}"
        try:
            if (V2_ROOT / "cgroup.controllers").exists() and not V1_MEMORY.exists():
                top = V2_ROOT / name
                top.mkdir(exist_ok=True)
                (V2_ROOT / "cgroup.subtree_control").write_text("+memory")
                (top / "cgroup.subtree_control").write_text("+memory")
                (top / server).mkdir(exist_ok=True)
                (top / server / "cgroup.subtree_control").write_text("+memory")
                return cls(top / server, v2=True)
            if V1_MEMORY.is_dir():
                (V1_MEMORY / name / server).mkdir(parents=True, exist_ok=True)
                return cls(V1_MEMORY / name / server, v2=False)
        except OSError:
            return None
        return None

    def _new(self) -> MemoryGroup:
        path = self._parent / f"{self._prefix}{next(self._names)}"
        self._parent.mkdir(exist_ok=True)  # in case an older gureum swept it away
        path.mkdir()
        if not self._v2:
            # The runtime joins its group just after it is forked, before any function code
            # runs (zygote.py); what the platform's own start-up charged moves with it.
            with contextlib.suppress(OSError):
                (path / "memory.move_charge_at_immigrate").write_text("3")
        return MemoryGroup(path, self._v2)

    def acquire(self, memory_mb: int) -> MemoryGroup:
        """A group limited to `memory_mb`: a warm one when there is one."""
        group = self._reuse(memory_mb)
        if group is None:
            group = self._new()
            group.limit(memory_mb)
        self._top_up()
        return group

    async def acquire_off_loop(self, memory_mb: int) -> MemoryGroup:
        """As `acquire`, for a process that joins off the cold-start path (the sandbox stock's):
        no warming, and a new group is made on a worker thread, since making one can wait out
        an RCU grace period (10-25 ms on cgroup v1) that must not stall the event loop."""
        group = self._reuse(memory_mb)
        if group is None:
            group = await asyncio.to_thread(self._new)
            await asyncio.to_thread(group.limit, memory_mb)
        return group

    def _reuse(self, memory_mb: int) -> MemoryGroup | None:
        while self._free:
            group = self._free.pop()
            try:
                group.limit(memory_mb)
            except FileNotFoundError:  # removed behind our back: take another
                continue
            return group
        return None

    def release(self, group: MemoryGroup) -> None:
        """Takes back the group of an ended process for the next one.

        Only a group with nothing left charged to it is reused: pages a runtime left behind
        (its /tmp on tmpfs, for one) must not count against the next function's memory.
        """
        if group.empty() and group.usage_bytes() < REUSE_BELOW:
            self._free.append(group)
        else:
            group.remove()

    def _top_up(self) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to warm with
            if self._warming is None or self._warming.done():
                self._warming = asyncio.get_running_loop().create_task(self.warm())

    async def warm(self, target: int = WARM_TARGET) -> None:
        """Creates groups until `target` are free, each joined once by a throwaway process
        (without a `joiner`, none is warmed: they are made and joined on first use)."""
        while self.joiner is not None and len(self._free) < target:
            group = await asyncio.to_thread(self._new)  # see acquire_off_loop
            if not await self.joiner([group.procs]):
                log.warning("could not warm memory group %s; it is used cold", group.path)
            self._free.append(group)

    def sweep(self) -> None:
        """Removes this server's groups, and those of servers that are no longer running."""
        if self._warming is not None:
            self._warming.cancel()
        self._free.clear()
        _remove_tree(self._parent, keep_top=True)
        for server in self._parent.parent.glob("s*"):
            pid = server.name[1:]
            if server != self._parent and pid.isdigit() and not Path(f"/proc/{pid}").exists():
                _remove_tree(server, keep_top=False)

    def close(self) -> None:
        self.sweep()
        with contextlib.suppress(OSError):
            self._parent.rmdir()


def _remove_tree(path: Path, keep_top: bool) -> None:
    for child in path.iterdir() if path.is_dir() else ():
        if child.is_dir():
            with contextlib.suppress(OSError):
                child.rmdir()
    if not keep_top:
        with contextlib.suppress(OSError):
            path.rmdir()
