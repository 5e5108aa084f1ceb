"""SnapStart restores from the server's side: a child of a template, made ready ahead.

A restore (guest/zygote.py, `become_restored`) is a fork of a version's template that makes
itself a sandbox of its own. Two steps of it wait for the server:

    prepare:  the child unshares its namespaces, mounts its /tmp, forks its runtime into its
              pid namespace, which says so ("u", its pid read by the kernel, SO_PASSCRED); the
              server checks it descends from the template and moves it into the environment's
              memory group, then answers "g". The runtime waits.
    start:    the server maps the environment's uid into the restore's user namespace and
              sends that uid; the runtime becomes it, drops every capability, and asks
              `restore/next`.

The runtime (the child's own child, first in its pid namespace) is the one that speaks and
waits: all of the restore but its uid happens while it is prepared. The move into a memory
group is the slow part: the first one after a quiet spell waits out a
kernel RCU grace period (10-25 ms here; see stock.py). So a template keeps one child prepared
(`Restores`), and an invocation that restores only starts one: what is left on its path is the
uid map, a few system calls in the child, a fork, and the after-restore hooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gureum.lambda_.domain.errors import SnapStartFailure, SnapStartTimeout
from gureum.lambda_.sandbox.cgroups import MemoryGroup, MemoryGroups
from gureum.lambda_.sandbox.scratch import ScratchSpace, ScratchSpaces
from gureum.lambda_.sandbox.scratch_disks import detached_copy
from gureum.lambda_.sandbox.zygotes import ExitStatus, Zygote

log = logging.getLogger("gureum.restores")

# A SnapStart restore (the runtime's resumption and its after-restore hooks) has AWS's 10 s.
RESTORE_LIMIT = 10.0
SNAP_START_FAILED = (
    "The afterRestore() runtime hook encountered an error. For more information, check the "
    "Amazon CloudWatch logs."
)
SNAP_START_TIMED_OUT = "Lambda couldn't restore the snapshot within the timeout limit."
# Kept prepared per template; a burst restores the rest on the spot.
PREPARED = 1
REFILL_DELAY = 0.02  # after a take: not while the restore that took one is starting


@dataclass(eq=False)
class PreparedRestore:
    """A child of a template in its memory group, waiting to be started."""

    id: str
    pid: int
    channel: socket.socket
    log_fd: int  # the read end of its log pipe
    scratch: ScratchSpace
    group: MemoryGroup | None
    copied: bool = False  # its /tmp holds a copy of the template's (owned by the template's uid)
    # The runtime's parent (the keeper of its pid namespace when sandboxed, else the runtime
    # itself): what RuntimeProcess.keeper is, so the runtime is its first child as elsewhere.
    keeper: int = 0
    ended: ExitStatus | None = None
    on_exit: Callable[[ExitStatus], None] | None = None

    def exit(self, status: ExitStatus) -> None:
        self.ended = status
        if self.on_exit is not None:
            self.on_exit(status)


@dataclass(frozen=True, slots=True)
class RestorePlan:
    """What every restore of one template is made with."""

    control: Zygote
    template_pid: int
    memory_mb: int
    ephemeral_mb: int
    tmp: Path | None  # the template's /tmp, copied into each restore (as on AWS)
    owner: int  # the template's uid (what Init wrote is its)


class Resources(Protocol):
    """What restores are made of (environment.Platform has it all)."""

    @property
    def scratch(self) -> ScratchSpaces: ...

    @property
    def memory(self) -> MemoryGroups | None: ...

    @property
    def isolate(self) -> bool: ...


class Restores:
    """The prepared children of one template. Event loop only."""

    def __init__(self, plan: RestorePlan, platform: Resources) -> None:
        self.plan = plan
        self._platform = platform
        self._ready: list[PreparedRestore] = []
        self._refilling: asyncio.Task[None] | None = None
        self._closed = False

    async def take(self) -> PreparedRestore:
        """A prepared child, or one prepared now; a refill follows in the background."""
        while self._ready:
            prepared = self._ready.pop()
            if prepared.ended is None:
                self.refill_soon()
                return prepared
            await self.discard(prepared)
        prepared = await self.prepare()
        self.refill_soon()
        return prepared

    @property
    def ready(self) -> int:
        return len(self._ready)

    def refill_soon(self) -> None:
        """Prepares restores up to PREPARED in the background (once at a time)."""
        if self._closed or (self._refilling is not None and not self._refilling.done()):
            return
        self._refilling = asyncio.get_running_loop().create_task(self._refill())

    async def _refill(self) -> None:
        await asyncio.sleep(REFILL_DELAY)
        while not self._closed and len(self._ready) < PREPARED:
            try:
                prepared = await self.prepare()
            except Exception:
                log.warning("a restore could not be prepared ahead", exc_info=True)
                return
            if self._closed:
                await self.discard(prepared)
                return
            self._ready.append(prepared)

    async def prepare(self) -> PreparedRestore:
        """Forks a child of the template and takes it to its memory group (see the module
        docstring); raises SnapStart's errors when the child does not get there."""
        plan, platform = self.plan, self._platform
        scratch: ScratchSpace = await platform.scratch.take(plan.ephemeral_mb)
        group: MemoryGroup | None = None
        read_fd = write_fd = -1
        ours: socket.socket | None = None
        copied = plan.tmp is not None and _has_entries(plan.tmp)
        try:
            if plan.tmp is not None and copied:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, _copy_tmp, plan.tmp, scratch.path)
            if platform.memory is not None:
                group = platform.memory.acquire(plan.memory_mb)
            read_fd, write_fd = os.pipe()
            os.set_blocking(read_fd, False)
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            tmp = detached_copy(scratch.path) if platform.isolate else None
            fds = {"runtime": theirs.fileno(), "log": write_fd}
            if tmp is not None:
                fds["tmp"] = tmp
            prepared = PreparedRestore(uuid.uuid4().hex, 0, ours, read_fd, scratch, group, copied)
            try:
                await plan.control.spawn(prepared.id, {}, fds, prepared.exit, op="restore")
            finally:
                theirs.close()
                if tmp is not None:
                    os.close(tmp)
                os.close(write_fd)
                write_fd = -1
            try:
                generations = 2 if platform.isolate else 1  # the runtime, or its keeper
                prepared.pid = await _admit(ours, plan.template_pid, generations, group, prepared)
                prepared.keeper = _parent_of(prepared.pid) if generations == 2 else prepared.pid
            except BaseException:
                plan.control.kill(prepared.id)
                raise
            return prepared
        except BaseException:
            if ours is not None:
                ours.close()
            for fd in (read_fd, write_fd):
                if fd >= 0:
                    os.close(fd)
            if group is not None and platform.memory is not None:
                platform.memory.release(group)
            await platform.scratch.remove(scratch)
            raise

    async def discard(self, prepared: PreparedRestore) -> None:
        """Ends a prepared child that will not be used, and frees what it held."""
        self.plan.control.kill(prepared.id)
        prepared.channel.close()
        with contextlib.suppress(OSError):
            os.close(prepared.log_fd)
        if prepared.group is not None and self._platform.memory is not None:
            self._platform.memory.release(prepared.group)
        await self._platform.scratch.remove(prepared.scratch)

    async def close(self) -> None:
        self._closed = True
        if self._refilling is not None:
            self._refilling.cancel()
            with contextlib.suppress(BaseException):
                await self._refilling
        ready, self._ready = self._ready, []
        for prepared in ready:
            await self.discard(prepared)


