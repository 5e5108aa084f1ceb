"""Recursive loop detection against a real server: Put/GetFunctionRecursionConfig with AWS's
errors, real loops stopped after 16 invocations (function -> queue -> the same function through
an event source mapping; a function invoking itself asynchronously through the SDK), and what is
no loop (one function calling another many times) left alone."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.functions import create, error_of, function_arn, invoke
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

THRESHOLD = 16

# Sends what it got back to its own queue: a loop through SQS.
TO_OWN_QUEUE = """\
import os
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    for record in event["Records"]:
        print("looping", record["body"])
        sqs.send_message(QueueUrl=os.environ["QUEUE"], MessageBody=record["body"])
"""

# Invokes itself asynchronously: a loop through Lambda's own event queue.
TO_ITSELF = """\
import json
import boto3

client = boto3.client("lambda")

def handler(event, context):
    print("looping", event["hop"])
    client.invoke(
        FunctionName=context.function_name,
        InvocationType="Event",
        Payload=json.dumps({"hop": event["hop"] + 1}),
    )
"""

# Calls another function synchronously, many times from one invocation: a fan-out, no loop.
FAN_OUT = """\
import json, os
import boto3

client = boto3.client("lambda")

def handler(event, context):
    answers = []
    for i in range(event["times"]):
        reply = client.invoke(FunctionName=os.environ["TARGET"], Payload=json.dumps({"i": i}))
        answers.append(reply.get("FunctionError") or json.load(reply["Payload"]))
    return answers
"""

ECHO = "def handler(event, context):\n    return event\n"

# Writes an object into the bucket whose uploads invoke it: a loop through S3's notifications.
TO_OWN_BUCKET = """\
import os
import boto3

s3 = boto3.client("s3")

def handler(event, context):
    key = event["Records"][0]["s3"]["object"]["key"]
    print("looping", key)
    s3.put_object(Bucket=os.environ["BUCKET"], Key=key + "x", Body=b"again")
