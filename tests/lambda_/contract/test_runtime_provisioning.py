"""Node.js runtimes fetched for real from the npm registry (issue 21, item 14): each runs on a
node of its own major version, on a host with no node and no Python but Debian 12's 3.11.

`gureum runtimes add` fetches one explicitly; CreateFunction fetches the others while the function
is Pending. Each test downloads pinned Node.js builds (about 30 MB each), hence `slow`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import ROLE
from tests.support.functions import invoke
from tests.support.hosts import fresh_host, gureum
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/usr/bin/python3.11").exists(), reason="needs the system's python3.11"
    ),
]

VERSION = "exports.handler = async () => process.version;\n"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A data directory, and the environment of a host with only /usr/bin/python3.11."""
    tmp = tmp_path_factory.mktemp("provisioning")
    return tmp / "data", fresh_host(tmp)


@pytest.fixture(scope="module")
def server(fresh: tuple[Path, dict[str, str]]) -> Iterator[GureumProcess]:
    data, env = fresh
    added = gureum("runtimes", "add", "nodejs22.x", "--data-dir", str(data), env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.endswith(
        f"Added nodejs22.x: Node.js 22.23.5, {data}/runtimes/nodejs22.x/bin/node\n"
    )
    process = GureumProcess(data, env=env).start()
    yield process
    process.stop()


def create(
    client: Any, name: str, runtime: str, returns: str = "process.version"
) -> dict[str, Any]:
    source = f"exports.handler = async () => {returns};\n"
    created: dict[str, Any] = client.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.js": source})},
    )
    client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 600}
    )
    return created


def test_an_added_runtime_runs_on_its_own_major(server: GureumProcess, function_name: str) -> None:
    assert "nodejs22.x" in server.health()["runtimes"]
    client = server.client()
    create(client, function_name, "nodejs22.x", "process.execPath")
    exec_path = invoke(client, function_name, {}).json()
    if server.health()["isolation"]["mode"] == "namespaces":
        assert exec_path == "/var/lang/bin/node"  # where AWS's Node.js runtimes keep node
    client.update_function_code(FunctionName=function_name, ZipFile=zip_of({"index.js": VERSION}))
    client.get_waiter("function_updated_v2").wait(FunctionName=function_name)
    assert invoke(client, function_name, {}).json() == "v22.23.5"


@pytest.mark.parametrize(
    ("runtime", "version"),
    [("nodejs18.x", "v18.20.8"), ("nodejs20.x", "v20.20.2"), ("nodejs24.x", "v24.22.3")],
)
def test_first_use_fetches_the_runtime_while_the_function_is_pending(
    server: GureumProcess, function_name: str, runtime: str, version: str
) -> None:
    assert runtime in server.health()["fetchable_runtimes"]
    client = server.client()
    assert create(client, function_name, runtime)["State"] == "Pending"
    assert invoke(client, function_name, {}).json() == version
    assert runtime in server.health()["runtimes"]


def test_the_listing_shows_what_was_fetched(fresh: tuple[Path, dict[str, str]]) -> None:
    data, env = fresh
    listed = gureum("runtimes", "--data-dir", str(data), env=env)
    assert f"  nodejs22.x       {data}/runtimes/nodejs22.x/bin/node" in listed.stdout.splitlines()


# The README's walkthrough as proposed for issue 21 item 14 (the lead pastes it into README.md):
# the Python function runs on this machine's own python3, whatever its minor version, and the
# Node.js one on a Node.js 22 fetched on first use.
README = Path(__file__).resolve().parents[3] / "README.md"


def readme_walkthrough() -> str:
    """The README's first shell block (its AWS CLI walkthrough), exactly as a reader copies it."""
    text = README.read_text()
    start = text.index("```sh\nexport AWS_ACCESS_KEY_ID") + len("```sh\n")
    return text[start : text.index("```", start)]


def test_the_readme_walkthrough_on_a_host_whose_only_python_is_3_11(
    server: GureumProcess, tmp_path: Path
) -> None:
    """The walkthrough, as written, in bash with the AWS CLI; `python3` is Debian 12's 3.11."""
    script = readme_walkthrough().replace("http://127.0.0.1:4566", server.url)
    empty = tmp_path / "aws-config"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=f"/usr/bin:/bin:{Path(sys.executable).parent}",  # python3 is 3.11; then the AWS CLI
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
    assert "hello {'a': 1}" in done.stdout  # the Tail log, decoded
    assert '"Runtime": "python3.11"' in done.stdout
    assert '"Runtime": "nodejs22.x"' in done.stdout
    assert done.stdout.rstrip().endswith('"v22.23.5"')
