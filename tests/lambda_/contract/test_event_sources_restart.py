"""Event source mappings survive their server: a restart resumes polling, and a `kill -9` in
the middle of a backlog loses no message (SQS's visibility timeout brings back what was in
flight; only a succeeded batch is deleted, so nothing is deleted twice or left behind)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.packages import zip_of
from tests.support.server import GureumProcess

pytestmark = pytest.mark.slow

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
MESSAGES = 200
FORWARDER = """\
import os, time
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    time.sleep(0.05)
    entries = [{"Id": str(n), "MessageBody": r["body"]} for n, r in enumerate(event["Records"])]
    sqs.send_message_batch(QueueUrl=os.environ["SINK"], Entries=entries)
"""


def counts(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def drain(sqs: Any, url: str, seen: Counter[str]) -> int:
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    messages = answer.get("Messages", [])
    for message in messages:
        seen[message["Body"]] += 1
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return len(messages)


def set_up(server: GureumProcess) -> tuple[str, str, str]:
    """(source URL, source ARN, sink URL), the forwarder function and its mapping."""
    sqs = server.client("sqs")
    sink: str = sqs.create_queue(QueueName="sink")["QueueUrl"]
    # 10 s of visibility, 1 s at --time-scale 0.1: a killed batch comes back soon.
    source: str = sqs.create_queue(QueueName="source", Attributes={"VisibilityTimeout": "10"})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    lam = server.client("lambda")
    lam.create_function(
        FunctionName="forwarder",
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": FORWARDER})},
        Environment={"Variables": {"SINK": sink}},
        Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName="forwarder", WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="forwarder", BatchSize=5)
    return source, arn, sink


def test_a_restart_resumes_polling_and_keeps_function_urls(tmp_path: Path) -> None:
    server = GureumProcess(tmp_path / "data", "--time-scale", "0.1").start()
    try:
        source, _, sink = set_up(server)
        url = server.client("lambda").create_function_url_config(
            FunctionName="forwarder", AuthType="NONE"
        )["FunctionUrl"]
        assert server.stop() == 0
        server.start()
        sqs, lam = server.client("sqs"), server.client("lambda")
        (mapping,) = lam.list_event_source_mappings(FunctionName="forwarder")["EventSourceMappings"]
        assert mapping["State"] in ("Creating", "Enabled")
        sqs.send_message_batch(
            QueueUrl=source,
            Entries=[{"Id": str(n), "MessageBody": f"after {n}"} for n in range(5)],
        )
        seen: Counter[str] = Counter()
        deadline = time.monotonic() + 30
        while len(seen) < 5 and time.monotonic() < deadline:
            drain(sqs, sink, seen)
        assert set(seen) == {f"after {n}" for n in range(5)}
        assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled"
        assert lam.get_function_url_config(FunctionName="forwarder")["FunctionUrl"] == url
        # The URL still names the function: it ran (and failed on an event with no Records,
        # hence AWS's 502); an unknown URL would be a 404.
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(url, timeout=30)
        failed.value.close()
        assert failed.value.code == 502
    finally:
        if server.process is not None:
            server.stop()


def test_no_message_is_lost_across_kill_9(tmp_path: Path) -> None:
    server = GureumProcess(tmp_path / "data", "--time-scale", "0.1").start()
    try:
        source, _, sink = set_up(server)
        sqs = server.client("sqs")
        lam = server.client("lambda")
        # Disabled while the backlog is sent, so the kill finds it half done.
        (mapping,) = lam.list_event_source_mappings()["EventSourceMappings"]
        deadline = time.monotonic() + 10
        while lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] != "Enabled":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        bodies = [json.dumps({"n": n}) for n in range(MESSAGES)]
        for start in range(0, MESSAGES, 10):
            sqs.send_message_batch(
                QueueUrl=source,
                Entries=[
                    {"Id": str(i), "MessageBody": b}
                    for i, b in enumerate(bodies[start : start + 10])
                ],
            )
        while lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] != "Disabled":
            time.sleep(0.05)
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
        deadline = time.monotonic() + 30
        while counts(sqs, sink) < 30:
            assert time.monotonic() < deadline, "processing did not start"
            time.sleep(0.02)
        server.kill()
        server.start()
        sqs = server.client("sqs")
        seen: Counter[str] = Counter()
        deadline = time.monotonic() + 60
        while counts(sqs, source) and time.monotonic() < deadline:
            drain(sqs, sink, seen)
        assert counts(sqs, source) == 0, "the source queue did not empty after the restart"
        while drain(sqs, sink, seen):
            pass
    finally:
        if server.process is not None:
            server.stop()
    assert set(seen) == set(bodies), f"lost: {sorted(set(bodies) - set(seen))[:10]}"
    duplicates = {body: n for body, n in seen.items() if n > 1}
    print(f"\n{MESSAGES} messages; {len(duplicates)} delivered more than once (a killed batch)")
