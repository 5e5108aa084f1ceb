"""The AWS CLI of the test run, pointed at a test server and isolated from the host's AWS
configuration (no config file, no credentials file, no AWS_* variables of the host)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.support.server import GureumProcess

AWS = Path(sys.executable).parent / "aws"


def run_aws(
    server: GureumProcess,
    home: Path,
    *args: str,
    region: str = "us-east-1",
    key: str = "test",
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`aws --endpoint-url <server> --output json <args>`, signed with `key` / `test`."""
    empty = home / "empty-aws-config"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=key,
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION=region,
        AWS_CONFIG_FILE=str(empty),
        AWS_SHARED_CREDENTIALS_FILE=str(empty),
        HOME=str(home),
    )
    env.update(extra_env or {})
    command = [str(AWS), "--endpoint-url", server.url, "--output", "json", *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=60)
