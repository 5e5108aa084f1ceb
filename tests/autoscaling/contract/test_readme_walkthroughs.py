"""The README's provisioned concurrency and target tracking walkthroughs, run as written in bash
with the AWS CLI against a `--time-scale 0.01` server, as its text says to start one."""

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


def test_provisioned_concurrency_and_target_tracking_as_the_readme_says(
    server: GureumProcess, tmp_path: Path
) -> None:
    done = run_walkthroughs(
        server,
        tmp_path,
        "### Provisioned concurrency removes cold starts",
        "### Target tracking at 0.7 scales provisioned concurrency with load",
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    report = next(line for line in out.splitlines() if line.startswith("REPORT"))
    assert "Init Duration" not in report  # provisioned: Init ran before the invoke
    assert 'ProvisionedConcurrencySpilloverInvocations_total{FunctionName="steady"' in out
    assert "Setting desired concurrency to 2." in out  # scaled out by the load
    assert "AlarmHigh" in out
    assert '"Datapoints": [' in out
    assert '"Datapoints": []' not in out
