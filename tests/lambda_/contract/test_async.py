"""Asynchronous invocation over the wire (spec 5, 4.5): the 202, retries at their scaled times,
destination records key for key, the dead-letter queue, event invoke configs and the metrics.

A private server runs with `--time-scale 0.01`, so the one- and two-minute retry delays take 0.6
and 1.2 s and a 60-second maximum event age takes 0.6 s, and with `--async-payload-limit 1000`,
so the 413 of an oversized Event payload is cheap to provoke. Records are read back the way a
user reads them: from real SQS queues, long polling.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from tests.support.packages import zip_of
from tests.support.server import GureumProcess

ACCOUNT = "000000000000"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
PAYLOAD_LIMIT = 1000
WAIT = {"Delay": 0.1, "MaxAttempts": 300}
_numbers = itertools.count()

# Echoes its event and request id; raises `event["fail"] * event.get("repeat", 1)` when asked;
# sleeps `event["sleep"]` seconds first when asked. Every attempt prints its request id.
HANDLER = """\
import time

def handler(event, context):
    print("attempt", context.aws_request_id)
    if "sleep" in event:
        time.sleep(event["sleep"])
    if "fail" in event:
        raise Exception(event["fail"] * event.get("repeat", 1))
    return {"echo": event, "requestId": context.aws_request_id}
"""


def function_arn(name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier is not None else base


def error_of(call: Callable[..., Any], **params: Any) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def invoke(client: Any, **params: Any) -> dict[str, Any]:
    """Invoke, with the payload stream read and closed (its bytes replace it)."""
    response: dict[str, Any] = client.invoke(**params)
    with response["Payload"] as stream:
        response["Payload"] = stream.read()
    return response


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.05)


class Metrics:
    """One scrape of `/_gureum/metrics`; a counter never incremented reads as 0."""

    def __init__(self, server: GureumProcess) -> None:
        with urllib.request.urlopen(f"{server.url}/_gureum/metrics", timeout=5) as reply:
            text = reply.read().decode("utf-8")
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def counter(self, name: str, function: str) -> float:
        labels = frozenset({("Region", REGION), ("FunctionName", function)})
        return self.samples.get((f"aws_lambda_{name}_total", labels), 0.0)

    def queue_depth(self) -> float:
        return self.samples[("gureum_async_queue_depth", frozenset())]

    def running(self, function: str) -> float:
        labels = {("Account", ACCOUNT), ("Region", REGION), ("FunctionName", function)}
        return self.samples.get(("aws_lambda_ConcurrentExecutions", frozenset(labels)), 0.0)


@dataclass
class Async:
    """The private server and the clients a user would hold."""

    server: GureumProcess
    lam: Any
    sqs: Any
    logs: Any

    def function(self, name: str, source: str = HANDLER, **params: Any) -> str:
        request: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": "python3.12",
            "Role": ROLE,
            "Handler": "index.handler",
            "Code": {"ZipFile": zip_of({"index.py": source})},
            "Timeout": 30,
        }
        request.update(params)
        self.lam.create_function(**request)
        self.lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAIT)
        return name

    def queue(self, name: str) -> tuple[str, str]:
        """A new SQS queue: (URL, ARN)."""
        url: str = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        arn: str = attributes["Attributes"]["QueueArn"]
        return url, arn

    def messages(self, url: str, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Exactly `count` messages of the queue, received and deleted, long polling."""
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(received) < count:
            assert time.monotonic() < deadline, f"{len(received)} of {count} messages arrived"
            answer = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, count - len(received)),
                WaitTimeSeconds=2,
                MessageAttributeNames=["All"],
            )
            for message in answer.get("Messages", []):
                received.append(message)
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return received

    def records(self, url: str, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.messages(url, count, timeout)]

    def assert_empty(self, url: str) -> None:
        extra = self.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", [])
        assert extra == []

    def event(self, name: str, payload: Any, **params: Any) -> str:
        """Invokes with InvocationType=Event; checks the 202 and returns the request id."""
        response = invoke(
            self.lam,
            FunctionName=name,
            InvocationType="Event",
            Payload=json.dumps(payload),
            **params,
        )
        assert (response["StatusCode"], response["Payload"]) == (202, b"")
        request_id: str = response["ResponseMetadata"]["RequestId"]
        return request_id

    def log_lines(self, name: str, needle: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        paginator = self.logs.get_paginator("filter_log_events")
        for page in paginator.paginate(logGroupName=f"/aws/lambda/{name}"):
            events += [e for e in page["events"] if needle in e["message"]]
        return sorted(events, key=lambda e: (e["timestamp"], e.get("ingestionTime", 0)))

    def metrics(self) -> Metrics:
        return Metrics(self.server)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Async]:
    process = GureumProcess(
        tmp_path_factory.mktemp("gureum-async") / "data",
        "--time-scale",
        "0.01",
        "--async-payload-limit",
        str(PAYLOAD_LIMIT),
    ).start()
    clients = Async(
        process, process.client("lambda"), process.client("sqs"), process.client("logs")
    )
    yield clients
    process.stop()


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A fresh name per test (functions and queues alike)."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '-', request.node.name)[:40]}-{next(_numbers)}"


