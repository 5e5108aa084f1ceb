"""The id-map keeper: a small process of its own that makes user namespaces for id-mapped
mounts and holds them open, so that a sandbox opens one by path (/proc/<pid>/fd/<n>) instead of
forking to make it. Imports nothing of gureum.

Why a process of its own: a user namespace needs a process to be made in (a process cannot map
ids beyond its own into a namespace it entered, so another writes its maps), and forking costs
in proportion to the forking process: 3 to 5 ms from a sandbox's first process (a runtime's
worth of page tables), a fraction of a millisecond from this one, which imports nothing. The
server is threaded and must not fork at all.

Each namespace is made in a child forked ahead (`Spare`, a few kept, refilled while no request
waits), so a request costs writing two maps.
Protocol, one line each way on stdin/stdout: "<uid_map>;<gid_map>" ("inside outside count"
entries separated by ","), answered by the descriptor number holding that namespace (made once,
kept for the keeper's life), or "-<errno>". EOF on stdin ends the keeper.
"""

from __future__ import annotations

import ctypes
import os
import resource
import select
import signal
from collections.abc import Iterator

CLONE_NEWUSER = 0x10000000
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


class Spare:
    """A child forked ahead, already in a user namespace of its own without maps yet: a request
    only writes its maps and opens it, and the next spare is forked after the answer is out."""

    def __init__(self) -> None:
        ready_read, ready_write = os.pipe()
        self._done_read, self._done = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(ready_read)
            os.close(self._done)
            made = _libc.unshare(CLONE_NEWUSER) == 0
            os.write(ready_write, b"1" if made else b"")
            os.read(self._done_read, 1)
            os._exit(0)
        os.close(ready_write)
        os.close(self._done_read)
        self.made = os.read(ready_read, 1) == b"1"
        os.close(ready_read)

    def namespace(self, uid_map: str, gid_map: str) -> int:
        """The namespace with these maps, held open; the child is let go."""
        try:
            if not self.made:
                raise OSError(1, "unshare(CLONE_NEWUSER)")
            with open(f"/proc/{self.pid}/uid_map", "w") as uids:
                uids.write(uid_map.replace(",", "\n") + "\n")
            with open(f"/proc/{self.pid}/gid_map", "w") as gids:
                gids.write(gid_map.replace(",", "\n") + "\n")
            return os.open(f"/proc/{self.pid}/ns/user", os.O_RDONLY)
        finally:
            os.close(self._done)  # the child exits; ignored SIGCHLD reaps it


# Spares kept forked ahead, and how long stdin must stay quiet before another is forked: a
# fork (about a millisecond of CPU) right after an answer would compete with the cold start
# that asked, on a machine of two cores; a burst of that many cold starts finds them ready.
SPARES = 4
IDLE = 0.02


def requests(spares: list[Spare]) -> Iterator[str]:
    """The request lines on stdin; while none is waiting and spares are missing, forks them."""
    pending = b""
    while True:
        while b"\n" not in pending:
            # None left: fork one now, as the answer is out (the next request must not wait
            # for it); some left: refill only once no request came for a while.
            wait = 0.0 if not spares else IDLE if len(spares) < SPARES else None
            quiet = select.select([0], [], [], wait)[0] == []
            if quiet:
                spares.append(Spare())
                continue
            chunk = os.read(0, 65536)
            if not chunk:
                return
            pending += chunk
        line, _, pending = pending.partition(b"\n")
        yield line.decode().strip()


def main() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    # Namespaces are held for the keeper's life and never closed: a descriptor number, once
    # answered, must never name another namespace (a sandbox may open it any time later). So
    # as many as the hard limit allows; past it, requests fail and sandboxes make their own.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held: dict[str, int] = {}
    spares = [Spare()]
    for request in requests(spares):
        try:
            if request not in held:
                uid_map, gid_map = request.split(";")
                spare = spares.pop() if spares else Spare()
                held[request] = spare.namespace(uid_map, gid_map)
            answer = str(held[request])
        except (OSError, ValueError) as exc:
            answer = f"-{getattr(exc, 'errno', None) or 1}"
        os.write(1, (answer + "\n").encode())


if __name__ == "__main__":
    main()
