"""SQS event source mappings driven with boto3 against a real server: the control plane with
AWS's errors, and queues whose messages drive a function (batches, partial failures, filters,
redrive to a dead-letter queue)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.functions import error_of
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

# Forwards each record to the SINK queue; bodies starting with "fail" are reported as failures,
# a body "crash" raises (a function error for the whole batch).
FORWARDER = """\
import json, os
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    failures = []
    for record in event["Records"]:
        if record["body"] == "crash":
            raise RuntimeError("crash")
        if record["body"].startswith("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        sqs.send_message(
            QueueUrl=os.environ["SINK"],
            MessageBody=json.dumps({"size": len(event["Records"]), "record": record}),
        )
    return {"batchItemFailures": failures}
"""


def wait_for(predicate: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def drain(sqs: Any, url: str, until: int, timeout: float = 30) -> list[dict[str, Any]]:
    """Receives and deletes until `until` messages came (or the timeout), parsed."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(seen) < until and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = answer.get("Messages", [])
        for message in messages:
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


@pytest.fixture
def sqs(server: GureumProcess) -> Any:
    return server.client("sqs")


def queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def forwarder(make_function: Callable[..., Any], sink: str) -> None:
    make_function(
        Code={"ZipFile": zip_of({"index.py": FORWARDER})},
        Environment={"Variables": {"SINK": sink}},
        Timeout=30,
    )