# --- accepting and the success record ---------------------------------------------------------


def test_event_invoke_answers_202_with_an_empty_body_and_no_version(env: Async, name: str) -> None:
    env.function(name)
    response = invoke(env.lam, FunctionName=name, InvocationType="Event", Payload=b'{"a": 1}')
    assert response["StatusCode"] == 202
    assert response["Payload"] == b""
    assert "ExecutedVersion" not in response
    assert "FunctionError" not in response
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert "x-amz-executed-version" not in headers
    assert "x-amz-function-error" not in headers


def test_success_record_on_an_sqs_destination(env: Async, name: str) -> None:
    env.function(name)
    url, arn = env.queue(name)
    env.lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    request_id = env.event(name, {"order": [1, 2], "note": "ünïcode"})
    (record,) = env.records(url)
    assert set(record) == {
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    }
    assert record["version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": function_arn(name, "$LATEST"),
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"order": [1, 2], "note": "ünïcode"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    # The 202's request id is the function's context.aws_request_id.
    assert record["responsePayload"] == {
        "echo": {"order": [1, 2], "note": "ünïcode"},
        "requestId": request_id,
    }
    env.assert_empty(url)


def test_configs_are_per_qualifier_and_records_name_the_version_invoked(
    env: Async, name: str
) -> None:
    env.function(name, Publish=True)
    latest_url, latest_arn = env.queue(f"{name}-latest")
    one_url, one_arn = env.queue(f"{name}-one")
    env.lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": latest_arn}}
    )
    env.lam.put_function_event_invoke_config(
        FunctionName=name, Qualifier="1", DestinationConfig={"OnSuccess": {"Destination": one_arn}}
    )
    env.event(name, {"via": "1"}, Qualifier="1")
    env.event(name, {"via": "latest"})
    (one,) = env.records(one_url)
    assert one["requestContext"]["functionArn"] == function_arn(name, "1")
    assert one["responseContext"]["executedVersion"] == "1"
    assert one["requestPayload"] == {"via": "1"}
    (latest,) = env.records(latest_url)
    assert latest["requestContext"]["functionArn"] == function_arn(name, "$LATEST")
    assert latest["requestPayload"] == {"via": "latest"}


def test_alias_invocations_use_the_alias_config_and_name_the_alias(env: Async, name: str) -> None:
    env.function(name, Publish=True)
    env.lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    url, arn = env.queue(name)
    env.lam.put_function_event_invoke_config(
        FunctionName=name, Qualifier="live", DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    request_id = env.event(name, {"via": "alias"}, Qualifier="live")
    (record,) = env.records(url)
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["functionArn"] == function_arn(name, "live")
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "1"}


# --- failures, retries, the dead-letter queue --------------------------------------------------


