"""The blob files: a starting process's sweep in a cluster, where other processes write blobs
meanwhile, and a body spooled on another file system than the shared directory's."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gureum.aws.http import BodyFile
from gureum.s3.store.blobs import BlobStore

SHM = Path("/dev/shm")


def files(root: Path) -> set[str]:
    return {path.name for path in root.rglob("*") if path.is_file()}


def test_the_sweep_of_a_sole_process_removes_every_unnamed_blob(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    kept = blobs.adopt(blobs.spool_bytes(b"a"))
    blobs.adopt(blobs.spool_bytes(b"b"))
    blobs.spool_bytes(b"scratch")
    assert blobs.sweep({kept}) == 1
    assert files(tmp_path) == {kept}


def test_a_clustered_sweep_leaves_what_changed_lately(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    kept = blobs.adopt(blobs.spool_bytes(b"a"))
    # Another process's: placed after the sweep read the names, and a body being written.
    placed = blobs.adopt(blobs.spool_bytes(b"b"))
    writing = blobs.spool_bytes(b"c")
    an_hour_ago = time.time() - 3600
    assert blobs.sweep({kept}, an_hour_ago) == 0
    assert files(tmp_path) == {kept, placed, writing.path.name}
    # A blob linked from an old one is new: its ctime moved, though its mtime is the old one's.
    os.utime(blobs.path(kept), (an_hour_ago - 60, an_hour_ago - 60))
    linked = blobs.link(kept)
    assert blobs.sweep({kept}, an_hour_ago) == 0
    assert linked in files(tmp_path)
    # What was left long ago (here: before a moment from now) is a crash's leftover.
    assert blobs.sweep({kept}, time.time() + 1) == 2
    assert files(tmp_path) == {kept}


def test_a_body_spooled_on_another_file_system_is_copied_in(tmp_path: Path) -> None:
    if not SHM.is_dir() or SHM.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another file system than the test's directory")
    spooled = SHM / f"gureum-test-{os.getpid()}.part"
    spooled.write_bytes(b"bytes")
    body = BodyFile(spooled, 5, "", b"", 0)
    try:
        blobs = BlobStore(tmp_path)
        name = blobs.adopt(body)
        assert blobs.path(name).read_bytes() == b"bytes"
        assert not spooled.exists()  # taken over, as a rename would have
        assert files(tmp_path) == {name}  # no copy left in the scratch directory
    finally:
        spooled.unlink(missing_ok=True)