def enabled(lambda_client: Any, uuid: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_for(
        lambda: (
            (m := lambda_client.get_event_source_mapping(UUID=uuid))["State"] == "Enabled" and m
        ),
        10,
        "Enabled",
    )
    return found


# --- the control plane ------------------------------------------------------------------------


def test_create_get_list_update_delete(
    lambda_client: Any, make_function: Callable[..., Any], function_name: str, sqs: Any
) -> None:
    make_function()
    _, arn = queue(sqs, f"{function_name}-src")
    created = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function_name, BatchSize=5
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert created["BatchSize"] == 5
    assert created["MaximumBatchingWindowInSeconds"] == 0
    assert created["EventSourceArn"] == arn
    assert created["FunctionArn"].endswith(f":function:{function_name}")
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{created['UUID']}")
    uuid = created["UUID"]
    got = enabled(lambda_client, uuid)
    assert got["LastProcessingResult"] == "No records processed"

    by_function = lambda_client.list_event_source_mappings(FunctionName=function_name)
    assert [m["UUID"] for m in by_function["EventSourceMappings"]] == [uuid]
    by_source = lambda_client.list_event_source_mappings(EventSourceArn=arn)
    assert [m["UUID"] for m in by_source["EventSourceMappings"]] == [uuid]

    updated = lambda_client.update_event_source_mapping(
        UUID=uuid,
        BatchSize=50,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 3},
        FilterCriteria={"Filters": [{"Pattern": '{"body": {"kind": ["a"]}}'}]},
    )
    assert updated["State"] == "Updating"
    got = enabled(lambda_client, uuid)
    assert got["BatchSize"] == 50
    assert got["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert got["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert got["FilterCriteria"] == {"Filters": [{"Pattern": '{"body": {"kind": ["a"]}}'}]}

    disabled = lambda_client.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert disabled["State"] == "Disabling"
    wait_for(
        lambda: lambda_client.get_event_source_mapping(UUID=uuid)["State"] == "Disabled",
        10,
        "Disabled",
    )

    deleted = lambda_client.delete_event_source_mapping(UUID=uuid)
    assert deleted["State"] == "Deleting"
    wait_for(
        lambda: (
            not lambda_client.list_event_source_mappings(FunctionName=function_name)[
                "EventSourceMappings"
            ]
        ),
        10,
        "the mapping to go",
    )
    assert error_of(lambda_client.get_event_source_mapping, UUID=uuid) == (
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )


def test_refusals(
    lambda_client: Any, make_function: Callable[..., Any], function_name: str, sqs: Any
) -> None:
    make_function()
    _, arn = queue(sqs, f"{function_name}-src")
    missing_queue = arn + "-missing"
    status, code, message = error_of(
        lambda_client.create_event_source_mapping,
        EventSourceArn=missing_queue,
        FunctionName=function_name,
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "NonExistentQueue" in message
    assert error_of(
        lambda_client.create_event_source_mapping,
        EventSourceArn=arn,
        FunctionName=function_name,
        BatchSize=11,
    ) == (
        400,
        "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
        "greater than 10",
    )
    assert error_of(
        lambda_client.create_event_source_mapping,
        EventSourceArn=arn,
        FunctionName=function_name,
        FilterCriteria={"Filters": [{"Pattern": '{"body": "not a list"}'}]},
    ) == (400, "InvalidParameterValueException", "Invalid filter pattern definition.")
    # A setting gureum would not act on is refused, never stored and ignored.
    assert error_of(
        lambda_client.create_event_source_mapping,
        EventSourceArn=arn,
        FunctionName=function_name,
        MetricsConfig={"Metrics": ["EventCount"]},
    ) == (
        400,
        "InvalidParameterValueException",
        "gureum does not support MetricsConfig on event source mappings yet.",
    )
    status, code, _ = error_of(
        lambda_client.create_event_source_mapping,
        EventSourceArn=arn,
        FunctionName="no-such-function",
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    first = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function_name
    )
    status, code, message = error_of(
        lambda_client.create_event_source_mapping, EventSourceArn=arn, FunctionName=function_name
    )
    assert (status, code) == (409, "ResourceConflictException")
    assert first["UUID"] in message
    # While Creating, a mapping cannot be changed (ResourceInUseException) or, once settled,
    # it can.
    enabled(lambda_client, first["UUID"])
    lambda_client.delete_event_source_mapping(UUID=first["UUID"])
    status, code, _ = error_of(lambda_client.delete_event_source_mapping, UUID=first["UUID"])
    assert (status, code) in ((400, "ResourceInUseException"), (404, "ResourceNotFoundException"))


# --- queues driving functions -----------------------------------------------------------------


def test_a_queue_drives_the_function_in_batches(
    lambda_client: Any, make_function: Callable[..., Any], function_name: str, sqs: Any
) -> None:
    sink, _ = queue(sqs, f"{function_name}-sink")
    source, arn = queue(sqs, f"{function_name}-src")
    forwarder(make_function, sink)
    bodies = [f"message {n}" for n in range(25)]
    for start in range(0, 25, 10):
        sqs.send_message_batch(
            QueueUrl=source,
            Entries=[
                {
                    "Id": str(n),
                    "MessageBody": body,
                    "MessageAttributes": {"n": {"DataType": "Number", "StringValue": str(n)}},
                }
                for n, body in enumerate(bodies[start : start + 10], start)
            ],
        )
    uuid = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function_name, BatchSize=10
    )["UUID"]
    seen = drain(sqs, sink, 25)
    assert sorted(s["record"]["body"] for s in seen) == sorted(bodies)
    assert all(1 <= s["size"] <= 10 for s in seen)
    record = seen[0]["record"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert set(record["attributes"]) >= {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["n"]["dataType"] == "Number"
    assert record["messageAttributes"]["n"]["stringValue"] == str(bodies.index(record["body"]))
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    wait_for(lambda: depth(sqs, source) == 0, 10, "the source queue to empty")
    wait_for(
        lambda: lambda_client.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK",
        10,
        "LastProcessingResult OK",
    )
    lambda_client.delete_event_source_mapping(UUID=uuid)


def test_partial_failures_go_to_the_dead_letter_queue(
    lambda_client: Any, make_function: Callable[..., Any], function_name: str, sqs: Any
) -> None:
    sink, _ = queue(sqs, f"{function_name}-sink")
    dlq, dlq_arn = queue(sqs, f"{function_name}-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    source, arn = queue(sqs, f"{function_name}-src", VisibilityTimeout="1", RedrivePolicy=redrive)
    forwarder(make_function, sink)
    bodies = ["ok 1", "fail 1", "ok 2", "fail 2", "ok 3"]
    sqs.send_message_batch(
        QueueUrl=source,
        Entries=[{"Id": str(n), "MessageBody": b} for n, b in enumerate(bodies)],
    )
    uuid = lambda_client.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=function_name,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )["UUID"]
    seen = drain(sqs, sink, 3)
    assert sorted(s["record"]["body"] for s in seen) == ["ok 1", "ok 2", "ok 3"]

    def dead() -> list[str]:
        answer = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return [m["Body"] for m in answer.get("Messages", [])]

    found: list[str] = []
    deadline = time.monotonic() + 30
    while len(found) < 2 and time.monotonic() < deadline:
        found += dead()
    assert sorted(found) == ["fail 1", "fail 2"]
    # The successes were deleted once only: nothing of them is left, and the sink got each once.
    lambda_client.delete_event_source_mapping(UUID=uuid)
    assert drain(sqs, sink, 1, timeout=2) == []


def test_a_function_error_leaves_the_batch_to_the_visibility_timeout(
    lambda_client: Any, make_function: Callable[..., Any], function_name: str, sqs: Any
) -> None:
    sink, _ = queue(sqs, f"{function_name}-sink")
    dlq, dlq_arn = queue(sqs, f"{function_name}-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    source, arn = queue(sqs, f"{function_name}-src", VisibilityTimeout="1", RedrivePolicy=redrive)
    forwarder(make_function, sink)
    sqs.send_message(QueueUrl=source, MessageBody="crash")
    uuid = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function_name, BatchSize=1
    )["UUID"]
    answer = wait_for(
        lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages"),
        30,
        "the crashing message in the dead-letter queue",
    )
    assert answer[0]["Body"] == "crash"
    got = lambda_client.get_event_source_mapping(UUID=uuid)
    assert got["LastProcessingResult"] == "PROBLEM: Function call failed"
    lambda_client.delete_event_source_mapping(UUID=uuid)


def test_filtered_out_messages_are_deleted_without_invoking(
    lambda_client: Any, make_function: Callable[..., Any], function_name: str, sqs: Any
) -> None:
    sink, _ = queue(sqs, f"{function_name}-sink")
    source, arn = queue(sqs, f"{function_name}-src")
    forwarder(make_function, sink)
    bodies = [json.dumps({"kind": "a", "n": 1}), json.dumps({"kind": "b", "n": 2}), "plain"]
    for body in bodies:
        sqs.send_message(QueueUrl=source, MessageBody=body)
    uuid = lambda_client.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=function_name,
        FilterCriteria={"Filters": [{"Pattern": '{"body": {"kind": ["a"]}}'}]},
    )["UUID"]
    seen = drain(sqs, sink, 1)
    assert [s["record"]["body"] for s in seen] == [bodies[0]]
    wait_for(lambda: depth(sqs, source) == 0, 10, "filtered messages to be deleted")
    assert drain(sqs, sink, 1, timeout=2) == []
    lambda_client.delete_event_source_mapping(UUID=uuid)


SLOW_FORWARDER = FORWARDER.replace(
    "    failures = []\n", "    import time\n    time.sleep(0.2)\n    failures = []\n"
)


def test_throttled_batches_back_off_and_are_processed_once(
    lambda_client: Any, make_function: Callable[..., Any], function_name: str, sqs: Any
) -> None:
    sink, _ = queue(sqs, f"{function_name}-sink")
    # A throttled batch left to its visibility timeout would come back after the test ended.
    source, arn = queue(sqs, f"{function_name}-src", VisibilityTimeout="120")
    make_function(
        Code={"ZipFile": zip_of({"index.py": SLOW_FORWARDER})},
        Environment={"Variables": {"SINK": sink}},
        Timeout=30,
    )
    # One environment at a time, five pollers: four of them are throttled at any moment.
    lambda_client.put_function_concurrency(
        FunctionName=function_name, ReservedConcurrentExecutions=1
    )
    bodies = [f"m{n}" for n in range(40)]
    for start in range(0, 40, 10):
        sqs.send_message_batch(
            QueueUrl=source,
            Entries=[
                {"Id": str(n), "MessageBody": b} for n, b in enumerate(bodies[start : start + 10])
            ],
        )
    uuid = lambda_client.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=function_name,
        BatchSize=2,
        ScalingConfig={"MaximumConcurrency": 5},
    )["UUID"]
    seen = drain(sqs, sink, 40, timeout=60)
    assert sorted(s["record"]["body"] for s in seen) == sorted(bodies)
    wait_for(lambda: depth(sqs, source) == 0, 10, "the source queue to empty")
    lambda_client.delete_event_source_mapping(UUID=uuid)


def test_a_batching_window_gathers_more_than_ten(
    lambda_client: Any, make_function: Callable[..., Any], function_name: str, sqs: Any
) -> None:
    sink, _ = queue(sqs, f"{function_name}-sink")
    source, arn = queue(sqs, f"{function_name}-src")
    forwarder(make_function, sink)
    for start in range(0, 15, 5):
        sqs.send_message_batch(
            QueueUrl=source,
            Entries=[{"Id": str(n), "MessageBody": f"m{start + n}"} for n in range(5)],
        )
    uuid = lambda_client.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=function_name,
        BatchSize=50,
        MaximumBatchingWindowInSeconds=1,
    )["UUID"]
    seen = drain(sqs, sink, 15)
    assert sorted(s["record"]["body"] for s in seen) == sorted(f"m{n}" for n in range(15))
    assert {s["size"] for s in seen} == {15}  # one invocation for the whole window
    lambda_client.delete_event_source_mapping(UUID=uuid)


def test_listing_is_paged_in_creation_order(
    lambda_client: Any, make_function: Callable[..., Any], function_name: str, sqs: Any
) -> None:
    make_function()
    uuids = []
    for n in range(3):
        _, arn = queue(sqs, f"{function_name}-q{n}")
        created = lambda_client.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=function_name, Enabled=False
        )
        uuids.append(created["UUID"])
    first = lambda_client.list_event_source_mappings(FunctionName=function_name, MaxItems=2)
    assert [m["UUID"] for m in first["EventSourceMappings"]] == uuids[:2]
    rest = lambda_client.list_event_source_mappings(
        FunctionName=function_name, MaxItems=2, Marker=first["NextMarker"]
    )
    assert [m["UUID"] for m in rest["EventSourceMappings"]] == uuids[2:]
    assert "NextMarker" not in rest
    # A mapping still Creating may be deleted (AWS refuses deletes only while Updating).
    for uuid in uuids:
        lambda_client.delete_event_source_mapping(UUID=uuid)
