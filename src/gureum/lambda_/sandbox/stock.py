"""A stock of ready sandboxes, so that a cold start does not wait for one to be built.

A sandbox in stock has been forked by its runtime's zygote, given a network namespace and a
/tmp disk, moved into new mount, pid, ipc and uts namespaces with its root built, and its first
process has joined a memory cgroup: everything that does not depend on the function but its
runtime and its /tmp's size. It waits there, running no code of anyone's, until a cold start
takes it and sends the function's part (the code, layers and language to mount, the uid, the
environment, what to run). What is left on the cold-start path is a few mounts, pivot_root and
the runtime's own start.

/tmp is attached ahead too: its disk, mounted in the server's mount namespace, is handed to the
sandbox as a detached copy of that mount when it is prepared (the zygote's namespace, which the
sandbox's copies, holds no disk: see guest/zygote.py). Sandboxes are kept per (zygote, /tmp
size) for that reason.

The slowest of what moves off the path is the cgroup join: the first one after a quiet spell
waits out an RCU grace period, 10-25 ms on the CI machine, which a user who invokes now and then
met on every cold start.

How many: per kind (zygote and /tmp size), as many as were asked for in the last `window`
seconds (the recent cold-start rate), at least one once the kind is in use (a version of it
became Active, or a cold start asked for one) and at most `per_kind`;
`total` bounds them all, so the stock's memory stays bounded (each waits as two small forked
processes, a network namespace and a memory group). Taking one wakes the refill, which prepares
the next off the request path. A sandbox that cannot be prepared is logged, and the refill
backs off so a machine that refuses namespaces is not hammered.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gureum.lambda_.sandbox.cgroups import MemoryGroup, MemoryGroups
from gureum.lambda_.sandbox.network import NetworkNamespace, Networks
from gureum.lambda_.sandbox.scratch import DEFAULT_SIZE_MB, ScratchSpace, ScratchSpaces
from gureum.lambda_.sandbox.scratch_disks import detached_copy
from gureum.lambda_.sandbox.zygotes import ExitCallback, ExitStatus, Zygote, ZygoteError

log = logging.getLogger("gureum.stock")

WINDOW = 10.0
PER_KIND = 8
TOTAL = 32
# The limit a waiting sandbox's group has until a function sets its own (the smallest AWS
# allows, above what a waiting runtime process takes).
WAITING_MB = 128
BACKOFF = (0.5, 30.0)
REFILL_DELAY = 0.02

Kind = tuple[str, int]  # a zygote's executable, a /tmp size in MB


@dataclass(eq=False, slots=True)
class ReadySandbox:
    """One prepared sandbox: the zygote's id for it, its keeper's pid and what it holds."""

    id: str
    zygote: Zygote
    kind: Kind
    keeper: int
    log_fd: int  # the read end of its stdout and stderr
    go_fd: int  # the write end of the pipe its first process waits on for the function's spec
    group: MemoryGroup | None
    network: NetworkNamespace | None
    scratch: ScratchSpace | None
    # gureum's end of the built-in runtime's connection to the Runtime API (its other end is in
    # the sandbox); a runtime started as a program does not use it and connects over TCP.
    channel: socket.socket | None = None
    ended: ExitStatus | None = None
    _on_end: Callable[[ReadySandbox], None] = field(default=lambda sandbox: None, repr=False)

    def exit(self, status: ExitStatus) -> None:
        """The zygote's word that it ended while still in stock."""
        self.ended = status
        self._on_end(self)

    def start(self, spec: dict[str, object], on_exit: ExitCallback) -> None:
        """Gives the sandbox its function: straight to its first process, with no hop through
        the zygote. A spec is a few kilobytes (AWS caps a function's variables at 4 KB), well
        within a pipe's buffer, so the write never blocks."""
        try:
            if not self.zygote.rebind(self.id, on_exit):
                raise ZygoteError("the ready sandbox has ended")
            os.write(self.go_fd, json.dumps(spec).encode())
        except OSError as exc:
            raise ZygoteError(f"the ready sandbox has ended: {exc}") from exc
        finally:
            self.close_go()

    def close_go(self) -> None:
        if self.go_fd >= 0:
            os.close(self.go_fd)
            self.go_fd = -1