"""


def wait_for(predicate: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def starts(server: GureumProcess, name: str) -> int:
    logs = server.client("logs")
    try:
        found = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern="START")
    except logs.exceptions.ResourceNotFoundException:
        return 0
    return sum(1 for e in found["events"] if e["message"].startswith("START RequestId"))


def dropped(server: GureumProcess, name: str) -> float:
    with urllib.request.urlopen(f"{server.url}/_gureum/metrics", timeout=5) as reply:
        page = reply.read().decode()
    total = 0.0
    for line in page.splitlines():
        if line.startswith("aws_lambda_RecursiveInvocationsDropped_total{") and name in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture
def sqs(server: GureumProcess) -> Any:
    return server.client("sqs")


def test_the_recursion_config_defaults_to_terminate(lambda_client: Any, function_name: str) -> None:
    create(lambda_client, function_name, Code={"ZipFile": zip_of({"index.py": ECHO})})
    got = lambda_client.get_function_recursion_config(FunctionName=function_name)
    assert got["RecursiveLoop"] == "Terminate"
    put = lambda_client.put_function_recursion_config(
        FunctionName=function_name, RecursiveLoop="Allow"
    )
    assert put["RecursiveLoop"] == "Allow"
    by_arn = lambda_client.get_function_recursion_config(FunctionName=function_arn(function_name))
    assert by_arn["RecursiveLoop"] == "Allow"
    status, code, message = error_of(
        lambda_client.get_function_recursion_config, FunctionName="no-such-function"
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Function not found: {function_arn('no-such-function')}"
    status, code, _ = error_of(
        lambda_client.put_function_recursion_config,
        FunctionName=function_name,
        RecursiveLoop="Sometimes",
    )
    assert (status, code) == (400, "ValidationException")
    status, code, _ = error_of(
        lambda_client.put_function_recursion_config,
        FunctionName=function_arn(function_name, "1"),
        RecursiveLoop="Allow",
    )
    # The model's FunctionName pattern admits no qualifier: refused before Lambda looks.
    assert (status, code) == (400, "ValidationException")


def test_a_loop_through_a_queue_is_stopped(
    lambda_client: Any, server: GureumProcess, sqs: Any, function_name: str
) -> None:
    dead = sqs.create_queue(QueueName=f"{function_name}-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    redrive = {"deadLetterTargetArn": dead_arn["Attributes"]["QueueArn"], "maxReceiveCount": "1"}
    queue = sqs.create_queue(
        QueueName=function_name,
        Attributes={"VisibilityTimeout": "1", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    create(
        lambda_client,
        function_name,
        Code={"ZipFile": zip_of({"index.py": TO_OWN_QUEUE})},
        Environment={"Variables": {"QUEUE": queue}},
    )
    lambda_client.create_event_source_mapping(
        EventSourceArn=arn["Attributes"]["QueueArn"], FunctionName=function_name, BatchSize=1
    )
    sqs.send_message(QueueUrl=queue, MessageBody="round and round")

    # The 17th invocation never runs: its message ends in the queue's dead-letter queue.
    message = wait_for(
        lambda: sqs.receive_message(QueueUrl=dead, WaitTimeSeconds=1).get("Messages"),
        what="the looping message in the dead-letter queue",
    )[0]
    assert message["Body"] == "round and round"
    assert starts(server, function_name) == THRESHOLD
    assert dropped(server, function_name) >= 1


def test_a_function_invoking_itself_asynchronously_is_stopped(
    lambda_client: Any, server: GureumProcess, sqs: Any, function_name: str
) -> None:
    dead = sqs.create_queue(QueueName=f"{function_name}-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    create(
        lambda_client,
        function_name,
        Code={"ZipFile": zip_of({"index.py": TO_ITSELF})},
        DeadLetterConfig={"TargetArn": dead_arn["Attributes"]["QueueArn"]},
    )
    lambda_client.invoke(
        FunctionName=function_name, InvocationType="Event", Payload=json.dumps({"hop": 1})
    )
    message = wait_for(
        lambda: sqs.receive_message(
            QueueUrl=dead, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages"),
        what="the looping event in the dead-letter queue",
    )[0]
    # The event the 16th invocation sent: hop 17, which never ran.
    assert json.loads(message["Body"]) == {"hop": THRESHOLD + 1}
    assert starts(server, function_name) == THRESHOLD
    assert dropped(server, function_name) == 1


def test_a_loop_through_a_bucket_is_stopped(
    lambda_client: Any, server: GureumProcess, sqs: Any, function_name: str
) -> None:
    # S3 keeps the uploader's X-Amzn-Trace-Id with each notification, so the invocation it
    # causes carries the lineage of the one whose SDK call uploaded.
    dead = sqs.create_queue(QueueName=f"{function_name}-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    bucket = function_name.lower().replace("_", "-")[:50]
    create(
        lambda_client,
        function_name,
        Code={"ZipFile": zip_of({"index.py": TO_OWN_BUCKET})},
        Environment={"Variables": {"BUCKET": bucket}},
        DeadLetterConfig={"TargetArn": dead_arn["Attributes"]["QueueArn"]},
    )
    s3 = server.client("s3")
    s3.create_bucket(Bucket=bucket)
    arn = lambda_client.get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="k", Body=b"first")
    message = wait_for(
        lambda: sqs.receive_message(QueueUrl=dead, WaitTimeSeconds=1).get("Messages"),
        what="the looping notification in the dead-letter queue",
    )[0]
    # The notification of the 16th invocation's upload never ran.
    record = json.loads(message["Body"])["Records"][0]
    assert record["s3"]["object"]["key"] == "k" + "x" * THRESHOLD
    assert starts(server, function_name) == THRESHOLD
    assert dropped(server, function_name) == 1


def test_a_synchronous_loop_answers_recursive_invocation_exception(
    lambda_client: Any, function_name: str
) -> None:
    # A caller whose trace header already carries 16 invocations of the function (as an SDK
    # inside the 16th would send it) is refused with AWS's error.
    create(lambda_client, function_name, Code={"ZipFile": zip_of({"index.py": ECHO})})
    # The lineage as the README documents it: the function's key, then its count so far.
    key = hashlib.sha256(function_arn(function_name).encode()).hexdigest()[:8]
    header = f"Root=1-00000000-{'0' * 24};Parent={'0' * 16};Sampled=0;Lineage={key}:{THRESHOLD}"

    def remember(request: Any, **kwargs: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = header

    lambda_client.meta.events.register("before-sign.lambda.Invoke", remember)
    try:
        status, code, message = error_of(
            lambda_client.invoke, FunctionName=function_name, Payload=b"{}"
        )
        assert (status, code) == (400, "RecursiveInvocationException")
        assert message == (
            "Lambda has detected your function being invoked in a recursive loop with other "
            "Amazon Web Services resources and stopped your function's invocation."
        )
        lambda_client.put_function_recursion_config(
            FunctionName=function_name, RecursiveLoop="Allow"
        )
        assert invoke(lambda_client, function_name, {"ok": 1}).json() == {"ok": 1}
    finally:
        lambda_client.meta.events.unregister("before-sign.lambda.Invoke", remember)


def test_fan_out_is_no_loop(lambda_client: Any, server: GureumProcess, function_name: str) -> None:
    target = f"{function_name}-target"
    create(lambda_client, target, Code={"ZipFile": zip_of({"index.py": ECHO})})
    create(
        lambda_client,
        function_name,
        Code={"ZipFile": zip_of({"index.py": FAN_OUT})},
        Environment={"Variables": {"TARGET": target}},
        Timeout=60,
    )
    times = THRESHOLD + 4
    answer = invoke(lambda_client, function_name, {"times": times}).json()
    assert answer == [{"i": i} for i in range(times)]
    assert dropped(server, target) == 0