def test_function_error_is_retried_twice_at_scaled_times_then_retries_exhausted(
    env: Async, name: str
) -> None:
    env.function(name)
    url, arn = env.queue(name)
    env.lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    request_id = env.event(name, {"fail": "intentional failure"})
    (record,) = env.records(url)
    assert set(record) == {
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    }
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": function_arn(name, "$LATEST"),
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"fail": "intentional failure"}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    error = record["responsePayload"]
    assert error["errorMessage"] == "intentional failure"
    assert error["errorType"] == "Exception"
    assert isinstance(error["stackTrace"], list)

    # Every attempt ran under the 202's request id ...
    printed = env.log_lines(name, f"attempt {request_id}")
    assert len(printed) == 3
    # ... about 60 s and 120 s apart, scaled by 0.01 (0.6 s, 1.2 s), within generous bounds.
    starts = [e["timestamp"] / 1000 for e in env.log_lines(name, f"START RequestId: {request_id}")]
    assert len(starts) == 3
    first, second = starts[1] - starts[0], starts[2] - starts[1]
    assert 0.4 <= first <= 3.0, starts
    assert 0.9 <= second <= 4.0, starts
    assert second > first, starts
    env.assert_empty(url)


def test_maximum_retry_attempts_zero_fails_after_one_attempt(env: Async, name: str) -> None:
    env.function(name)
    url, arn = env.queue(name)
    env.lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    request_id = env.event(name, {"fail": "once"})
    (record,) = env.records(url)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responsePayload"]["errorMessage"] == "once"
    assert len(env.log_lines(name, f"attempt {request_id}")) == 1


def test_function_error_past_the_maximum_age_is_event_age_exceeded(env: Async, name: str) -> None:
    env.function(name)
    url, arn = env.queue(name)
    env.lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumEventAgeInSeconds=60,  # the first retry, 60 s (0.6 s) later, would be too late
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    request_id = env.event(name, {"fail": "too old to retry"})
    (record,) = env.records(url)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "too old to retry"
    assert len(env.log_lines(name, f"attempt {request_id}")) == 1


def test_timed_out_attempt_reports_the_sandbox_timeout(env: Async, name: str) -> None:
    env.function(name, Timeout=1)
    url, arn = env.queue(name)
    env.lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    request_id = env.event(name, {"sleep": 3})
    (record,) = env.records(url)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"] == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
    }


def test_dead_letter_queue_gets_the_original_event_and_its_attributes(
    env: Async, name: str
) -> None:
    dlq_url, dlq_arn = env.queue(f"{name}-dlq")
    failure_url, failure_arn = env.queue(f"{name}-failure")
    env.function(name, DeadLetterConfig={"TargetArn": dlq_arn})
    env.lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )
    # Odd spacing and key order: the body must be these bytes, not a re-serialization.
    payload = b'{"repeat":  700, "fail": "ab",\n "z": [1,2]}'
    response = invoke(env.lam, FunctionName=name, InvocationType="Event", Payload=payload)
    request_id = response["ResponseMetadata"]["RequestId"]
    (message,) = env.messages(dlq_url, 1)
    assert message["Body"] == payload.decode()
    assert message["MessageAttributes"] == {
        "RequestID": {"StringValue": request_id, "DataType": "String"},
        "ErrorCode": {"StringValue": "200", "DataType": "Number"},
        "ErrorMessage": {"StringValue": ("ab" * 700)[:1024], "DataType": "String"},
    }
    # Both the dead-letter queue and the on-failure destination receive the failure.
    (record,) = env.records(failure_url)
    assert record["requestContext"]["requestId"] == request_id
    assert record["responsePayload"]["errorMessage"] == "ab" * 700
    env.assert_empty(dlq_url)


# The SenderId of what Lambda sends as the execution role: the role's unique id and the session's
# name (an AWS SenderId quoted in getmoto/moto#792: AROAIL6GAI2XEC672SWG2:awslambda_39_2016...).
SENDER_ID = re.compile(r"(AROA[A-Z2-7]{17}):awslambda_\d{1,3}_\d{17}")


