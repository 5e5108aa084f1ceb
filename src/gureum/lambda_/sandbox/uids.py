"""Host-wide uid leases: no two execution environments on a machine run as the same uid.

The kernel and the Runtime API tell environments apart by uid (RLIMIT_NPROC counts per uid,
signals and /proc access follow it), so a uid must be unique on the host, not merely within one
server: two gureum servers on a machine (parallel CI jobs, two users) would otherwise hand out
the same numbers. A per-process counter cannot see the other servers; the file system can.

One lock file per uid in a root-only directory. A lease is an open descriptor holding a
non-blocking exclusive `flock` on that file; the kernel drops the lock when the descriptor is
closed, so a server that crashes or is killed frees its uids with it, and nothing is ever stale.
A lease given back removes its file first (the directory would otherwise grow to one file per
uid ever used); whoever locked that file meanwhile sees that it is no longer the one at the path,
and lets it go.
Each allocator starts at a random place in the range and moves on from there (next fit): servers
rarely try the same files, and a uid just given back is not handed out again at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
from pathlib import Path
from types import TracebackType

LEASE_DIR = Path("/run/gureum/uids")
FIRST_UID = 20000
UID_COUNT = 40000


class UidLease:
    """One uid, held until `release` (or until this process ends, however it ends)."""

    def __init__(self, uid: int, fd: int, path: str) -> None:
        self.uid = uid
        self._fd: int | None = fd
        self._path = path

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)  # while still locked: see the module docstring
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def __enter__(self) -> UidLease:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()


class UidLeases:
    """Hands out uids in [first, first + count) that no other allocator on the host holds.

    Allocators share nothing but `directory`; two of them (in one process or in two) never hold
    the same uid at once. `acquire` costs an open and a flock per uid tried, on a tmpfs.
    """

    def __init__(
        self,
        directory: Path,
        first: int = FIRST_UID,
        count: int = UID_COUNT,
        start: int | None = None,
    ) -> None:
        self._directory = _private_directory(directory)
        self._first = first
        self._count = count
        self._next = secrets.randbelow(count) if start is None else start % count

    def acquire(self) -> UidLease | None:
        """A uid of this allocator's own; None when every uid of the range is leased."""
        for step in range(self._count):
            offset = (self._next + step) % self._count
            lease = self._try(self._first + offset)
            if lease is not None:
                self._next = (offset + 1) % self._count
                return lease
        return None

    def _try(self, uid: int) -> UidLease | None:
        path = os.path.join(self._directory, str(uid))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Locked, but the file may have been given back (and removed) since it was opened.
            current = os.stat(path, follow_symlinks=False).st_ino
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        if current != os.fstat(fd).st_ino:
            os.close(fd)
            return None
        return UidLease(uid, fd, path)


def _private_directory(directory: Path) -> str:
    """`directory`, created 0700 if missing; refused unless it is ours and nobody else's.

    Anyone who could create files in it could hold uids forever (or plant links in it).
    """
    with contextlib.suppress(FileExistsError):
        os.makedirs(directory, mode=0o700)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise PermissionError(f"{directory} must be a directory owned by uid {os.geteuid()}")
    if info.st_mode & 0o077:
        os.chmod(directory, 0o700)
    return str(directory)