def start(prepared: PreparedRestore, uid: int, owner: int, isolate: bool) -> None:
    """The go: the environment's uid mapped into the child's user namespace, then sent."""
    if prepared.copied:
        chown_tmp(prepared.scratch.path, owner, uid)
    if isolate:
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{prepared.pid}/{name}", "w") as ids:
                ids.write(f"{uid} {uid} 1\n")
    prepared.channel.setblocking(True)
    prepared.channel.sendall(b"%d\n" % uid)


async def _admit(
    channel: socket.socket,
    template_pid: int,
    generations: int,
    group: MemoryGroup | None,
    prepared: PreparedRestore,
) -> int:
    """Reads the child's first word and its pid (the kernel's, from SO_PASSCRED); once it is
    known to descend from the template (`generations` down: the restore's runtime is the
    grandchild, under a keeper, when sandboxed), moves it into `group` and answers "g"."""
    loop = asyncio.get_running_loop()
    channel.setblocking(False)
    said: asyncio.Future[tuple[bytes, int]] = loop.create_future()

    def readable() -> None:
        try:
            data, ancillary, _, _ = channel.recvmsg(1, socket.CMSG_SPACE(12))
        except BlockingIOError:
            return
        except OSError as exc:
            loop.remove_reader(channel)
            if not said.done():
                said.set_exception(exc)
            return
        loop.remove_reader(channel)
        pid = 0
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("3i", value[:12])[0]
        if not said.done():
            said.set_result((data, pid))

    loop.add_reader(channel, readable)
    try:
        async with asyncio.timeout(RESTORE_LIMIT):
            while not said.done():
                if prepared.ended is not None:
                    raise SnapStartFailure(SNAP_START_FAILED, Type="User")
                await asyncio.wait({said}, timeout=0.05)
    except TimeoutError:
        raise SnapStartTimeout(SNAP_START_TIMED_OUT, Type="User") from None
    finally:
        loop.remove_reader(channel)
    data, pid = said.result()
    ancestor = pid
    for _ in range(generations):
        ancestor = _parent_of(ancestor)
    if data != b"u" or pid <= 0 or ancestor != template_pid:
        raise SnapStartFailure(SNAP_START_FAILED, Type="User")
    if group is not None:
        # In its group before any code of its own runs again (see the module docstring).
        await loop.run_in_executor(None, _join, group.procs, pid)
    channel.send(b"g")
    return pid


