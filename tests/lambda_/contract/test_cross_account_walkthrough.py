"""The README's cross-account EFS walkthrough (two accounts' credentials: B's file system, A's
VPC peered with B's and routed both ways, A's function writing and B's reading the same file, then
each piece taken away and the error it gives), run as written in bash with the AWS CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.readme import run_walkthroughs
from tests.support.server import GureumProcess

HEADING = "### Cross-account EFS: the function in one account, the file system in another"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path / "data", "--time-scale", "0.01").start()
    yield process
    process.stop()


def test_the_cross_account_scenario_as_the_readme_says(
    server: GureumProcess, tmp_path: Path
) -> None:
    done = run_walkthroughs(server, tmp_path, HEADING)
    assert done.returncode == 0, done.stderr
    assert '"hello from account A"' in done.stdout
    # The pieces taken away, in the README's order: the policy, the route back, 2049, the peering.
    errors = [
        line.split("(")[1].split(")")[0]
        for line in done.stderr.splitlines()
        if line.startswith("An error occurred (")
    ]
    assert errors == [
        "EFSMountFailureException",
        "EFSMountConnectivityException",
        "EFSMountConnectivityException",
        "EFSMountConnectivityException",
    ], done.stderr
    assert '"blackhole"' in done.stdout
    (note,) = (server.data_dir / "efs").glob("fs-*/shared/cross.txt")
    assert (note.stat().st_uid, note.stat().st_gid) == (1001, 1001)
