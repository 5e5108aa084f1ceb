"""`kill -9` never leaves a partial object visible, nor loses a notification.

A private server is SIGKILLed in the middle of an upload (half its body sent) and right after
a burst of uploads whose notifications are still draining into Lambda's event queue; after a
restart on the same data directory the half upload is nowhere (no object, no spool file, no
blob) and every upload that was answered 200 reaches the function at least once.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.aws import ROLE
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

HANDLER = "def handler(event, context):\n    return event\n"


@pytest.fixture
def crashable(tmp_path: Path) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path / "data").start()
    yield process
    if process.process is not None:
        process.stop()


def blobs(data: Path) -> list[Path]:
    return [p for p in (data / "s3" / "blobs").rglob("*") if p.is_file() and p.parent.name != "tmp"]


def test_a_half_sent_upload_is_never_visible_after_kill_9(crashable: GureumProcess) -> None:
    s3 = crashable.client("s3")
    s3.create_bucket(Bucket="half")
    s3.put_object(Bucket="half", Key="whole", Body=b"kept")
    size = 32 * 1024 * 1024
    request = AWSRequest(
        "PUT",
        f"{crashable.url}/half/partial",
        headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "Content-Length": str(size)},
    )
    S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
    head = f"PUT /half/partial HTTP/1.1\r\nHost: 127.0.0.1:{crashable.port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items() if k.lower() != "host")
    with socket.create_connection(("127.0.0.1", crashable.port)) as sock:
        sock.sendall(head.encode() + b"\r\n")
        sent = 0
        while sent < size // 2:
            sock.sendall(b"x" * 65536)
            sent += 65536
        spool = crashable.data_dir / "spool"
        deadline = time.monotonic() + 10
        while not any(p.stat().st_size > 0 for p in spool.iterdir()):  # the server is writing it
            assert time.monotonic() < deadline
            time.sleep(0.05)
        crashable.kill()
    crashable.start()
    s3 = crashable.client("s3")
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket="half", Key="partial")
    assert caught.value.response["Error"]["Code"] == "404"
    assert s3.get_object(Bucket="half", Key="whole")["Body"].read() == b"kept"
    assert list((crashable.data_dir / "spool").iterdir()) == []
    assert len(blobs(crashable.data_dir)) == 1  # only the whole object's


def test_every_answered_upload_notifies_after_kill_9(crashable: GureumProcess) -> None:
    lam, s3, sqs = (crashable.client(s) for s in ("lambda", "s3", "sqs"))
    arn = lam.create_function(
        FunctionName="counted",
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": HANDLER})},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName="counted", WaiterConfig={"Delay": 0.1})
    url = sqs.create_queue(QueueName="counted-ok")["QueueUrl"]
    lam.put_function_event_invoke_config(
        FunctionName="counted",
        DestinationConfig={
            "OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:counted-ok"}
        },
    )
    s3.create_bucket(Bucket="burst")
    s3.put_bucket_notification_configuration(
        Bucket="burst",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    answered: list[str] = []

    def upload(n: int) -> None:
        s3.put_object(Bucket="burst", Key=f"k{n:03d}", Body=b"x")
        answered.append(f"k{n:03d}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(upload, range(60)))
    crashable.kill()  # at once: the outbox still holds notifications being drained
    crashable.start()
    sqs = crashable.client("sqs")
    keys: set[str] = set()
    deadline = time.monotonic() + 60
    while keys != set(answered):
        assert time.monotonic() < deadline, f"{len(set(answered) - keys)} uploads never notified"
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages", []):
            record: dict[str, Any] = json.loads(message["Body"])["requestPayload"]["Records"][0]
            keys.add(record["s3"]["object"]["key"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
