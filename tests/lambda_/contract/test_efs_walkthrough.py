"""The README's EFS walkthrough (a VPC, subnet and groups; a file system, mount target and access
point; two functions sharing a file; a group without 2049 and its error), run as written in bash
with the AWS CLI. Skipped until the README has the section."""

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
HEADING = "### Functions sharing an EFS file system"


def shell_block(text: str, after: str) -> str:
    """The first ```sh block after the heading `after`, exactly as a reader copies it."""
    start = text.index("```sh\n", text.index(after)) + len("```sh\n")
    return text[start : text.index("```", start)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path / "data", "--time-scale", "0.01").start()
    yield process
    process.stop()


def test_two_functions_share_an_efs_file_system_as_the_readme_says(
    server: GureumProcess, tmp_path: Path
) -> None:
    text = README.read_text()
    if HEADING not in text:
        pytest.skip(f"README.md has no {HEADING!r} section yet")
    setup = shell_block(text, "## Use it with the AWS CLI or boto3").split("printf")[0]
    script = "\n".join([setup, shell_block(text, HEADING)])
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
    assert '"hello from writer"' in done.stdout
    assert "EFSMountConnectivityException" in done.stderr
    assert "couldn't connect to the Amazon EFS file system with access point" in done.stderr
    (note,) = (server.data_dir / "efs").glob("fs-*/shared/note.txt")
    assert (note.stat().st_uid, note.stat().st_gid) == (1001, 1001)
