"""The README's S3 walkthrough, run as written: 50 uploads through `aws s3 cp --recursive`
invoke a function with reserved concurrency 2 deployed from S3; all are processed, and the
throttled attempts show in the metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.readme import run_walkthroughs
from tests.support.server import GureumProcess


@pytest.fixture
def scaled(tmp_path: Path) -> Iterator[GureumProcess]:
    # As the README says to start it: throttle backoff scaled down.
    process = GureumProcess(tmp_path / "data", "--time-scale", "0.01").start()
    yield process
    process.stop()


def test_fifty_uploads_invoke_a_throttled_function_as_the_readme_says(
    scaled: GureumProcess, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    done = run_walkthroughs(
        scaled, work, "### Uploads to a bucket invoke a function, throttled and retried"
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "processed: 50" in out
    counts = {
        name: float(value)
        for name, value in re.findall(r"^aws_lambda_(\w+)_total\{[^}]*\} (\S+)$", out, re.M)
    }
    assert counts["AsyncEventsReceived"] == 50
    assert counts["Invocations"] == 50
    assert counts["Throttles"] > 0  # two environments for 50 events: some waited their turn
    assert out.strip().endswith("50")  # the listing: every upload is in the bucket
