"""The README's EFS walkthrough (a VPC, subnet and groups; a file system, mount target and access
point; two functions sharing a file; a group without 2049 and its error), run as written in bash
with the AWS CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.readme import run_walkthroughs
from tests.support.server import GureumProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path / "data", "--time-scale", "0.01").start()
    yield process
    process.stop()


def test_two_functions_share_an_efs_file_system_as_the_readme_says(
    server: GureumProcess, tmp_path: Path
) -> None:
    done = run_walkthroughs(server, tmp_path, "### Functions sharing an EFS file system")
    assert done.returncode == 0, done.stderr
    assert '"hello from writer"' in done.stdout
    assert "EFSMountConnectivityException" in done.stderr
    assert "couldn't connect to the Amazon EFS file system with access point" in done.stderr
    (note,) = (server.data_dir / "efs").glob("fs-*/shared/note.txt")
    assert (note.stat().st_uid, note.stat().st_gid) == (1001, 1001)
