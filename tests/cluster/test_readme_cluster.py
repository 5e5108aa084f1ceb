"""The README's cluster walkthrough ("Running a cluster"), run as written.

The engines' block (apt-get) is the machine's business; the test run brings its own PostgreSQL
and Redis, and a temporary directory instead of /var/lib/gureum. Everything else is the README's
text: the four processes, the wait for both agents, and the calls through both front doors.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.postgres import PostgresCluster
from tests.support.readme import shell_block
from tests.support.redis import RedisServer
from tests.support.server import free_port


def test_the_cluster_walkthrough_runs_as_written(
    tmp_path: Path, postgres: PostgresCluster, own_redis: RedisServer
) -> None:
    own_redis.start()
    start_block = shell_block("four processes on this one machine")
    calls_block = shell_block("A function made through one front door runs through the other")
    setup = shell_block("## Use it with the AWS CLI or boto3").split("printf")[0]
    script = "\n".join([setup, start_block, calls_block])
    replacements = {
        "postgresql://gureum:gureum@127.0.0.1/gureum": postgres.database(),
        "redis://127.0.0.1:6379/0": own_redis.url,
        "/var/lib/gureum": str(tmp_path / "gureum"),
        ".venv/bin/gureum": f"{sys.executable} -m gureum",
    }
    for old, new in replacements.items():
        assert old in script, old
        script = script.replace(old, new)
    for port in ("4601", "4602", "4571", "4572", "4566", "4567"):  # each as often as written
        assert re.search(rf"\b{port}\b", script), port
        script = re.sub(rf"\b{port}\b", str(free_port()), script)
    empty = tmp_path / "aws-config"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GUREUM_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",
        AWS_CONFIG_FILE=str(empty),
        AWS_SHARED_CREDENTIALS_FILE=str(empty),
    )
    wrapped = (
        "set -euo pipefail\nshopt -s expand_aliases\n"
        "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n"
        f"{script}"
    )
    # A session of its own: whatever happens (a timeout kills only bash, whose EXIT trap then
    # never runs), the four servers the walkthrough starts are killed with it.
    shell = subprocess.Popen(
        ["bash", "-c", wrapped],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = shell.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
        shell.wait()
    done = subprocess.CompletedProcess(shell.args, shell.returncode, stdout, stderr)
    logs = "\n".join(
        f"--- {log.name}\n{log.read_text()[-2000:]}" for log in sorted(tmp_path.glob("*.log"))
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{logs}"
    assert "TooManyRequestsException" in done.stderr
    assert '"agents"' in done.stdout
    assert (tmp_path / "out.json").read_text().strip().startswith('"')
