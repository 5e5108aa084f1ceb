"""The README's shell walkthroughs, run as a reader pastes them: bash with the AWS CLI of the
test run, against a test server instead of `127.0.0.1:4566`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.server import GureumProcess

README = Path(__file__).resolve().parents[2] / "README.md"


def shell_block(after: str) -> str:
    """The first ```sh block after the heading `after`, exactly as a reader copies it."""
    text = README.read_text()
    start = text.index("```sh\n", text.index(after)) + len("```sh\n")
    return text[start : text.index("```", start)]


def run_walkthroughs(
    server: GureumProcess, workdir: Path, *headings: str
) -> subprocess.CompletedProcess[str]:
    """The README's set-up (credentials, the `awsl` alias, `RUNTIME`) and then the blocks under
    `headings`, in order, in one bash; the 4566 endpoint becomes `server`'s."""
    setup = shell_block("## Use it with the AWS CLI or boto3").split("printf")[0]
    script = "\n".join([setup, *(shell_block(heading) for heading in headings)])
    port = str(urlsplit(server.url).port)
    script = script.replace("http://127.0.0.1:4566", server.url).replace(":4566", f":{port}")
    empty = workdir / "aws-config"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",  # the AWS CLI of the test run
        AWS_CONFIG_FILE=str(empty),
        AWS_SHARED_CREDENTIALS_FILE=str(empty),
    )
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail\nshopt -s expand_aliases\n{script}"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
