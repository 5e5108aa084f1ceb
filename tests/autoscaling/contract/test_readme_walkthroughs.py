"""The README's provisioned concurrency and target tracking walkthroughs, run as written in bash
with the AWS CLI against a `--time-scale 0.01` server, as its text says to start one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.server import GureumProcess

README = Path(__file__).resolve().parents[3] / "README.md"


def shell_block(after: str) -> str:
    """The first ```sh block after the heading `after`, exactly as a reader copies it."""
    text = README.read_text()
    start = text.index("```sh\n", text.index(after)) + len("```sh\n")
    return text[start : text.index("```", start)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path / "data", "--time-scale", "0.01").start()
    yield process
    process.stop()


def test_provisioned_concurrency_and_target_tracking_as_the_readme_says(
    server: GureumProcess, tmp_path: Path
) -> None:
    setup = shell_block("## Use it with the AWS CLI or boto3").split("printf")[0]
    script = "\n".join(
        [
            setup,
            shell_block("### Provisioned concurrency removes cold starts"),
            shell_block("### Target tracking at 0.7 scales provisioned concurrency with load"),
        ]
    )
    address = urlsplit(server.url).netloc
    script = script.replace("http://127.0.0.1:4566", server.url).replace("localhost:4566", address)
    empty = tmp_path / "aws-config"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",  # the AWS CLI of the test run
        AWS_CONFIG_FILE=str(empty),
        AWS_SHARED_CREDENTIALS_FILE=str(empty),
    )
    done = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\nshopt -s expand_aliases\n{script}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
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
