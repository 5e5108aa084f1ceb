"""SQS over the json protocol, driven with boto3 against a real server: queues, messages, long
polling, receipts, batches, and the exact errors, as botocore's modeled exceptions."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.cli import run_aws
from tests.support.server import GureumProcess

ACCOUNT = "000000000000"
_numbers = itertools.count()
# Published by the aws-md5-of-message-attributes npm package and checked in tests/unit.
ATTRIBUTES = {
    "attribName1": {"DataType": "String", "StringValue": "attribValue 1"},
    "customNumberTypeAttrib": {
        "DataType": "Number.float",
        "StringValue": "4563442423554324324264524243.32543234",
    },
    "binaryAttribute": {"DataType": "Binary", "BinaryValue": b"Hello binary world!"},
}
MD5_OF_ATTRIBUTES = "c932db14a896c663f83c260297d594ff"
MD5_OF_FIRST_ATTRIBUTE = "19e27d4e946b072f3f58da80d94fd778"
# Private servers here run no functions, so they skip the sandbox's start-up work.
NO_SANDBOX = ("--isolation", "none")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    """This module's own server: SQS needs no sandbox, so none of its start-up work."""
    process = GureumProcess(tmp_path_factory.mktemp("gureum-sqs") / "data", *NO_SANDBOX).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def sqs(server: GureumProcess) -> Any:
    return server.client("sqs")


@pytest.fixture
def queue_name(request: pytest.FixtureRequest) -> str:
    """A fresh name per test, so tests share one server without sharing queues."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '-', request.node.name)[:60]}-{next(_numbers)}"


@pytest.fixture
def queue_url(sqs: Any, queue_name: str) -> str:
    url: str = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    return url


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    """(code, message) as botocore reports them: for SQS's modeled errors the code is the
    query-protocol one from `x-amzn-query-error`, as from AWS (boto/botocore#3515)."""
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def count(sqs: Any, url: str, name: str = "ApproximateNumberOfMessages") -> int:
    return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])["Attributes"][name])


# --- queues ----------------------------------------------------------------------------------


def test_create_is_idempotent_and_urls_point_at_gureum(
    sqs: Any, server: GureumProcess, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    assert url == f"{server.url}/{ACCOUNT}/{queue_name}"
    assert sqs.create_queue(QueueName=queue_name)["QueueUrl"] == url
    again = sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": "60"})
    assert again["QueueUrl"] == url
    assert sqs.get_queue_url(QueueName=queue_name)["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.QueueNameExists) as raised:
        sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": "30"})
    assert error_of(raised) == (
        "QueueAlreadyExists",
        "A queue already exists with the same name and a different value for attribute "
        "VisibilityTimeout",
    )


def test_a_missing_queue_is_queue_does_not_exist(sqs: Any, server: GureumProcess) -> None:
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as raised:
        sqs.get_queue_url(QueueName="never-created")
    assert error_of(raised) == (
        "AWS.SimpleQueueService.NonExistentQueue",
        "The specified queue does not exist.",
    )
    error = raised.value.response["Error"]
    assert (error["QueryErrorCode"], error["Type"]) == ("QueueDoesNotExist", "Sender")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    url = f"{server.url}/{ACCOUNT}/never-created"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url, MessageBody="x")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_any_host_in_a_queue_url_reaches_the_queue(sqs: Any, queue_name: str) -> None:
    sqs.create_queue(QueueName=queue_name)
    elsewhere = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{queue_name}"
    sqs.send_message(QueueUrl=elsewhere, MessageBody="hi")
    assert count(sqs, elsewhere) == 1


def test_list_queues_by_prefix_in_pages(sqs: Any, queue_name: str) -> None:
    urls = [sqs.create_queue(QueueName=f"{queue_name}-{i}")["QueueUrl"] for i in range(3)]
    assert sqs.list_queues(QueueNamePrefix=queue_name)["QueueUrls"] == urls
    first = sqs.list_queues(QueueNamePrefix=queue_name, MaxResults=2)
    assert first["QueueUrls"] == urls[:2]
    rest = sqs.list_queues(QueueNamePrefix=queue_name, MaxResults=2, NextToken=first["NextToken"])
    assert rest["QueueUrls"] == urls[2:]
    assert "NextToken" not in rest
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=f"{queue_name}-none")


