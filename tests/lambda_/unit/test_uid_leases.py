"""Host-wide uid leases (sandbox/uids.py): real lock files in a temporary directory."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gureum.lambda_.sandbox.uids import UidLeases


def test_two_allocators_over_one_directory_never_hand_out_the_same_uid(tmp_path: Path) -> None:
    # Same start on purpose: both try the same files first, so every pick is contended.
    first = UidLeases(tmp_path, first=100, count=10, start=0)
    second = UidLeases(tmp_path, first=100, count=10, start=0)
    leases = []
    for allocator in [first, second] * 5:
        lease = allocator.acquire()
        assert lease is not None
        leases.append(lease)
    assert sorted(lease.uid for lease in leases) == list(range(100, 110))
    assert first.acquire() is None  # the range is exhausted, for both
    assert second.acquire() is None


def test_a_lease_frees_when_released(tmp_path: Path) -> None:
    first = UidLeases(tmp_path, first=100, count=1)
    second = UidLeases(tmp_path, first=100, count=1)
    lease = first.acquire()
    assert lease is not None
    assert second.acquire() is None
    lease.release()
    again = second.acquire()
    assert again is not None
    assert again.uid == 100


def test_released_leases_leave_no_file_behind(tmp_path: Path) -> None:
    leases = UidLeases(tmp_path, first=100, count=3)
    taken = [leases.acquire() for _ in range(3)]
    assert len(list(tmp_path.iterdir())) == 3
    for lease in taken:
        assert lease is not None
        lease.release()
    assert list(tmp_path.iterdir()) == []


def test_a_lock_on_a_file_given_back_meanwhile_is_not_a_lease(tmp_path: Path) -> None:
    """The race that removing files opens: opened before the holder removed it, locked after."""
    first = UidLeases(tmp_path, first=100, count=1)
    held = first.acquire()
    assert held is not None
    stale = os.open(tmp_path / "100", os.O_RDWR)  # a second allocator, half-way in its _try
    try:
        held.release()
        fcntl.flock(stale, fcntl.LOCK_EX | fcntl.LOCK_NB)  # it gets the lock on the old file
        # ...but that file is gone: a fresh allocator makes a new one and holds the uid alone.
        fresh = UidLeases(tmp_path, first=100, count=1).acquire()
        assert fresh is not None
        assert fresh.uid == 100
        # What the half-way allocator checks before it believes its lock: this fails for it.
        assert os.fstat(stale).st_ino != os.stat(tmp_path / "100").st_ino
    finally:
        os.close(stale)


def test_a_lease_frees_when_its_process_dies(tmp_path: Path) -> None:
    """A crashed (SIGKILLed) server leaves nothing held: the kernel closes its descriptors."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from gureum.lambda_.sandbox.uids import UidLeases;"
            "lease = UidLeases(Path(sys.argv[1]), first=100, count=1).acquire();"
            "print(lease.uid, flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"100"
        assert UidLeases(tmp_path, first=100, count=1).acquire() is None
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    lease = UidLeases(tmp_path, first=100, count=1).acquire()
    assert lease is not None
    assert lease.uid == 100


def test_allocation_moves_on_from_the_last_uid_given(tmp_path: Path) -> None:
    leases = UidLeases(tmp_path, first=100, count=5, start=3)
    taken = [leases.acquire() for _ in range(3)]
    assert [lease.uid for lease in taken if lease is not None] == [103, 104, 100]
    for lease in taken:
        assert lease is not None
        lease.release()
    # Released uids are not taken again at once: the next is the one after the last given.
    again = leases.acquire()
    assert again is not None
    assert again.uid == 101


def test_the_directory_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "uids"
    UidLeases(directory)
    assert (directory.stat().st_mode & 0o777) == 0o700
    directory.chmod(0o777)  # loosened by someone: tightened again before use
    UidLeases(directory)
    assert (directory.stat().st_mode & 0o777) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own a file as someone else")
def test_a_directory_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "uids"
    directory.mkdir(mode=0o700)
    os.chown(directory, 12345, 12345)
    with pytest.raises(PermissionError):
        UidLeases(directory)
