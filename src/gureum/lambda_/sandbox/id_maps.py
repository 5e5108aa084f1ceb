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


class IdMaps:
    """The keeper's client; thread-safe. `start` it ahead (a Python process takes tens of
    milliseconds to start: not on a cold start's path); one that died is started again on use.
    `close` stops it."""

    def __init__(self, python: str = sys.executable) -> None:
        self._python = python
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def path(
        self, uid_map: Sequence[tuple[int, int, int]], gid_map: Sequence[tuple[int, int, int]]
    ) -> str | None:
        """A path naming a user namespace with these maps ((on disk, shown, count) extents);
        None when the keeper cannot make one (the sandbox then makes it itself)."""

        def line(extents: Sequence[tuple[int, int, int]]) -> str:
            return ",".join(f"{inside} {outside} {count}" for inside, outside, count in extents)

        request = f"{line(uid_map)};{line(gid_map)}\n"
        with self._lock:
            try:
                process = self._started()
                stdin, stdout = process.stdin, process.stdout
                if stdin is None or stdout is None:
                    return None
                stdin.write(request)
                stdin.flush()
                answer = stdout.readline().strip()
            except (OSError, ValueError):
                self._stop()
                return None
            if not answer or answer.startswith("-"):
                return None
            return f"/proc/{process.pid}/fd/{answer}"

    def start(self) -> None:
        with self._lock:
            self._started()

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
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
        if process is not None:
            process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()

    def close(self) -> None:
        with self._lock:
            self._stop()