def test_queue_attributes(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(
        QueueName=queue_name, Attributes={"DelaySeconds": "0", "MaximumMessageSize": "2048"}
    )["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    created = int(attributes.pop("CreatedTimestamp"))
    assert abs(created - time.time()) < 60
    assert int(attributes.pop("LastModifiedTimestamp")) == created
    assert attributes == {
        "QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue_name}",
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
        "ApproximateNumberOfMessagesDelayed": "0",
        "DelaySeconds": "0",
        "MaximumMessageSize": "2048",
        "MessageRetentionPeriod": "345600",
        "ReceiveMessageWaitTimeSeconds": "0",
        "VisibilityTimeout": "30",
        "SqsManagedSseEnabled": "true",
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "45"})
    assert count(sqs, url, "VisibilityTimeout") == 45
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)
    with pytest.raises(sqs.exceptions.InvalidAttributeValue) as raised:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "43201"})
    assert error_of(raised) == (
        "InvalidAttributeValue",
        "Invalid value for the parameter VisibilityTimeout.",
    )


def test_fifo_queues_are_refused_clearly(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.UnsupportedOperation) as raised:
        sqs.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})
    assert "FIFO queues" in error_of(raised)[1]


def test_tags(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name, tags={"team": "core"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"env": "test"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "test"}


def test_purge_then_purge_again_too_soon(sqs: Any, queue_url: str, queue_name: str) -> None:
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    sqs.purge_queue(QueueUrl=queue_url)
    assert count(sqs, queue_url) == 0
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as raised:
        sqs.purge_queue(QueueUrl=queue_url)
    assert error_of(raised) == (
        "AWS.SimpleQueueService.PurgeQueueInProgress",
        f"Only one PurgeQueue operation on {queue_name} is allowed every 60 seconds.",
    )


def test_delete_queue(sqs: Any, queue_url: str, queue_name: str) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody="gone with it")
    sqs.delete_queue(QueueUrl=queue_url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=queue_name)
    sqs.create_queue(QueueName=queue_name)
    assert count(sqs, queue_url) == 0


# --- messages --------------------------------------------------------------------------------


def test_send_and_receive_with_attributes_and_digests(sqs: Any, queue_url: str) -> None:
    body = "Information about the largest city in Any Region. 서울"
    sent = sqs.send_message(QueueUrl=queue_url, MessageBody=body, MessageAttributes=ATTRIBUTES)
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == MD5_OF_ATTRIBUTES

    received = sqs.receive_message(
        QueueUrl=queue_url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )
    (message,) = received["Messages"]
    assert message["MessageId"] == sent["MessageId"]
    assert (message["Body"], message["MD5OfBody"]) == (body, sent["MD5OfMessageBody"])
    assert message["MessageAttributes"] == ATTRIBUTES
    assert message["MD5OfMessageAttributes"] == MD5_OF_ATTRIBUTES
    system = message["Attributes"]
    assert abs(int(system["SentTimestamp"]) / 1000 - time.time()) < 60
    assert int(system["ApproximateFirstReceiveTimestamp"]) >= int(system["SentTimestamp"])
    assert (system["ApproximateReceiveCount"], system["SenderId"]) == ("1", ACCOUNT)

    # Shown again at once; a receive that asks for one attribute gets that attribute's digest.
    sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    again = sqs.receive_message(
        QueueUrl=queue_url,
        MessageAttributeNames=["attribName1"],
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    )["Messages"][0]
    assert again["MessageAttributes"] == {"attribName1": ATTRIBUTES["attribName1"]}
    assert again["MD5OfMessageAttributes"] == MD5_OF_FIRST_ATTRIBUTE
    assert again["Attributes"] == {"ApproximateReceiveCount": "2"}
    assert again["ReceiptHandle"] != message["ReceiptHandle"]


def test_a_plain_receive_shows_no_attributes(sqs: Any, queue_url: str) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody="x", MessageAttributes=ATTRIBUTES)
    (message,) = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    assert "Attributes" not in message
    assert "MessageAttributes" not in message
    assert "MD5OfMessageAttributes" not in message


def test_counts_of_visible_in_flight_and_delayed(sqs: Any, queue_url: str) -> None:
    for body in ("one", "two"):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    sqs.send_message(QueueUrl=queue_url, MessageBody="later", DelaySeconds=900)
    assert len(sqs.receive_message(QueueUrl=queue_url)["Messages"]) == 1
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"],
        attributes["ApproximateNumberOfMessagesNotVisible"],
        attributes["ApproximateNumberOfMessagesDelayed"],
    ) == ("1", "1", "1")


