"""The AWS CLI and curl, as a user would: an SQS-triggered function, and a function URL."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.cli import run_aws
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
RECORDER = """\
import json, os
import boto3

def handler(event, context):
    sqs = boto3.client("sqs")
    for record in event.get("Records", []):
        sqs.send_message(QueueUrl=os.environ["SINK"], MessageBody=record["body"].upper())
    return {"statusCode": 200, "body": json.dumps({"path": event.get("rawPath")})}
"""


def aws(server: GureumProcess, home: Path, *args: str) -> Any:
    """`aws --endpoint-url <gureum> ...`, isolated from the host's configuration; its JSON."""
    done = run_aws(server, home, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_sqs_trigger_and_function_url_with_the_cli_and_curl(
    server: GureumProcess, tmp_path: Path, function_name: str
) -> None:
    package = tmp_path / "function.zip"
    package.write_bytes(zip_of({"index.py": RECORDER}))
    sink = aws(server, tmp_path, "sqs", "create-queue", "--queue-name", f"{function_name}-sink")
    source = aws(server, tmp_path, "sqs", "create-queue", "--queue-name", f"{function_name}-src")
    arn = aws(
        server,
        tmp_path,
        "sqs",
        "get-queue-attributes",
        "--queue-url",
        source["QueueUrl"],
        "--attribute-names",
        "QueueArn",
    )["Attributes"]["QueueArn"]
    aws(
        server,
        tmp_path,
        "lambda",
        "create-function",
        "--function-name",
        function_name,
        "--runtime",
        "python3.12",
        "--role",
        ROLE,
        "--handler",
        "index.handler",
        "--zip-file",
        f"fileb://{package}",
        "--environment",
        json.dumps({"Variables": {"SINK": sink["QueueUrl"]}}),
    )
    aws(server, tmp_path, "lambda", "wait", "function-active-v2", "--function-name", function_name)
    mapping = aws(
        server,
        tmp_path,
        "lambda",
        "create-event-source-mapping",
        "--function-name",
        function_name,
        "--event-source-arn",
        arn,
        "--batch-size",
        "10",
    )
    assert mapping["State"] == "Creating"
    aws(
        server,
        tmp_path,
        "sqs",
        "send-message",
        "--queue-url",
        source["QueueUrl"],
        "--message-body",
        "hello",
    )
    deadline = time.monotonic() + 30
    bodies: list[str] = []
    while not bodies and time.monotonic() < deadline:
        received = aws(
            server,
            tmp_path,
            "sqs",
            "receive-message",
            "--queue-url",
            sink["QueueUrl"],
            "--wait-time-seconds",
            "1",
        )
        bodies = [m["Body"] for m in (received or {}).get("Messages", [])]
    assert bodies == ["HELLO"]
    listed = aws(
        server, tmp_path, "lambda", "list-event-source-mappings", "--function-name", function_name
    )
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [mapping["UUID"]]

    url = aws(
        server,
        tmp_path,
        "lambda",
        "create-function-url-config",
        "--function-name",
        function_name,
        "--auth-type",
        "NONE",
    )["FunctionUrl"]
    done = subprocess.run(
        ["curl", "-sS", "-i", f"{url}some/path?x=1"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    head, _, body = done.stdout.partition("\n\n")  # text mode: CRLF read as LF
    assert head.startswith("HTTP/1.1 200")
    assert json.loads(body) == {"path": "/some/path"}
    aws(server, tmp_path, "lambda", "delete-event-source-mapping", "--uuid", mapping["UUID"])
