"""One run of an environment's runtime, from spawn to exit: its log pipe, its memory group,
its Runtime API session, and how its end is told (an exit, an out-of-memory kill, a timeout).

The environment (`environment.py`) starts a new one after a crash or a timeout; this one is
gone for good once it has exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import replace

from gureum.lambda_.sandbox.cgroups import MemoryGroup
from gureum.lambda_.sandbox.runtime_api import Outcome, RuntimeSession, RuntimeState
from gureum.lambda_.sandbox.zygotes import ExitStatus


def exit_error(status: ExitStatus) -> str:
    """AWS's error type for a runtime that exited: an out-of-memory kill has its own, on every
    runtime (the platform sees it, not the runtime), with the same `signal: killed` message."""
    return "Runtime.OutOfMemory" if status.out_of_memory else "Runtime.ExitError"


INIT_TIMED_OUT = ExitStatus("init timed out", None, None)
Ending = Outcome | ExitStatus | None  # None: the invocation timed out


class RuntimeProcess:
    """One run of an environment's runtime, from spawn to exit, with its own log pipe."""

    def __init__(
        self,
        process_id: str,
        on_line: Callable[[str], None],
        release: Callable[[MemoryGroup], None] = lambda group: None,
        log_fd: int | None = None,
        restoring: bool = False,
    ) -> None:
        """`log_fd`: the read end of a log pipe made beforehand (a ready sandbox's); without
        one, a new pipe whose `write_fd` the spawn hands over and then closes. `restoring`: a
        SnapStart restore, whose runtime starts past Init (see runtime_api)."""
        loop = asyncio.get_running_loop()
        self.id = process_id
        self.session = RuntimeSession()
        if restoring:
            self.session.state = RuntimeState.RESTORING
        self.ready: asyncio.Future[Outcome | None] = loop.create_future()
        self.exited: asyncio.Future[ExitStatus] = loop.create_future()
        self.group: MemoryGroup | None = None
        self.oom_kills_before = 0  # the group's count when this process got it
        self.peak = 0
        self.keeper: int | None = None  # the pid of its keeper (`watch`)
        self._status_fd: int | None = None
        self._on_line = on_line
        self._release = release
        self._partial = b""
        self.write_fd: int | None = None
        if log_fd is None:
            log_fd, self.write_fd = os.pipe()
            os.set_blocking(log_fd, False)
        read_fd = log_fd
        self._log_fd: int | None = read_fd
        loop.add_reader(read_fd, self.read_logs)
        self.session.on_ready = lambda: self._settle_ready(None)
        self.session.on_init_error = self._settle_ready

    @property
    def alive(self) -> bool:
        return not self.exited.done()

    def _settle_ready(self, outcome: Outcome | None) -> None:
        if not self.ready.done():
            self.ready.set_result(outcome)

    def exit(self, status: ExitStatus) -> None:
        if not self.exited.done():
            self.exited.set_result(self._classify(status))
        if self.session.peers is not None:
            self.session.peers.ended()
        self.read_logs()
        self.flush()
        if self._log_fd is not None:
            asyncio.get_running_loop().remove_reader(self._log_fd)
            os.close(self._log_fd)
            self._log_fd = None
        if self.group is not None:
            self.peak = max(self.peak, self.group.peak_bytes())
            self._release(self.group)
            self.group = None
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None

    def peak_bytes(self) -> int:
        """REPORT's Max Memory Used: the larger of the memory group's peak and the runtime
        process's own peak resident size.

        The group alone says too little: a runtime forked from a zygote shares the pages the
        zygote had (the interpreter, the runtime's modules) and they stay charged to the zygote,
        so a Python function would report 3 MB where AWS reports 35. The process's peak resident
        size counts them, as a process started afresh (AWS's) has them of its own; the group's
        peak still counts what the runtime's children take.
        """
        group = self.group.peak_bytes() if self.group else 0
        return max(self.peak, group, self._resident_peak())

    def runtime_pid(self) -> int | None:
        """The runtime's first process as the host sees it: the keeper's child when sandboxed,
        else the keeper, which became the runtime; None once it has ended."""
        keeper = self.keeper
        if keeper is None or self.exited.done():
            return None
        path = f"/proc/{keeper}/task/{keeper}/children"
        with contextlib.suppress(OSError, ValueError, IndexError), open(path) as children:
            return int(children.read().split()[0])
        return keeper

    def _resident_peak(self) -> int:
        """VmHWM of the runtime's first process (the keeper's child, or the keeper itself when it
        became the runtime), read from a descriptor kept open."""
        if self.keeper is None or self.exited.done():
            return 0
        try:
            if self._status_fd is None:
                pid = self.runtime_pid()
                assert pid is not None  # the keeper is known and alive (above)
                self._status_fd = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
            status = os.pread(self._status_fd, 4096, 0)
        except OSError:
            return 0
        start = status.find(b"VmHWM:")
        if start < 0:
            return 0
        fields = status[start + 6 : status.find(b"\n", start)].split()
        return int(fields[0]) * 1024 if fields and fields[0].isdigit() else 0

    def _classify(self, status: ExitStatus) -> ExitStatus:
        """Marks a SIGKILL that the memory cgroup's OOM killer dealt (not gureum's own)."""
        group = self.group
        if status.signal != signal.SIGKILL or group is None:
            return status
        if group.oom_kills() > self.oom_kills_before:
            return replace(status, out_of_memory=True)
        return status

    def read_logs(self) -> None:
        """Reads whatever the pipe holds now (the runtime flushed it before responding)."""
        while self._log_fd is not None:
            try:
                chunk = os.read(self._log_fd, 65536)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                return
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            for line in lines:
                self._on_line(line.decode("utf-8", "replace") + "\n")

    def flush(self) -> None:
        if self._partial:
            self._on_line(self._partial.decode("utf-8", "replace") + "\n")
            self._partial = b""