def test_up_to_ten_messages_per_receive(sqs: Any, queue_url: str) -> None:
    sqs.send_message_batch(
        QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(10)]
    )
    sqs.send_message(QueueUrl=queue_url, MessageBody="10")
    first = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    second = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(int(m["Body"]) for m in first + second) == list(range(11))
    assert len(first) == 10


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (
            {"MaxNumberOfMessages": 11},
            "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 "
            "and 10, if provided.",
        ),
        (
            {"WaitTimeSeconds": 21},
            "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, "
            "if provided.",
        ),
        (
            {"VisibilityTimeout": 43201},
            "Value 43201 for parameter VisibilityTimeout is invalid. Reason: Must be between 0 "
            "and 43200, if provided.",
        ),
    ],
)
def test_receive_parameters_out_of_range(
    sqs: Any, queue_url: str, parameters: dict[str, int], message: str
) -> None:
    with pytest.raises(ClientError) as raised:
        sqs.receive_message(QueueUrl=queue_url, **parameters)
    assert error_of(raised) == ("InvalidParameterValue", message)


def test_refused_messages(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name, Attributes={"MaximumMessageSize": "1024"})[
        "QueueUrl"
    ]
    with pytest.raises(ClientError) as raised:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)
    assert error_of(raised) == (
        "InvalidParameterValue",
        "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.",
    )
    with pytest.raises(sqs.exceptions.InvalidMessageContents):
        sqs.send_message(QueueUrl=url, MessageBody="\x00")
    with pytest.raises(ClientError) as raised:
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert error_of(raised)[0] == "InvalidParameterValue"


def test_receipt_handles(sqs: Any, queue_url: str) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody="x")
    handle = sqs.receive_message(QueueUrl=queue_url)["Messages"][0]["ReceiptHandle"]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)  # again: succeeds, as in SQS
    assert count(sqs, queue_url, "ApproximateNumberOfMessagesNotVisible") == 0
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as raised:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle="garbage")
    assert error_of(raised) == (
        "ReceiptHandleIsInvalid",
        'The input receipt handle "garbage" is not a valid receipt handle.',
    )
    with pytest.raises(ClientError) as raised:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=5)
    assert error_of(raised) == (
        "InvalidParameterValue",
        f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist "
        "or is not available for visibility timeout change.",
    )


def test_only_the_latest_receipt_deletes(sqs: Any, queue_url: str) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody="x")
    old = sqs.receive_message(QueueUrl=queue_url)["Messages"][0]["ReceiptHandle"]
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=old, VisibilityTimeout=0)
    new = sqs.receive_message(QueueUrl=queue_url)["Messages"][0]["ReceiptHandle"]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=old)
    assert count(sqs, queue_url, "ApproximateNumberOfMessagesNotVisible") == 1
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=new)
    assert count(sqs, queue_url, "ApproximateNumberOfMessagesNotVisible") == 0


def test_batches(sqs: Any, queue_url: str) -> None:
    sent = sqs.send_message_batch(
        QueueUrl=queue_url,
        Entries=[
            {"Id": "a", "MessageBody": "first", "MessageAttributes": ATTRIBUTES},
            {"Id": "b", "MessageBody": ""},
            {"Id": "c", "MessageBody": "third"},
        ],
    )
    assert [(e["Id"], e.get("MD5OfMessageAttributes")) for e in sent["Successful"]] == [
        ("a", MD5_OF_ATTRIBUTES),
        ("c", None),
    ]
    assert sent["Failed"] == [
        {
            "Id": "b",
            "SenderFault": True,
            "Code": "MissingParameter",
            "Message": "The request must contain the parameter MessageBody.",
        }
    ]
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    entries = [{"Id": f"m{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    deleted = sqs.delete_message_batch(
        QueueUrl=queue_url, Entries=[*entries, {"Id": "bad", "ReceiptHandle": "garbage"}]
    )
    assert [e["Id"] for e in deleted["Successful"]] == ["m0", "m1"]
    assert [(e["Id"], e["Code"]) for e in deleted["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.send_message_batch(QueueUrl=queue_url, Entries=[])
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct) as raised:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[entries[0], entries[0]])
    assert error_of(raised) == (
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        "Id m0 repeated.",
    )


# --- long polling ----------------------------------------------------------------------------


def test_long_poll_returns_as_soon_as_another_thread_sends(
    sqs: Any, server: GureumProcess, queue_url: str
) -> None:
    other = server.client("sqs")  # boto3 clients are not shared across threads
    sender = threading.Timer(0.5, lambda: other.send_message(QueueUrl=queue_url, MessageBody="hi"))
    started = time.monotonic()
    sender.start()
    try:
        received = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=10)
    finally:
        sender.join()
    elapsed = time.monotonic() - started
    assert [m["Body"] for m in received["Messages"]] == ["hi"]
    assert 0.4 < elapsed < 5


