"""User namespaces for id-mapped mounts, made and held by the id-map keeper (`guest/id_maps.py`),
a small process the server starts once: an environment's first process opens the one it needs
by path instead of forking to make it (see the keeper's docstring for the cost).

`path` blocks on the keeper's answer: a fraction of a millisecond for a namespace it makes, a
few microseconds for one it holds (the same environment uid and access point user again).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

KEEPER = Path(__file__).parent / "guest" / "id_maps.py"


Extents = Sequence[tuple[int, int, int]]
_UNCLAIMED = 256  # answers kept for tickets not yet taken; past this the oldest go


class IdMaps:
    """The keeper's client; thread-safe. `start` it ahead (a Python process takes tens of
    milliseconds to start: not on a cold start's path); one that died is started again on use.
    `close` stops it.

    A cold start `ask`s as soon as it knows its maps and takes the `answer` when it writes the
    sandbox's spec: the keeper makes the namespace meanwhile, off the cold start's path. The
    keeper answers in order, so answers read for other askers are kept for them.
    """

    def __init__(self, python: str = sys.executable) -> None:
        self._python = python
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._asked = 0  # tickets handed out by this keeper process
        self._read = 0  # answers read from it
        self._answers: dict[int, str] = {}  # read, not yet taken
        self._generation = 0  # moves with each keeper process: older tickets are void

    def path(self, uid_map: Extents, gid_map: Extents) -> str | None:
        """A path naming a user namespace with these maps ((on disk, shown, count) extents);
        None when the keeper cannot make one (the sandbox then makes it itself)."""
        return self.answer(self.ask(uid_map, gid_map))

    def ask(self, uid_map: Extents, gid_map: Extents) -> tuple[int, int] | None:
        """Sends the request; a ticket for `answer` (None: the keeper cannot be asked)."""

        def line(extents: Extents) -> str:
            return ",".join(f"{inside} {outside} {count}" for inside, outside, count in extents)

        with self._lock:
            try:
                stdin = self._started().stdin
                if stdin is None:
                    return None
                stdin.write(f"{line(uid_map)};{line(gid_map)}\n")
                stdin.flush()
            except (OSError, ValueError):
                self._stop()
                return None
            self._asked += 1
            return self._generation, self._asked

    def answer(self, ticket: tuple[int, int] | None) -> str | None:
        """The path the keeper answered `ticket` with (blocks until it has); None on failure."""
        if ticket is None:
            return None
        generation, number = ticket
        with self._lock:
            process = self._process
            if generation != self._generation or process is None or process.stdout is None:
                return None
            try:
                while self._read < number:
                    answer = process.stdout.readline()
                    if not answer:
                        raise OSError("the id-map keeper went away")
                    self._read += 1
                    self._answers[self._read] = answer.strip()
            except (OSError, ValueError):
                self._stop()
                return None
            found = self._answers.pop(number, "")
            if len(self._answers) > _UNCLAIMED:  # asked by environments that never started
                for stale in sorted(self._answers)[: len(self._answers) - _UNCLAIMED]:
                    del self._answers[stale]
            if not found or found.startswith("-"):
                return None
            return f"/proc/{process.pid}/fd/{found}"

    def start(self) -> None:
        with self._lock:
            self._started()

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._generation += 1
            self._asked = self._read = 0
            self._answers.clear()
            self._process = subprocess.Popen(
                [self._python, "-I", "-S", str(KEEPER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env={},
            )
        return self._process

    def _stop(self) -> None:
        process, self._process = self._process, None
        self._generation += 1  # tickets of that process are void
        self._asked = self._read = 0
        self._answers.clear()
        if process is not None:
            process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()

    def close(self) -> None:
        with self._lock:
            self._stop()