def sender_ids(env: Async, url: str, count: int) -> list[str]:
    """The SenderId of `count` messages, as ReceiveMessage(AttributeNames=["SenderId"]) gives it."""
    found: list[str] = []
    deadline = time.monotonic() + 20
    while len(found) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} messages arrived"
        answer = env.sqs.receive_message(
            QueueUrl=url, AttributeNames=["SenderId"], WaitTimeSeconds=2, MaxNumberOfMessages=10
        )
        for message in answer.get("Messages", []):
            found.append(message["Attributes"]["SenderId"])
            env.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_destinations_and_dead_letters_are_sent_as_the_execution_role(
    env: Async, name: str
) -> None:
    other_role = f"arn:aws:iam::{ACCOUNT}:role/{name}"
    dlq_url, dlq_arn = env.queue(f"{name}-dlq")
    failure_url, failure_arn = env.queue(f"{name}-failure")
    success_url, success_arn = env.queue(f"{name}-success")
    env.function(name, DeadLetterConfig={"TargetArn": dlq_arn})
    env.function(f"{name}-b", Role=other_role)
    env.lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={
            "OnFailure": {"Destination": failure_arn},
            "OnSuccess": {"Destination": success_arn},
        },
    )
    env.lam.put_function_event_invoke_config(
        FunctionName=f"{name}-b", DestinationConfig={"OnSuccess": {"Destination": success_arn}}
    )
    env.event(name, {"fail": "no"})
    env.event(name, {"ok": 1})
    env.event(f"{name}-b", {"ok": 2})
    senders = sender_ids(env, dlq_url, 1) + sender_ids(env, failure_url, 1)
    senders += sender_ids(env, success_url, 2)
    matches = [SENDER_ID.fullmatch(sender) for sender in senders]
    assert all(matches), senders
    roles = [match[1] for match in matches if match]
    assert ACCOUNT not in senders
    # One role, one unique id, whatever was sent; another role has its own.
    assert len(set(roles[:2])) == 1
    assert len(set(roles[2:])) == 2
    assert roles[0] in roles[2:]


def test_an_empty_dead_letter_config_keeps_the_target_and_an_empty_target_arn_removes_it(
    env: Async, name: str
) -> None:
    # AWS's recorded response to DeadLetterConfig={} still names the queue (LocalStack's
    # test_lambda_destinations.snapshot.json, test_dead_letter_queue, delete_dlq); the model's
    # pattern for TargetArn allows "" (spec 5.5), which removes it.
    _, arn = env.queue(name)
    env.function(name, DeadLetterConfig={"TargetArn": arn})
    kept = env.lam.update_function_configuration(FunctionName=name, DeadLetterConfig={})
    assert kept["DeadLetterConfig"] == {"TargetArn": arn}
    env.lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    config = env.lam.get_function_configuration(FunctionName=name)
    assert config["DeadLetterConfig"] == {"TargetArn": arn}
    removed = env.lam.update_function_configuration(
        FunctionName=name, DeadLetterConfig={"TargetArn": ""}
    )
    assert "DeadLetterConfig" not in removed
    env.lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    assert "DeadLetterConfig" not in env.lam.get_function_configuration(FunctionName=name)


def test_dead_letter_config_with_an_sns_topic_is_refused(env: Async, name: str) -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    status, code, _ = error_of(
        env.lam.create_function,
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of()},
        DeadLetterConfig={"TargetArn": topic},
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    env.function(name)
    status, code, _ = error_of(
        env.lam.update_function_configuration,
        FunctionName=name,
        DeadLetterConfig={"TargetArn": topic},
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    configuration = env.lam.get_function_configuration(FunctionName=name)
    assert "DeadLetterConfig" not in configuration


def test_zero_reserved_concurrency_fails_every_event_without_running(env: Async, name: str) -> None:
    env.function(name)
    url, arn = env.queue(name)
    env.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    env.lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    request_id = env.event(name, {"k": "v"})  # accepted even though it can never run
    (record,) = env.records(url)
    assert set(record) == {"version", "timestamp", "requestContext", "requestPayload"}
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": function_arn(name, "$LATEST"),
        "condition": "ZeroReservedConcurrency",
        "approximateInvokeCount": 0,
    }
    assert record["requestPayload"] == {"k": "v"}
    metrics = env.metrics()
    assert metrics.counter("Invocations", name) == 0
    assert metrics.counter("AsyncEventsDropped", name) == 1
    assert env.logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"] == []


