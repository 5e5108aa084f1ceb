"""The README's "Done when", with the AWS CLI itself: create, publish twice, route 10% to the
second version through an alias, restart, list everything back, and get AWS's error for a miss."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.packages import zip_of
from tests.support.server import GureumProcess

AWS = Path(sys.executable).parent / "aws"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


class Cli:
    """`aws --endpoint-url <gureum> lambda ...`, isolated from the host's AWS configuration."""

    def __init__(self, server: GureumProcess, home: Path) -> None:
        self.server = server
        empty = home / "empty-aws-config"
        empty.write_text("")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update(
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=str(empty),
            AWS_SHARED_CREDENTIALS_FILE=str(empty),
            HOME=str(home),
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(AWS), "--endpoint-url", self.server.url, "--output", "json", "lambda"]
        return subprocess.run(
            [*command, *args], check=False, capture_output=True, text=True, env=self.env, timeout=60
        )

    def __call__(self, *args: str) -> Any:
        done = self.run(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    """A server of its own, so this module can restart it without disturbing the others."""
    process = GureumProcess(tmp_path_factory.mktemp("gureum-cli") / "data").start()
    yield process
    if process.process is not None:
        process.stop()


@pytest.fixture
def aws(cli_server: GureumProcess, tmp_path: Path) -> Cli:
    return Cli(cli_server, tmp_path)


def test_readme_flow_survives_a_restart(aws: Cli, tmp_path: Path, function_name: str) -> None:
    package = tmp_path / "fn.zip"
    package.write_bytes(zip_of())
    created = aws(
        "create-function",
        "--function-name",
        function_name,
        "--runtime",
        "python3.12",
        "--handler",
        "index.handler",
        "--zip-file",
        f"fileb://{package}",
        "--role",
        ROLE,
    )
    assert created["FunctionArn"] == (
        f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
    )
    assert created["State"] == "Pending"
    aws("wait", "function-active-v2", "--function-name", function_name)

    first = aws("publish-version", "--function-name", function_name)
    assert first["Version"] == "1"
    aws("update-function-configuration", "--function-name", function_name, "--timeout", "10")
    aws("wait", "function-updated-v2", "--function-name", function_name)
    second = aws("publish-version", "--function-name", function_name)
    assert second["Version"] == "2"
    assert second["Timeout"] == 10

    alias = aws(
        "create-alias",
        "--function-name",
        function_name,
        "--name",
        "live",
        "--function-version",
        "1",
        "--routing-config",
        # What the CLI receives for the documented `AdditionalVersionWeights={"2"=0.1}` once a
        # shell has removed the quotes.
        "AdditionalVersionWeights={2=0.1}",
    )
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}

    aws.server.stop()
    aws.server.start()

    functions = aws("list-functions")["Functions"]
    (listed,) = [f for f in functions if f["FunctionName"] == function_name]
    assert listed["Timeout"] == 10
    assert listed["CodeSha256"] == created["CodeSha256"]
    versions = aws("list-versions-by-function", "--function-name", function_name)["Versions"]
    assert [(v["Version"], v["Timeout"]) for v in versions] == [
        ("$LATEST", 10),
        ("1", 3),
        ("2", 10),
    ]
    assert versions[1]["FunctionArn"].endswith(f":function:{function_name}:1")
    aliases = aws("list-aliases", "--function-name", function_name)["Aliases"]
    assert aliases == [
        {
            "AliasArn": f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}:live",
            "Name": "live",
            "FunctionVersion": "1",
            "Description": "",
            "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.1}},
            "RevisionId": alias["RevisionId"],
        }
    ]


def test_missing_function_is_an_aws_error(aws: Cli, function_name: str) -> None:
    done = aws.run("get-function", "--function-name", function_name)
    # AWS CLI v1 exits 255 when the service answers with an error (v2 uses 254).
    assert done.returncode == 255
    assert done.stdout == ""
    assert "An error occurred (ResourceNotFoundException) when calling the GetFunction " in (
        done.stderr
    )
    assert (
        f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        in done.stderr
    )


def test_invalid_alias_name_is_an_aws_error(aws: Cli, function_name: str) -> None:
    done = aws.run(
        "create-alias",
        "--function-name",
        function_name,
        "--name",
        "2024",
        "--function-version",
        "1",
    )
    assert done.returncode == 255
    assert (
        "An error occurred (ValidationException) when calling the CreateAlias operation: "
        "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint"
    ) in done.stderr