def _join(procs: str, pid: int) -> None:
    with open(procs, "w") as members:
        members.write(str(pid))


def _parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return -1


def _has_entries(tmp: Path) -> bool:
    try:
        with os.scandir(tmp) as entries:
            return any(entry.name != "lost+found" for entry in entries)
    except OSError:
        return False


def _copy_tmp(source: Path, target: Path) -> None:
    """Copies what Init left in the template's /tmp into a restore's. What the template's uid
    owned stays owned by it until the restore starts (`chown_tmp`), when its uid is known."""
    for directory, names, files in os.walk(source):
        relative = Path(directory).relative_to(source)
        if relative == Path("."):
            names[:] = [name for name in names if name != "lost+found"]
        for name in names:
            origin, made = Path(directory) / name, target / relative / name
            made.mkdir(exist_ok=True)
            shutil.copystat(origin, made)
            _keep_owner(origin, made)
        for name in files:
            origin, copied = Path(directory) / name, target / relative / name
            if origin.is_symlink():
                os.symlink(os.readlink(origin), copied)
            elif origin.is_file():
                shutil.copy2(origin, copied)
            else:
                continue  # sockets, pipes, devices: nothing to copy
            _keep_owner(origin, copied)


def _keep_owner(origin: Path, copied: Path) -> None:
    found = origin.lstat()
    os.lchown(copied, found.st_uid, found.st_gid)


def chown_tmp(tmp: Path, owner: int, uid: int) -> None:
    """What the template's uid owns in a restore's /tmp becomes the restore's own uid's."""
    for directory, names, files in os.walk(tmp):
        if Path(directory) == tmp:
            names[:] = [name for name in names if name != "lost+found"]
        for name in [*names, *files]:
            path = Path(directory) / name
            found = path.lstat()
            if owner in (found.st_uid, found.st_gid):
                user = uid if found.st_uid == owner else found.st_uid
                group = uid if found.st_gid == owner else found.st_gid
                os.lchown(path, user, group)


__all__ = [
    "RESTORE_LIMIT",
    "SNAP_START_FAILED",
    "SNAP_START_TIMED_OUT",
    "PreparedRestore",
    "RestorePlan",
    "Restores",
    "chown_tmp",
    "start",
]
