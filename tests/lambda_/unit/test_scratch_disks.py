"""/tmp disks: each a file system of its own, made from one empty image per size (root only:
loop devices and mounts)."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gureum.lambda_.sandbox.scratch_disks import destroy_disk, make_disk, unavailable_reason

pytestmark = pytest.mark.skipif(
    unavailable_reason() is not None, reason=f"no scratch disks here: {unavailable_reason()}"
)


@pytest.fixture
def disks(tmp_path: Path) -> Iterator[list[tuple[Path, Path]]]:
    made: list[tuple[Path, Path]] = []
    yield made
    for image, mountpoint in made:
        destroy_disk(image, mountpoint)


def made(disks: list[tuple[Path, Path]], root: Path, name: str, size_mb: int) -> Path:
    image, mountpoint = root / f"{name}.img", root / name
    make_disk(image, mountpoint, size_mb)
    disks.append((image, mountpoint))
    return mountpoint


def test_disks_start_empty_open_to_all_and_of_their_size(
    tmp_path: Path, disks: list[tuple[Path, Path]]
) -> None:
    for size_mb in (512, 1024):
        tmp = made(disks, tmp_path, f"disk-{size_mb}", size_mb)
        assert os.listdir(tmp) == []  # no lost+found
        mode = os.stat(tmp).st_mode
        assert stat.S_IMODE(mode) == 0o1777
        blocks = os.statvfs(tmp)
        assert blocks.f_bavail * blocks.f_frsize >= size_mb * 1024 * 1024


def test_mke2fs_runs_once_per_size_and_the_disks_are_apart(
    tmp_path: Path, disks: list[tuple[Path, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    formats: list[list[str]] = []
    run = subprocess.run

    def counted(command: list[str], **options: Any) -> Any:
        if command[0] == "mke2fs":
            formats.append(command)
        return run(command, **options)

    monkeypatch.setattr(subprocess, "run", counted)
    first, second = (made(disks, tmp_path, name, 512) for name in ("first", "second"))
    assert len(formats) == 1
    (first / "kept").write_text("one environment's")
    assert os.listdir(second) == []  # a copy of the empty image, not of the first disk
    assert (first / "kept").read_text() == "one environment's"


def test_many_disks_made_at_once_each_get_a_loop_device(
    tmp_path: Path, disks: list[tuple[Path, Path]]
) -> None:
    """Threads that ask for a free loop device at once are all told the same one, and all but
    one lose each round: a thousand environments started together ran out of tries."""
    count = 32
    start = threading.Barrier(count)
    failures: list[BaseException] = []

    def make(n: int) -> None:
        image, mountpoint = tmp_path / f"d{n}.img", tmp_path / f"d{n}"
        start.wait()
        try:
            make_disk(image, mountpoint, 512)
            disks.append((image, mountpoint))
        except BaseException as exc:  # counted, then asserted on
            failures.append(exc)

    threads = [threading.Thread(target=make, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(disks) == count