class SandboxStock:
    """Ready sandboxes per kind (zygote executable, /tmp size in MB). Event loop only."""

    def __init__(
        self,
        zygote_for: Callable[[str], Zygote],
        sandbox_root: Path,
        scratch: ScratchSpaces,
        memory: MemoryGroups | None,
        networks: Networks | None,
        window: float = WINDOW,
        per_kind: int = PER_KIND,
        total: int = TOTAL,
    ) -> None:
        self._zygote_for = zygote_for
        self._root = sandbox_root
        self._scratch = scratch
        self._memory = memory
        self._networks = networks
        self._window = window
        self._per_kind = per_kind
        self._total = total
        self._ready: dict[Kind, deque[ReadySandbox]] = {}
        self._taken: dict[Kind, deque[float]] = {}  # when sandboxes were asked for, per kind
        self._preparing: dict[Kind, int] = {}
        self._names = itertools.count()
        self._prefix = f"s{os.getpid()}-"
        self._wake = asyncio.Event()
        self._failures = 0
        self._closed = False
        self._removing: set[asyncio.Task[None]] = set()

    # --- what cold starts see ----------------------------------------------------------------

    def use(self, executable: str, tmp_mb: int = DEFAULT_SIZE_MB) -> None:
        """Keeps at least one sandbox of this kind ready from now on."""
        kind = (executable, tmp_mb)
        self._ready.setdefault(kind, deque())
        self._taken.setdefault(kind, deque())
        self._wake.set()

    def take(self, executable: str, tmp_mb: int) -> ReadySandbox | None:
        """A ready sandbox of this kind, or None (the caller builds one on its path)."""
        kind = (executable, tmp_mb)
        self._ready.setdefault(kind, deque())
        self._taken.setdefault(kind, deque()).append(time.monotonic())
        # The refill starts a little later: preparing takes CPU (forks, mounts) that the cold
        # start which just took a sandbox needs more on a small machine.
        asyncio.get_running_loop().call_later(REFILL_DELAY, self._wake.set)
        ready = self._ready[kind]
        while ready:
            sandbox = ready.popleft()
            if sandbox.ended is None:
                sandbox._on_end = lambda sandbox: None
                return sandbox
        return None

    @property
    def count(self) -> int:
        return sum(len(ready) for ready in self._ready.values())

    def wanted(self, kind: Kind, now: float) -> int:
        """How many sandboxes of this kind to keep: its recent cold-start demand."""
        taken = self._taken.get(kind)
        if taken is None:
            return 0
        while taken and now - taken[0] > self._window:
            taken.popleft()
        return max(1, min(len(taken), self._per_kind))

    # --- refilling ---------------------------------------------------------------------------

    async def refill(self) -> None:
        """Prepares sandboxes while the stock is short, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._fill()
            except Exception:
                log.exception("the sandbox stock could not be refilled; trying again later")
                self._failures += 1
            if self._failures:
                await asyncio.sleep(min(BACKOFF[0] * 2 ** (self._failures - 1), BACKOFF[1]))
                self._wake.set()

    async def _fill(self) -> None:
        while not self._closed:
            kind = self._short()
            if kind is None:
                return
            self._preparing[kind] = self._preparing.get(kind, 0) + 1
            try:
                sandbox = await self._prepare(kind)
            finally:
                self._preparing[kind] -= 1
            if self._closed:
                self._discard(sandbox)
                return
            self._ready[kind].append(sandbox)
            self._failures = 0

    def _short(self) -> Kind | None:
        """The kind furthest below what it wants, if any is and the total allows."""
        now = time.monotonic()
        if self.count + sum(self._preparing.values()) >= self._total:
            return None
        best, gap = None, 0
        for kind, ready in self._ready.items():
            missing = self.wanted(kind, now) - len(ready) - self._preparing.get(kind, 0)
            if missing > gap:
                best, gap = kind, missing
        return best

    async def _prepare(self, kind: Kind) -> ReadySandbox:
        executable, tmp_mb = kind
        zygote = self._zygote_for(executable)
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        go_read, go_write = os.pipe()
        sandbox_id = f"{self._prefix}{next(self._names)}"
        sandbox = ReadySandbox(sandbox_id, zygote, kind, 0, read_fd, go_write, None, None, None)
        sandbox._on_end = self._ended
        try:
            if self._networks is not None:
                sandbox.network = await self._networks.open()
            if self._memory is not None:
                sandbox.group = await self._memory.acquire_off_loop(WAITING_MB)
            sandbox.scratch = await self._scratch.take(tmp_mb)
            spec = {
                "isolate": True,
                "root": str(self._root),
                "cgroups": [sandbox.group.procs] if sandbox.group is not None else [],
                "hostname": "localhost",
            }
            sandbox.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            tmp = detached_copy(sandbox.scratch.path)
            fds = {"log": write_fd, "go": go_read, "runtime": theirs.fileno(), "tmp": tmp}
            if sandbox.network is not None:
                fds["network"] = sandbox.network.fd
            try:
                sandbox.keeper = await zygote.spawn(sandbox.id, spec, fds, sandbox.exit)
            finally:
                theirs.close()
                os.close(tmp)
        except BaseException:
            self._release(sandbox)
            raise
        finally:
            os.close(write_fd)
            os.close(go_read)
        return sandbox

    def _ended(self, sandbox: ReadySandbox) -> None:
        """A sandbox ended in stock: it failed to set up, or was killed. Never handed out."""
        for ready in self._ready.values():
            with contextlib.suppress(ValueError):
                ready.remove(sandbox)
        reason = b""
        with contextlib.suppress(OSError):
            reason = os.read(sandbox.log_fd, 4096)
        if not self._closed:
            status = sandbox.ended.text if sandbox.ended else "?"
            log.warning(
                "a ready sandbox of %s ended before use (%s): %s",
                sandbox.kind[0],
                status,
                reason.decode("utf-8", "replace").strip() or "no output",
            )
            self._failures += 1
            self._wake.set()
        self._release(sandbox)

    def _release(self, sandbox: ReadySandbox) -> None:
        sandbox.close_go()
        if sandbox.channel is not None:
            sandbox.channel.close()
            sandbox.channel = None
        if sandbox.log_fd >= 0:
            os.close(sandbox.log_fd)
            sandbox.log_fd = -1
        if sandbox.network is not None:
            sandbox.network.close()
            sandbox.network = None
        if sandbox.group is not None and self._memory is not None:
            self._memory.release(sandbox.group)
            sandbox.group = None
        if sandbox.scratch is not None:
            task = asyncio.get_running_loop().create_task(self._scratch.remove(sandbox.scratch))
            self._removing.add(task)
            task.add_done_callback(self._removing.discard)
            sandbox.scratch = None

    def _discard(self, sandbox: ReadySandbox) -> None:
        """Stops a sandbox in stock that will not be used; its end releases what it holds."""
        if sandbox.ended is None:
            sandbox.zygote.kill(sandbox.id)

    def discard(self, sandbox: ReadySandbox) -> None:
        """Stops a sandbox taken and then not used, and releases what it still holds."""
        sandbox.zygote.kill(sandbox.id)
        self._release(sandbox)

    async def close(self) -> None:
        """Stops every sandbox in stock (their zygotes may be stopping too)."""
        self._closed = True
        for ready in self._ready.values():
            for sandbox in list(ready):
                self._discard(sandbox)
        await asyncio.gather(*self._removing, return_exceptions=True)