def test_event_kept_throttled_ages_out_without_blocking_other_functions(
    env: Async, name: str
) -> None:
    env.function(name)
    env.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    other = env.function(f"{name}-other")
    url, arn = env.queue(name)
    other_url, other_arn = env.queue(f"{name}-other")
    env.lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumEventAgeInSeconds=60,  # 0.6 s at this time scale
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    env.lam.put_function_event_invoke_config(
        FunctionName=other, DestinationConfig={"OnSuccess": {"Destination": other_arn}}
    )
    # A synchronous call holds the only concurrency the function has for 4 seconds.
    blocker = env.server.client("lambda")
    holding = threading.Thread(
        target=lambda: invoke(blocker, FunctionName=name, Payload=json.dumps({"sleep": 4}))
    )
    holding.start()
    try:
        wait_until(lambda: env.metrics().running(name) == 1)
        # More throttled events than the server delivers at once, then another function's.
        throttled = [env.event(name, {"n": n}) for n in range(40)]
        started = time.monotonic()
        other_id = env.event(other, {"other": True})
        (delivered,) = env.records(other_url, timeout=3.0)
        assert delivered["requestContext"]["requestId"] == other_id
        assert time.monotonic() - started < 3.0
        records = env.records(url, count=len(throttled), timeout=3.5)
        assert holding.is_alive(), "the events must age out while the function is still busy"
    finally:
        holding.join(timeout=30)
        blocker.close()
    assert sorted(r["requestContext"]["requestId"] for r in records) == sorted(throttled)
    for record in records:
        assert set(record) == {"version", "timestamp", "requestContext", "requestPayload"}
        assert record["requestContext"]["condition"] == "EventAgeExceeded"
        assert record["requestContext"]["approximateInvokeCount"] == 0
        assert record["requestContext"]["functionArn"] == function_arn(name, "$LATEST")
    metrics = env.metrics()
    assert metrics.counter("Invocations", name) == 1  # only the synchronous call ran
    assert metrics.counter("AsyncEventsDropped", name) == len(throttled)