def test_long_poll_of_an_empty_queue_waits_its_time(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name, Attributes={"ReceiveMessageWaitTimeSeconds": "1"})[
        "QueueUrl"
    ]
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # the queue's wait: 1 s
    assert 0.9 < time.monotonic() - started < 5
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert time.monotonic() - started < 0.9


def test_many_long_polls_wait_without_holding_threads(
    sqs: Any, server: GureumProcess, queue_url: str
) -> None:
    """More concurrent long polls than the server has worker threads (8) all get served."""
    results: list[int] = []

    def poll() -> None:
        client = server.client("sqs")
        reply = client.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)
        results.append(len(reply.get("Messages", [])))

    pollers = [threading.Thread(target=poll) for _ in range(12)]
    for poller in pollers:
        poller.start()
    time.sleep(0.5)  # let them all reach the server and wait
    started = time.monotonic()
    assert sqs.list_queues(QueueNamePrefix="x-nothing").get("QueueUrls") is None
    assert time.monotonic() - started < 2  # the server still answers others at once
    sqs.send_message_batch(
        QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(10)]
    )
    sqs.send_message_batch(
        QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(2)]
    )
    for poller in pollers:
        poller.join()
    assert sum(results) == 12


# --- delays on the scaled clock: a private server with --time-scale 0.01 ----------------------


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    """30 s of visibility timeout last 0.3 s here; long polls still wait real seconds."""
    data = tmp_path_factory.mktemp("gureum-sqs-fast") / "data"
    process = GureumProcess(data, "--time-scale", "0.01", *NO_SANDBOX).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def fast_sqs(fast: GureumProcess) -> Any:
    return fast.client("sqs")


def test_a_message_reappears_after_its_visibility_timeout(fast_sqs: Any, queue_name: str) -> None:
    url = fast_sqs.create_queue(QueueName=queue_name)["QueueUrl"]  # VisibilityTimeout 30: 0.3 s
    fast_sqs.send_message(QueueUrl=url, MessageBody="work")
    before = time.monotonic()
    first = fast_sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert "Messages" not in fast_sqs.receive_message(QueueUrl=url)
    again = fast_sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=10, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"][0]
    assert 0.29 < time.monotonic() - before < 5  # the long poll woke when it reappeared
    assert again["MessageId"] == first["MessageId"]
    assert again["Attributes"] == {"ApproximateReceiveCount": "2"}


