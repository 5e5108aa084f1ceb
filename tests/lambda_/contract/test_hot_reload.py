"""Hot reload against a real server: code that is a directory (S3Bucket `hot-reload`, S3Key the
directory), for Python, Node.js, a custom runtime and a layer; a saved file runs on the next
invocation, CodeSha256 follows the content, and what must be refused is (relative or missing
paths, gureum's own data directory, links out, publishing versions, writing into it)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.functions import create, error_of, invoke
from tests.support.server import GureumProcess

BUCKET = "hot-reload"


@pytest.fixture(autouse=True)
def sandboxed(server: GureumProcess) -> None:
    if server.health()["isolation"]["mode"] != "namespaces":
        pytest.skip("hot reload needs gureum's sandboxes (isolation namespaces)")


def code(directory: Path) -> dict[str, str]:
    return {"S3Bucket": BUCKET, "S3Key": str(directory)}


def until(read: Callable[[], Any], wanted: Any, timeout: float = 15) -> Any:
    """Reads until `read()` answers `wanted` (the watcher sees a save within milliseconds;
    the bound only stops a broken watcher from hanging the test)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value == wanted or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def save(path: Path, text: str) -> None:
    path.write_text(text)


def test_a_saved_python_file_runs_on_the_next_invoke(
    lambda_client: Any, function_name: str, tmp_path: Path
) -> None:
    source = tmp_path / "app"
    source.mkdir()
    save(source / "index.py", "def handler(event, context):\n    return 'v1'\n")
    created = create(lambda_client, function_name, Code=code(source))
    assert invoke(lambda_client, function_name).json() == "v1"
    save(source / "index.py", "def handler(event, context):\n    return 'v2'\n")
    assert until(lambda: invoke(lambda_client, function_name).json(), "v2") == "v2"
    now = lambda_client.get_function_configuration(FunctionName=function_name)
    assert now["CodeSha256"] != created["CodeSha256"]
    assert now["RevisionId"] != created["RevisionId"]
    # Nothing was written into the directory (no bytecode cache, nothing copied back), and
    # deleting the function leaves it as it is.
    assert sorted(p.name for p in source.iterdir()) == ["index.py"]
    lambda_client.delete_function(FunctionName=function_name)
    assert sorted(p.name for p in source.iterdir()) == ["index.py"]


def test_node_and_a_custom_runtime_reload_too(
    lambda_client: Any, function_name: str, tmp_path: Path
) -> None:
    node = tmp_path / "node"
    node.mkdir()
    save(node / "index.js", "exports.handler = async () => 'n1';\n")
    create(lambda_client, f"{function_name}-node", Runtime="nodejs20.x", Code=code(node))
    assert invoke(lambda_client, f"{function_name}-node").json() == "n1"
    save(node / "index.js", "exports.handler = async () => 'n2';\n")
    assert until(lambda: invoke(lambda_client, f"{function_name}-node").json(), "n2") == "n2"

    custom = tmp_path / "custom"
    custom.mkdir()
    loop = """#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
headers=$(mktemp)
while true; do
  curl -sS -D "$headers" -o /dev/null "$api/invocation/next"
  id=$(grep -i 'Lambda-Runtime-Aws-Request-Id' "$headers" | tr -d '\\r' | cut -d' ' -f2)
  curl -sS -X POST "$api/invocation/$id/response" -d "\\"$(cat "$LAMBDA_TASK_ROOT/answer")\\"" \\
    > /dev/null
done
"""
    save(custom / "bootstrap", loop)
    (custom / "bootstrap").chmod(0o755)
    save(custom / "answer", "c1")
    create(
        lambda_client,
        f"{function_name}-custom",
        Runtime="provided.al2023",
        Handler="none",
        Code=code(custom),
    )
    assert invoke(lambda_client, f"{function_name}-custom").json() == "c1"
    save(custom / "answer", "c2")
    assert until(lambda: invoke(lambda_client, f"{function_name}-custom").json(), "c2") == "c2"


