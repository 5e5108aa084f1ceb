"""Starting and stopping the servers under test, leaving nothing behind.

Every server starts in a session of its own, so one signal reaches its whole process group.
Some descendants leave the group (gureum's sandbox keepers call `setsid`), so before stopping,
the supervisor walks `/proc` for every descendant and ends the stragglers by pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType


def parents() -> dict[int, int]:
    """pid -> parent pid for every process visible now."""
    table: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: split after the last ')'
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry)] = int(fields[1])
    return table


def family(pid: int) -> dict[int, int]:
    """Every descendant of `pid`, with its depth (1 for a child, 2 for a grandchild, ...)."""
    children: dict[int, list[int]] = {}
    for child, parent in parents().items():
        children.setdefault(parent, []).append(child)
    found: dict[int, int] = {}
    stack = [(pid, 0)]
    while stack:
        parent, depth = stack.pop()
        for child in children.get(parent, []):
            found[child] = depth + 1
            stack.append((child, depth + 1))
    return found


def descendants(pid: int) -> list[int]:
    return list(family(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Server:
    """One started server process (and everything it starts)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        self.pid = self.process.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_http(self, url: str, timeout: float, accept: Sequence[int] = (200,)) -> None:
        """Wait until `url` answers with one of `accept`; raise with the log if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status in accept:
                        return
            except urllib.error.HTTPError as error:
                if error.code in accept:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer {url} in {timeout:g} s:\n{self.log_tail()}")

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the group, wait for a clean exit, then SIGKILL whatever is left."""
        family = descendants(self.pid)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # children left in the group
        deadline = time.monotonic() + 5
        while (left := [pid for pid in family if _alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class Supervisor:
    """Owns every server the run starts; stops them all on exit, Ctrl-C and SIGTERM included."""

    def __init__(self) -> None:
        self._servers: list[Server] = []

    def start(self, server: Server) -> Server:
        self._servers.append(server)
        return server

    def stop(self, server: Server) -> None:
        if server in self._servers:
            self._servers.remove(server)
        server.stop()

    @contextlib.contextmanager
    def running(self, server: Server) -> Iterator[Server]:
        self.start(server)
        try:
            yield server
        finally:
            self.stop(server)

    def __enter__(self) -> Supervisor:
        def interrupt(number: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt(f"signal {number}")

        for number in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, interrupt)
        # a shell starts background jobs with SIGINT ignored; Ctrl-C must still stop the run
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # a second Ctrl-C while stopping must not leave servers behind
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            while self._servers:
                self._servers.pop().stop()
        finally:
            signal.signal(signal.SIGINT, previous)