def test_lambda_destination_receives_the_record_as_its_event(env: Async, name: str) -> None:
    source = env.function(name)
    destination = env.function(f"{name}-dest")
    url, arn = env.queue(name)
    env.lam.put_function_event_invoke_config(
        FunctionName=source,
        DestinationConfig={"OnSuccess": {"Destination": function_arn(destination)}},
    )
    env.lam.put_function_event_invoke_config(
        FunctionName=destination, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    request_id = env.event(source, {"hello": "destination"})
    (record,) = env.records(url)
    # The destination's own success record: its event was the source's success record.
    assert record["requestContext"]["functionArn"] == function_arn(destination, "$LATEST")
    assert record["requestContext"]["requestId"] != request_id
    received = record["responsePayload"]["echo"]
    assert received == record["requestPayload"]
    assert received["requestContext"] == {
        "requestId": request_id,
        "functionArn": function_arn(source, "$LATEST"),
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert received["requestPayload"] == {"hello": "destination"}
    assert received["responsePayload"] == {
        "echo": {"hello": "destination"},
        "requestId": request_id,
    }


# --- accepting: limits, validation, InvokeAsync -----------------------------------------------


def test_event_payload_over_the_limit_is_413(env: Async, name: str) -> None:
    env.function(name)

    def payload(size: int) -> bytes:
        data = b'{"k": "' + b"x" * (size - 9) + b'"}'
        assert len(data) == size
        return data

    accepted = invoke(
        env.lam, FunctionName=name, InvocationType="Event", Payload=payload(PAYLOAD_LIMIT)
    )
    assert accepted["StatusCode"] == 202
    status, code, message = error_of(
        env.lam.invoke,
        FunctionName=name,
        InvocationType="Event",
        Payload=payload(PAYLOAD_LIMIT + 1),
    )
    assert (status, code) == (413, "RequestEntityTooLargeException")
    assert message == (
        f"{PAYLOAD_LIMIT + 1} byte payload is too large for the Event invocation type "
        f"(limit {PAYLOAD_LIMIT} bytes)"
    )
    # The limit is the Event limit: a synchronous call of the same size runs.
    response = invoke(env.lam, FunctionName=name, Payload=payload(PAYLOAD_LIMIT + 1))
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    # Only the accepted event counts as received.
    assert env.metrics().counter("AsyncEventsReceived", name) == 1


def test_event_invoke_validates_like_a_synchronous_call(env: Async, name: str) -> None:
    env.function(name)
    status, code, _ = error_of(
        env.lam.invoke, FunctionName=f"{name}-missing", InvocationType="Event", Payload=b"{}"
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    status, code, _ = error_of(
        env.lam.invoke, FunctionName=name, InvocationType="Event", Payload=b"{not json"
    )
    assert (status, code) == (400, "InvalidRequestContentException")
    status, code, _ = error_of(
        env.lam.invoke, FunctionName=name, InvocationType="Event", Qualifier="7", Payload=b"{}"
    )
    assert (status, code) == (404, "ResourceNotFoundException")


def test_invoke_async_answers_status_202_and_runs_the_function(env: Async, name: str) -> None:
    env.function(name)
    url, arn = env.queue(name)
    env.lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    response = env.lam.invoke_async(FunctionName=name, InvokeArgs=b'{"legacy": true}')
    assert response["Status"] == 202
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    (record,) = env.records(url)
    assert record["requestContext"]["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"]["echo"] == {"legacy": True}


# --- metrics ------------------------------------------------------------------------------------


def test_metrics_count_accepts_drops_and_queue_depth(env: Async, name: str) -> None:
    ok = env.function(name)
    failing = env.function(f"{name}-failing")
    env.lam.put_function_event_invoke_config(FunctionName=failing, MaximumRetryAttempts=0)
    for n in range(3):
        env.event(ok, {"n": n})
    env.event(failing, {"fail": "dropped"})
    env.event(failing, {"fail": "dropped"})
    wait_until(lambda: env.metrics().counter("AsyncEventsDropped", failing) == 2)
    wait_until(lambda: env.metrics().counter("Invocations", ok) == 3)
    wait_until(lambda: env.metrics().queue_depth() == 0)
    metrics = env.metrics()
    assert metrics.counter("AsyncEventsReceived", ok) == 3
    assert metrics.counter("AsyncEventsReceived", failing) == 2
    assert metrics.counter("AsyncEventsDropped", ok) == 0
    assert metrics.counter("Invocations", failing) == 2


def test_deleted_destination_and_dead_letter_queues_count_delivery_failures(
    env: Async, name: str
) -> None:
    success_url, success_arn = env.queue(f"{name}-success")
    dlq_url, dlq_arn = env.queue(f"{name}-dlq")
    function = env.function(name, DeadLetterConfig={"TargetArn": dlq_arn})
    env.lam.put_function_event_invoke_config(
        FunctionName=function,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": success_arn}},
    )
    env.sqs.delete_queue(QueueUrl=success_url)
    env.sqs.delete_queue(QueueUrl=dlq_url)
    env.event(function, {"fine": True})
    env.event(function, {"fail": "nowhere to go"})
    wait_until(lambda: env.metrics().counter("DestinationDeliveryFailures", function) == 1)
    wait_until(lambda: env.metrics().counter("DeadLetterErrors", function) == 1)
    metrics = env.metrics()
    # The record is not retried into the function: each event ran once.
    assert metrics.counter("Invocations", function) == 2
    assert metrics.counter("AsyncEventsDropped", function) == 1

    # A Lambda destination deleted after it was configured fails the same way.
    destination = env.function(f"{name}-dest")
    env.lam.put_function_event_invoke_config(
        FunctionName=function,
        DestinationConfig={"OnSuccess": {"Destination": function_arn(destination)}},
    )
    env.lam.delete_function(FunctionName=destination)
    env.event(function, {"fine": True})
    wait_until(lambda: env.metrics().counter("DestinationDeliveryFailures", function) == 2)
    assert env.metrics().counter("Invocations", function) == 3


# --- event invoke config API --------------------------------------------------------------------


def test_put_replaces_update_merges_get_list_delete(env: Async, name: str) -> None:
    env.function(name)
    put = env.lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert put["FunctionArn"] == function_arn(name, "$LATEST")
    assert put["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in put
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    assert "LastModified" in put

    # Put replaces: what it does not name is removed.
    put = env.lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=3600)
    assert put["MaximumEventAgeInSeconds"] == 3600
    assert "MaximumRetryAttempts" not in put

    # Update merges: what it names changes, the rest stays.
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    updated = env.lam.update_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    assert updated["MaximumEventAgeInSeconds"] == 3600
    assert updated["MaximumRetryAttempts"] == 0
    assert updated["DestinationConfig"] == {
        "OnSuccess": {},
        "OnFailure": {"Destination": queue_arn},
    }
    updated = env.lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": queue_arn}
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (2, 3600)

    got = env.lam.get_function_event_invoke_config(FunctionName=name)
    for key in ("FunctionArn", "MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        assert got[key] == updated[key]
    assert got["DestinationConfig"] == updated["DestinationConfig"]

    listed = env.lam.list_function_event_invoke_configs(FunctionName=name)
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [
        function_arn(name, "$LATEST")
    ]

    deleted = env.lam.delete_function_event_invoke_config(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    status, code, message = error_of(env.lam.get_function_event_invoke_config, FunctionName=name)
    assert (status, code) == (404, "ResourceNotFoundException")
    assert (
        message == f"The function {function_arn(name, '$LATEST')} doesn't have an EventInvokeConfig"
    )
    assert (
        env.lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
        == []
    )


def test_configs_per_version_and_alias_are_qualified_and_not_copied_by_publish(
    env: Async, name: str
) -> None:
    env.function(name)
    env.lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert env.lam.publish_version(FunctionName=name)["Version"] == "1"
    status, code, message = error_of(
        env.lam.get_function_event_invoke_config, FunctionName=name, Qualifier="1"
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"The function {function_arn(name, '1')} doesn't have an EventInvokeConfig"

    env.lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    by_version = env.lam.put_function_event_invoke_config(
        FunctionName=f"{name}:1", MaximumEventAgeInSeconds=60
    )
    assert by_version["FunctionArn"] == function_arn(name, "1")
    by_alias = env.lam.put_function_event_invoke_config(
        FunctionName=function_arn(name), Qualifier="live", MaximumRetryAttempts=1
    )
    assert by_alias["FunctionArn"] == function_arn(name, "live")
    listed = env.lam.list_function_event_invoke_configs(FunctionName=name)
    assert sorted(c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]) == sorted(
        [function_arn(name, "$LATEST"), function_arn(name, "1"), function_arn(name, "live")]
    )
    for config in listed["FunctionEventInvokeConfigs"]:
        assert config["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}

    status, code, message = error_of(
        env.lam.put_function_event_invoke_config,
        FunctionName=f"{name}:1",
        Qualifier="$LATEST",
        MaximumRetryAttempts=1,
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == (
        "The derived qualifier from the function name does not match the specified qualifier."
    )


def test_list_pages_and_a_recreated_function_starts_without_a_config(env: Async, name: str) -> None:
    env.function(name, Publish=True)
    env.lam.publish_version(FunctionName=name)  # nothing changed: still version 1
    env.lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    for qualifier in ("$LATEST", "1", "live"):
        env.lam.put_function_event_invoke_config(
            FunctionName=name, Qualifier=qualifier, MaximumRetryAttempts=1
        )
    first = env.lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=2)
    assert len(first["FunctionEventInvokeConfigs"]) == 2
    second = env.lam.list_function_event_invoke_configs(
        FunctionName=name, MaxItems=2, Marker=first["NextMarker"]
    )
    assert len(second["FunctionEventInvokeConfigs"]) == 1
    assert "NextMarker" not in second
    arns = [c["FunctionArn"] for c in first["FunctionEventInvokeConfigs"]]
    arns += [c["FunctionArn"] for c in second["FunctionEventInvokeConfigs"]]
    assert sorted(arns) == sorted(function_arn(name, q) for q in ("$LATEST", "1", "live"))

    env.lam.delete_function(FunctionName=name)
    env.function(name)
    assert (
        env.lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
        == []
    )
    status, code, _ = error_of(env.lam.get_function_event_invoke_config, FunctionName=name)
    assert (status, code) == (404, "ResourceNotFoundException")


def test_event_invoke_config_errors(env: Async, name: str) -> None:
    env.function(name)
    other = env.function(f"{name}-other")
    put = env.lam.put_function_event_invoke_config

    def refused(**params: Any) -> tuple[int, str, str]:
        return error_of(put, FunctionName=name, **params)

    assert refused() == (
        400,
        "InvalidParameterValueException",
        "You must specify at least one of error handling or destination setting.",
    )
    missing = function_arn("doesnotexist")
    assert refused(DestinationConfig={"OnSuccess": {"Destination": missing}}) == (
        400,
        "InvalidParameterValueException",
        f"The destination ARN {missing} is invalid.",
    )
    assert refused(DestinationConfig={"OnFailure": {"Destination": function_arn(name)}}) == (
        400,
        "InvalidParameterValueException",
        "You can't specify the function as a destination for itself.",
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/not-a-destination"
    assert refused(DestinationConfig={"OnSuccess": {"Destination": role}}) == (
        400,
        "InvalidParameterValueException",
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination="
        f"{role}), onFailure=null) is invalid.",
    )
    for unsupported in (
        f"arn:aws:sns:{REGION}:{ACCOUNT}:topic",
        f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default",
        "arn:aws:s3:::bucket",
    ):
        status, code, message = refused(
            DestinationConfig={"OnFailure": {"Destination": unsupported}}
        )
        assert (status, code) == (400, "InvalidParameterValueException"), unsupported
        assert "SQS" in message
        assert "Lambda" in message
    status, code, _ = refused(MaximumRetryAttempts=3)
    assert (status, code) == (400, "ValidationException")
    # botocore checks minimums itself; a client that does not shows the server's answer.
    unchecked = env.server.client(
        "lambda", config=Config(parameter_validation=False, retries={"total_max_attempts": 1})
    )
    for too_small in ({"MaximumEventAgeInSeconds": 59}, {"MaximumRetryAttempts": -1}):
        status, code, _ = error_of(
            unchecked.put_function_event_invoke_config, FunctionName=name, **too_small
        )
        assert (status, code) == (400, "ValidationException"), too_small
    unchecked.close()
    status, code, _ = refused(MaximumEventAgeInSeconds=21601)
    assert (status, code) == (400, "ValidationException")
    status, code, message = refused(DestinationConfig={"OnFailure": {"Destination": "nope"}})
    assert (status, code) == (400, "ValidationException")
    assert message.startswith(
        "1 validation error detected: Value 'nope' at 'destinationConfig.onFailure.destination' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: "
    )
    # None of the refused requests left a config behind.
    assert (
        env.lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
        == []
    )

    # An empty OnSuccess is accepted; another existing function is a valid destination.
    accepted = put(
        FunctionName=name,
        DestinationConfig={"OnSuccess": {}, "OnFailure": {"Destination": function_arn(other)}},
    )
    assert accepted["DestinationConfig"] == {
        "OnSuccess": {},
        "OnFailure": {"Destination": function_arn(other)},
    }

    absent = f"{name}-absent"
    for call in (put, env.lam.update_function_event_invoke_config):
        assert error_of(call, FunctionName=absent, MaximumRetryAttempts=1) == (
            404,
            "ResourceNotFoundException",
            "The function doesn't exist.",
        )
    assert error_of(env.lam.list_function_event_invoke_configs, FunctionName=absent) == (
        404,
        "ResourceNotFoundException",
        "The function doesn't exist.",
    )
    assert error_of(
        env.lam.update_function_event_invoke_config, FunctionName=other, MaximumRetryAttempts=1
    ) == (
        404,
        "ResourceNotFoundException",
        f"The function {function_arn(other, '$LATEST')} doesn't have an EventInvokeConfig",
    )
