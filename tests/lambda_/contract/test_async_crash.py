"""No accepted event is lost across `kill -9` (spec 5.1: at-least-once delivery).

A private server (`--time-scale 0.01`) accepts a few hundred Event invocations of a function
that sends its `aws_request_id` to an SQS queue of the same server (its boto3 reaches gureum
through `AWS_ENDPOINT_URL`). The server is SIGKILLed while deliveries are in flight, restarted
on the same data directory and port, and every request id that got a 202 must reach the queue at
least once. Duplicates are allowed (an attempt cut short by the kill runs again) and reported.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.packages import zip_of
from tests.support.server import GureumProcess

pytestmark = pytest.mark.slow

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
EVENTS = 300
SENDERS = 6
DELIVERED_BEFORE_KILL = 40
# Long enough that the kill finds deliveries in flight; SQS's own visibility timeout is scaled
# too, so received messages are kept invisible for 3000 s * 0.01 while they are deleted.
HANDLER = """\
import os, time
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    time.sleep(0.1)
    sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=context.aws_request_id)
    return event["n"]
"""


def queue_depth(server: GureumProcess) -> float:
    with urllib.request.urlopen(f"{server.url}/_gureum/metrics", timeout=5) as reply:
        text = reply.read().decode("utf-8")
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gureum_async_queue_depth":
                return sample.value
    raise AssertionError("no gureum_async_queue_depth gauge")


class Inbox:
    """Everything the function sent, counted by request id (received and deleted)."""

    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url
        self.seen: Counter[str] = Counter()

    def drain(self, wait: int) -> int:
        answer = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, VisibilityTimeout=3000
        )
        messages = answer.get("Messages", [])
        if messages:
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        self.seen.update(m["Body"] for m in messages)
        return len(messages)

    def count_waiting(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def accept_all(server: GureumProcess, name: str) -> list[str]:
    """EVENTS Event invocations from SENDERS threads; the request ids that got a 202."""

    def send(sender: int) -> list[str]:
        client = server.client("lambda")
        accepted = []
        try:
            for n in range(sender, EVENTS, SENDERS):
                response = client.invoke(
                    FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": n})
                )
                with response["Payload"] as stream:
                    stream.read()
                assert response["StatusCode"] == 202
                accepted.append(response["ResponseMetadata"]["RequestId"])
        finally:
            client.close()
        return accepted

    with ThreadPoolExecutor(SENDERS) as pool:
        return [rid for batch in pool.map(send, range(SENDERS)) for rid in batch]


def test_every_accepted_event_is_delivered_after_kill_9(tmp_path: Path) -> None:
    server = GureumProcess(tmp_path / "data", "--time-scale", "0.01").start()
    try:
        sqs = server.client("sqs")
        url: str = sqs.create_queue(QueueName="delivered")["QueueUrl"]
        lam = server.client("lambda")
        lam.create_function(
            FunctionName="recorder",
            Runtime="python3.12",
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": zip_of({"index.py": HANDLER})},
            Environment={"Variables": {"QUEUE_URL": url}},
            Timeout=30,
        )
        lam.get_waiter("function_active_v2").wait(
            FunctionName="recorder", WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
        )
        # Ten at a time: fewer sandboxes to start, and throttled events in the queue at the kill.
        lam.put_function_concurrency(FunctionName="recorder", ReservedConcurrentExecutions=10)
        accepted = accept_all(server, "recorder")
        assert len(set(accepted)) == EVENTS

        inbox = Inbox(sqs, url)
        deadline = time.monotonic() + 30
        while inbox.count_waiting() < DELIVERED_BEFORE_KILL:
            assert time.monotonic() < deadline, "deliveries did not start"
            time.sleep(0.02)
        before_kill = inbox.count_waiting()
        server.kill()
        assert before_kill < EVENTS, "everything was delivered before the kill; nothing in flight"
        killed_at = time.monotonic()
        server.start()
        sqs.close()  # its pooled connections went to the killed process
        sqs = server.client("sqs")
        inbox.sqs = sqs

        missing = set(accepted)
        deadline = time.monotonic() + 90  # generous: a loaded machine (two test processes)
        while missing:
            assert time.monotonic() < deadline, f"{len(missing)} accepted events never delivered"
            inbox.drain(wait=1)
            missing -= set(inbox.seen)
        deadline = time.monotonic() + 10
        while queue_depth(server) != 0:
            assert time.monotonic() < deadline, "the event queue did not empty"
            time.sleep(0.1)
        recovered_in = time.monotonic() - killed_at
        while inbox.drain(wait=1):  # late duplicates, if any
            pass
    finally:
        if server.process is not None:
            server.stop()

    assert missing == set()
    unexpected = set(inbox.seen) - set(accepted)
    assert unexpected == set(), "the function ran for events nobody sent"
    duplicates = {rid: count for rid, count in inbox.seen.items() if count > 1}
    print(
        f"\n{EVENTS} accepted; {before_kill} delivered before kill -9; the rest within "
        f"{recovered_in:.1f} s of it; {sum(inbox.seen.values())} deliveries in all; "
        f"{len(duplicates)} delivered more than once: {sorted(duplicates.items())}"
    )