def test_delay_seconds_run_on_the_scaled_clock(fast_sqs: Any, queue_name: str) -> None:
    url = fast_sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    before = time.monotonic()
    fast_sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)  # 0.6 s
    assert count(fast_sqs, url, "ApproximateNumberOfMessagesDelayed") == 1
    assert "Messages" not in fast_sqs.receive_message(QueueUrl=url)
    received = fast_sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
    assert [m["Body"] for m in received["Messages"]] == ["later"]
    assert 0.59 < time.monotonic() - before < 5


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> float:
    """Polls `check` until it holds; returns the seconds that took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.02)
    return time.monotonic() - started


def test_retention_and_the_purge_interval_run_on_the_scaled_clock(
    fast_sqs: Any, queue_name: str
) -> None:
    url = fast_sqs.create_queue(QueueName=queue_name, Attributes={"MessageRetentionPeriod": "60"})[
        "QueueUrl"
    ]
    before = time.monotonic()
    fast_sqs.send_message(QueueUrl=url, MessageBody="short-lived")
    assert count(fast_sqs, url) == 1
    wait_until(lambda: count(fast_sqs, url) == 0)
    assert time.monotonic() - before > 0.59

    fast_sqs.purge_queue(QueueUrl=url)
    before = time.monotonic()

    def purged() -> bool:
        try:
            fast_sqs.purge_queue(QueueUrl=url)
        except fast_sqs.exceptions.PurgeQueueInProgress:
            return False
        return True

    wait_until(purged)
    assert time.monotonic() - before > 0.55


def test_redrive_to_a_dead_letter_queue(fast_sqs: Any, queue_name: str) -> None:
    dlq_url = fast_sqs.create_queue(QueueName=f"{queue_name}-dlq")["QueueUrl"]
    dlq_arn = fast_sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    url = fast_sqs.create_queue(
        QueueName=queue_name, Attributes={"VisibilityTimeout": "10", "RedrivePolicy": policy}
    )["QueueUrl"]
    shown = fast_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
    assert json.loads(shown["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": 1,
    }
    sent = fast_sqs.send_message(QueueUrl=url, MessageBody="poison", MessageAttributes=ATTRIBUTES)
    assert len(fast_sqs.receive_message(QueueUrl=url)["Messages"]) == 1
    # Visible again after 0.1 s, received once already: the next receive moves it instead.
    assert "Messages" not in fast_sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    (dead,) = fast_sqs.receive_message(
        QueueUrl=dlq_url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert (dead["MessageId"], dead["Body"]) == (sent["MessageId"], "poison")
    assert dead["MD5OfMessageAttributes"] == MD5_OF_ATTRIBUTES
    assert dead["Attributes"]["DeadLetterQueueSourceArn"] == dlq_arn.replace("-dlq", "")
    assert fast_sqs.list_dead_letter_source_queues(QueueUrl=dlq_url)["queueUrls"] == [url]

    missing = policy.replace(f"{queue_name}-dlq", "no-such-queue")
    with pytest.raises(ClientError) as raised:
        fast_sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": missing})
    assert error_of(raised) == (
        "InvalidParameterValue",
        f"Value {missing} for parameter RedrivePolicy is invalid. Reason: Dead letter target "
        "does not exist.",
    )


# --- durability --------------------------------------------------------------------------------


def test_messages_survive_a_restart_and_a_kill(data_dir: Path) -> None:
    process = GureumProcess(data_dir, *NO_SANDBOX).start()
    try:
        sqs = process.client("sqs")
        url = sqs.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "600"})[
            "QueueUrl"
        ]
        for i in range(9):
            sqs.send_message(QueueUrl=url, MessageBody=f"plain {i}")
        sqs.send_message(QueueUrl=url, MessageBody="with attributes", MessageAttributes=ATTRIBUTES)
        (first,) = sqs.receive_message(QueueUrl=url)["Messages"]
        assert first["Body"] == "plain 0"

        process.stop()
        process.start()
        sqs = process.client("sqs")
        assert count(sqs, url) == 9
        assert count(sqs, url, "ApproximateNumberOfMessagesNotVisible") == 1  # still hidden
        sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])  # still valid
        assert count(sqs, url, "ApproximateNumberOfMessagesNotVisible") == 0

        for i in range(50):
            sqs.send_message(QueueUrl=url, MessageBody=f"acked {i}")
        process.kill()  # SIGKILL: every acknowledged send must already be on disk
        process.start()
        sqs = process.client("sqs")
        received: dict[str, Any] = {}
        while messages := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages"):
            received.update((m["Body"], m) for m in messages)
        expected = [f"plain {i}" for i in range(1, 9)] + [f"acked {i}" for i in range(50)]
        assert sorted(received) == sorted([*expected, "with attributes"])
        assert received["with attributes"]["MD5OfMessageAttributes"] == MD5_OF_ATTRIBUTES
    finally:
        if process.process is not None:
            process.stop()


# --- the AWS CLI -------------------------------------------------------------------------------


def aws_cli(server: GureumProcess, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`aws --endpoint-url <gureum> sqs ...`, isolated from the host's AWS configuration."""
    return run_aws(server, home, "sqs", *args)


def test_the_aws_cli_round_trip(server: GureumProcess, tmp_path: Path, queue_name: str) -> None:
    def aws(*args: str) -> Any:
        done = aws_cli(server, tmp_path, *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    url = aws("create-queue", "--queue-name", queue_name)["QueueUrl"]
    assert url == f"{server.url}/{ACCOUNT}/{queue_name}"
    attributes = {"City": {"DataType": "String", "StringValue": "Any City"}}
    sent = aws(
        "send-message",
        "--queue-url",
        url,
        "--message-body",
        "Information about the largest city in Any Region.",
        "--message-attributes",
        json.dumps(attributes),
    )
    received = aws(
        "receive-message",
        "--queue-url",
        url,
        "--attribute-names",
        "All",
        "--message-attribute-names",
        "All",
        "--wait-time-seconds",
        "1",
    )
    (message,) = received["Messages"]
    assert message["MessageId"] == sent["MessageId"]
    assert message["MessageAttributes"] == attributes
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    aws("delete-message", "--queue-url", url, "--receipt-handle", message["ReceiptHandle"])
    shown = aws("get-queue-attributes", "--queue-url", url, "--attribute-names", "All")
    assert shown["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"

    missing = aws_cli(server, tmp_path, "get-queue-url", "--queue-name", f"{queue_name}-missing")
    assert missing.returncode != 0
    assert (
        "An error occurred (AWS.SimpleQueueService.NonExistentQueue) when calling the GetQueueUrl "
        "operation: The specified queue does not exist." in missing.stderr
    )
