"""The server's side of a zygote: start it, ask it for environments, hear when they end.

Zygotes are started from the event loop's thread on purpose: a child's PR_SET_PDEATHSIG fires
when the *thread* that forked it exits, and worker threads come and go.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("gureum.zygote")

GUEST_DIR = Path(__file__).parent / "guest"


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a runtime process ended, in AWS's words (`exit status 1`, `signal: killed`).

    `out_of_memory`: the kernel killed it for going over its memory limit (its memory cgroup
    counted an OOM kill), which AWS reports as `Runtime.OutOfMemory`.
    """

    text: str
    code: int | None
    signal: int | None
    out_of_memory: bool = False


ExitCallback = Callable[[ExitStatus], None]


class ZygoteError(Exception):
    pass


class Zygote:
    """One running zygote process and the environments it has forked."""

    def __init__(
        self, executable: str, var_lang: bool = False, own_mounts: Path | None = None
    ) -> None:
        self.executable = executable
        # Environments see the interpreter at /var/lang (sandboxed ones; see zygote.relocate).
        self.var_lang = var_lang
        # Sandboxed: the zygote forks in a mount namespace of its own, without the server's
        # /tmp disks (under this directory; see zygote.own_mount_namespace).
        self.own_mounts = own_mounts
        self._socket: socket.socket | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._spawned: dict[str, asyncio.Future[int]] = {}
        self._on_exit: dict[str, ExitCallback] = {}
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._starting = asyncio.Lock()
        self._joins = itertools.count()

    async def ensure_started(self) -> None:
        async with self._starting:
            if self._socket is None:
                await self.start()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._ready = loop.create_future()
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.executable,
                "-I",
                "-S",
                str(GUEST_DIR / "zygote.py"),
                str(theirs.fileno()),
                *(["--own-mounts", str(self.own_mounts)] if self.own_mounts else []),
                *(["--var-lang"] if self.var_lang else []),
                pass_fds=(theirs.fileno(),),
                env={},
                stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        try:
            await self.adopt(ours, 30)
        except ZygoteError:
            raise ZygoteError(f"the zygote for {self.executable} did not start") from None

    async def adopt(self, ours: socket.socket, timeout: float) -> None:
        """Speaks the zygote protocol on `ours` (a SnapStart template's control socket too:
        sandbox/snapshots.py), once the other end says it is ready."""
        loop = asyncio.get_running_loop()
        if self._ready is None or self._ready.done():
            self._ready = loop.create_future()
        ours.setblocking(False)
        self._socket = ours
        loop.add_reader(ours, self._readable)
        try:
            await asyncio.wait_for(self._ready, timeout=timeout)
        except TimeoutError:
            await self.stop()
            raise ZygoteError("the zygote did not start") from None

    def _readable(self) -> None:
        assert self._socket is not None
        while True:
            try:
                data = self._socket.recv(1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._lost()
                return
            self._dispatch(json.loads(data))

    def _dispatch(self, message: dict[str, Any]) -> None:
        op = message["op"]
        if op == "ready" and self._ready is not None and not self._ready.done():
            self._ready.set_result(message)
        elif op == "spawned":
            future = self._spawned.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_result(int(message["pid"]))
        elif op == "exited":
            callback = self._on_exit.pop(message["id"], None)
            if callback is not None:
                callback(ExitStatus(message["status"], message["code"], message["signal"]))

    def _lost(self) -> None:
        loop = asyncio.get_running_loop()
        if self._socket is not None:
            loop.remove_reader(self._socket)
            self._socket.close()
            self._socket = None
        lost = ExitStatus("signal: killed", None, 9)
        for callback in self._on_exit.values():
            callback(lost)
        self._on_exit.clear()
        for future in self._spawned.values():
            if not future.done():
                future.set_exception(ZygoteError("the zygote exited"))
        self._spawned.clear()

    @property
    def alive(self) -> bool:
        return self._socket is not None

    @property
    def live(self) -> int:
        """How many processes it forked have not ended yet."""
        return len(self._on_exit)

    async def spawn(
        self,
        environment_id: str,
        spec: dict[str, Any],
        fds: dict[str, int],
        on_exit: ExitCallback,
        op: str | None = None,
    ) -> int:
        """Forks an environment; returns its keeper's pid. `fds`, by name: `log` becomes its
        stdout and stderr; `network` (a network namespace) its network; `go` (a pipe's read
        end) makes it a sandbox prepared for no function yet, which waits, confined, until the
        function's spec comes down the pipe; `runtime` is a connected socket its built-in
        runtime speaks the Runtime API on. `op`: "restore" to a SnapStart template."""
        if op is None:
            await self.ensure_started()
        if self._socket is None:
            raise ZygoteError("the zygote is not running")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._spawned[environment_id] = future
        self._on_exit[environment_id] = on_exit
        op = op or ("prepare" if "go" in fds else "spawn")
        names = list(fds)
        message = {"op": op, "id": environment_id, "spec": spec, "fds": names}
        try:
            await self._send(json.dumps(message).encode(), [fds[name] for name in names])
        except BaseException:
            self._spawned.pop(environment_id, None)
            self._on_exit.pop(environment_id, None)
            raise
        return await future

    async def join(self, groups: list[str]) -> bool:
        """A throwaway child of the zygote joins `groups` (their `cgroup.procs`) and exits;
        whether it did. Warms the groups without forking the server."""
        await self.ensure_started()
        if self._socket is None:
            raise ZygoteError("the zygote is not running")
        loop = asyncio.get_running_loop()
        joiner = f"join-{next(self._joins)}"
        spawned: asyncio.Future[int] = loop.create_future()
        ended: asyncio.Future[ExitStatus] = loop.create_future()
        self._spawned[joiner] = spawned

        def exited(status: ExitStatus) -> None:
            if not ended.done():
                ended.set_result(status)

        self._on_exit[joiner] = exited
        try:
            message = {"op": "join", "id": joiner, "cgroups": groups}
            await self._send(json.dumps(message).encode(), [])
            await spawned
            return (await ended).code == 0
        finally:
            self._spawned.pop(joiner, None)
            self._on_exit.pop(joiner, None)

    def rebind(self, environment_id: str, on_exit: ExitCallback) -> bool:
        """From now on the environment's end is told to `on_exit`; False if it has ended."""
        if environment_id not in self._on_exit:
            return False
        self._on_exit[environment_id] = on_exit
        return True

    async def _send(self, message: bytes, fds: list[int]) -> None:
        """Sends on the non-blocking control socket, waiting while a burst fills its buffer."""
        while True:
            if self._socket is None:
                raise ZygoteError("the zygote is not running")
            try:
                if fds:
                    socket.send_fds(self._socket, [message], fds)
                else:
                    self._socket.send(message)
                return
            except BlockingIOError:
                await asyncio.sleep(0.001)

    def kill(self, environment_id: str) -> None:
        if self._socket is not None:
            message = json.dumps({"op": "kill", "id": environment_id}).encode()
            with contextlib.suppress(OSError):
                self._socket.send(message)

    async def stop(self) -> None:
        """Closing the control socket ends the zygote, and with it every environment."""
        if self._socket is not None:
            self._lost()
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()
            self._process = None


class Zygotes:
    """One zygote per interpreter, started on first use or all at once."""

    def __init__(self, var_lang: bool = False, own_mounts: Path | None = None) -> None:
        self._zygotes: dict[str, Zygote] = {}
        self._var_lang = var_lang
        self._own_mounts = own_mounts

    def __call__(self, executable: str) -> Zygote:
        if executable not in self._zygotes:
            self._zygotes[executable] = Zygote(executable, self._var_lang, self._own_mounts)
        return self._zygotes[executable]

    async def start(self, executables: set[str]) -> None:
        await asyncio.gather(*(self(executable).ensure_started() for executable in executables))

    async def stop(self) -> None:
        await asyncio.gather(*(zygote.stop() for zygote in self._zygotes.values()))


def guest_file(name: str) -> str:
    return os.fspath(GUEST_DIR / name)
