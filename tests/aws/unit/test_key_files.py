"""Key files (aws.key_files): made once, whole, and the same for everyone who asks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gureum.aws.key_files import KeyFileError, key_file


def test_a_key_is_made_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "not-yet" / "sts.key"
    first = key_file(path)
    assert len(first) == 32
    assert key_file(path) == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["sts.key"]  # nothing left aside


def made_at_once(path: Path, makers: int = 8) -> tuple[list[bytes], list[BaseException]]:
    keys: list[bytes] = []
    errors: list[BaseException] = []
    start = threading.Barrier(makers)

    def make() -> None:
        start.wait()
        try:
            keys.append(key_file(path))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=make) for _ in range(makers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return keys, errors


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    """Many makers at once (as a cluster's processes on a fresh shared directory): every one
    gets the same key, and none ever reads a file half written."""
    for attempt in range(20):
        keys, errors = made_at_once(tmp_path / f"race{attempt}" / "cluster.key")
        assert not errors
        assert len(set(keys)) == 1


def test_a_file_that_is_not_a_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "links.key"
    path.write_bytes(b"short")
    with pytest.raises(KeyFileError, match="not a key of 32 bytes"):
        key_file(path)