def test_a_hot_reload_layer(lambda_client: Any, function_name: str, tmp_path: Path) -> None:
    layer_dir = tmp_path / "layer"
    (layer_dir / "python").mkdir(parents=True)
    save(layer_dir / "python" / "helper.py", "VALUE = 'l1'\n")
    layer = lambda_client.publish_layer_version(LayerName=function_name, Content=code(layer_dir))
    app = tmp_path / "app"
    app.mkdir()
    handler = "import helper\n\ndef handler(event, context):\n    return helper.VALUE\n"
    save(app / "index.py", handler)
    create(lambda_client, function_name, Code=code(app), Layers=[layer["LayerVersionArn"]])
    assert invoke(lambda_client, function_name).json() == "l1"
    save(layer_dir / "python" / "helper.py", "VALUE = 'l2'\n")
    assert until(lambda: invoke(lambda_client, function_name).json(), "l2") == "l2"


def test_the_function_cannot_write_into_its_directory(
    lambda_client: Any, function_name: str, tmp_path: Path
) -> None:
    source = tmp_path / "app"
    source.mkdir()
    save(
        source / "index.py",
        "def handler(event, context):\n"
        "    try:\n"
        "        open('/var/task/written', 'w').write('x')\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "    return 'wrote'\n",
    )
    create(lambda_client, function_name, Code=code(source))
    assert invoke(lambda_client, function_name).json() == "OSError"
    assert not (source / "written").exists()


def test_refusals(
    lambda_client: Any, server: GureumProcess, function_name: str, tmp_path: Path
) -> None:
    def refused(key: str) -> str:
        status, kind, message = error_of(
            lambda_client.create_function,
            FunctionName=function_name,
            Runtime="python3.12",
            Role="arn:aws:iam::000000000000:role/lambda-role",
            Handler="index.handler",
            Code={"S3Bucket": BUCKET, "S3Key": key},
        )
        assert (status, kind) == (400, "InvalidParameterValueException")
        return message

    assert "absolute" in refused("relative/dir")
    assert "'..'" in refused(f"{tmp_path}/../x")
    assert "does not exist" in refused(str(tmp_path / "missing"))
    assert "data directory" in refused(str(server.data_dir))
    outside = tmp_path / "links"
    outside.mkdir()
    os.symlink("/etc", outside / "etc")
    assert "leads outside" in refused(str(outside))

    source = tmp_path / "app"
    source.mkdir()
    save(source / "index.py", "def handler(event, context):\n    return 1\n")
    create(lambda_client, function_name, Code=code(source))
    status, kind, message = error_of(lambda_client.publish_version, FunctionName=function_name)
    assert (status, kind) == (400, "InvalidParameterValueException")
    assert "cannot publish versions" in message
    status, kind, _ = error_of(
        lambda_client.update_function_code,
        FunctionName=function_name,
        S3Bucket=BUCKET,
        S3Key=str(source),
        Publish=True,
    )
    assert (status, kind) == (400, "InvalidParameterValueException")
    # Another bucket is still S3, which gureum does not read code from.
    status, kind, _ = error_of(
        lambda_client.update_function_code,
        FunctionName=function_name,
        S3Bucket="some-bucket",
        S3Key="code.zip",
    )
    assert (status, kind) == (400, "InvalidParameterValueException")


def test_a_change_while_the_server_was_down_runs_after_a_restart(
    server: GureumProcess, tmp_path: Path
) -> None:
    own = GureumProcess(tmp_path / "data").start()
    try:
        client = own.client()
        source = tmp_path / "app"
        source.mkdir()
        save(source / "index.py", "def handler(event, context):\n    return 'before'\n")
        created = create(client, "restarted", Code=code(source))
        assert invoke(client, "restarted").json() == "before"
        own.stop()
        save(source / "index.py", "def handler(event, context):\n    return 'after'\n")
        own.start()
        client = own.client()
        assert invoke(client, "restarted").json() == "after"
        now = client.get_function_configuration(FunctionName="restarted")
        assert now["CodeSha256"] != created["CodeSha256"]
        # And it is watched again.
        save(source / "index.py", "def handler(event, context):\n    return 'again'\n")
        assert until(lambda: invoke(client, "restarted").json(), "again") == "again"
    finally:
        if own.process is not None:
            own.stop()
