"""The README's "IAM in gureum" walkthrough (a function acting as its role; another account let
in by the function's policy, then refused again), run as written in bash with the AWS CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.readme import run_walkthroughs
from tests.support.server import GureumProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path / "data").start()
    yield process
    process.stop()


def test_the_readme_iam_walkthrough_runs_as_written(server: GureumProcess, tmp_path: Path) -> None:
    done = run_walkthroughs(server, tmp_path, "### IAM in gureum")
    assert done.returncode == 0, done.stderr
    session = '"arn:aws:sts::111111111111:assumed-role/whoami-role/whoami"'
    assert done.stdout.count(session) == 2  # the owner's invoke and the other account's
    assert done.stdout.count("refused") == 2
    refusal = (
        "User: arn:aws:iam::222222222222:root is not authorized to perform: "
        "lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:111111111111:function:"
        "whoami because no resource-based policy allows the lambda:InvokeFunction action"
    )
    assert done.stderr.count(refusal) == 2
    assert '"Principal":{"AWS":"arn:aws:iam::222222222222:root"}' in done.stdout
