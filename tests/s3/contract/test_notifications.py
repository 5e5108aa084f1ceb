"""S3 event notifications to Lambda, end to end: an upload or a delete becomes an Event
invocation in Lambda's durable queue, with AWS's event record; the function's on-success
destination (an SQS queue) shows what it received."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import ROLE
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

WAIT = {"Delay": 0.1, "MaxAttempts": 300}
HANDLER = "def handler(event, context):\n    return event\n"


@dataclass
class Env:
    server: GureumProcess
    s3: Any
    lam: Any
    sqs: Any

    def function(self, name: str) -> str:
        arn: str = self.lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": zip_of({"index.py": HANDLER})},
        )["FunctionArn"]
        self.lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAIT)
        return arn

    def success_queue(self, function: str) -> str:
        url: str = self.sqs.create_queue(QueueName=f"{function}-ok")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        self.lam.put_function_event_invoke_config(
            FunctionName=function,
            DestinationConfig={"OnSuccess": {"Destination": arn["Attributes"]["QueueArn"]}},
        )
        return url

    def received(self, url: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The S3 events the function received (its on-success records' request payloads)."""
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(events) < count:
            assert time.monotonic() < deadline, f"{len(events)} of {count} events arrived"
            answer = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for message in answer.get("Messages", []):
                events.append(json.loads(message["Body"])["requestPayload"])
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return events


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    process = GureumProcess(tmp_path_factory.mktemp("s3-events") / "data").start()
    yield Env(process, process.client("s3"), process.client("lambda"), process.client("sqs"))
    process.stop()


def configure(env: Env, bucket: str, arn: str, events: list[str], **rules: str) -> None:
    config: dict[str, Any] = {"LambdaFunctionArn": arn, "Events": events, "Id": "on-upload"}
    if rules:
        config["Filter"] = {
            "Key": {"FilterRules": [{"Name": k, "Value": v} for k, v in rules.items()]}
        }
    env.s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [config]}
    )


def test_an_upload_invokes_the_function_with_awss_event_record(env: Env) -> None:
    arn = env.function("on-upload")
    queue = env.success_queue("on-upload")
    env.s3.create_bucket(Bucket="uploads")
    configure(env, "uploads", arn, ["s3:ObjectCreated:*"], prefix="in/", suffix=".txt")
    got = env.s3.get_bucket_notification_configuration(Bucket="uploads")
    config = got["LambdaFunctionConfigurations"][0]
    assert (config["Id"], config["LambdaFunctionArn"], config["Events"]) == (
        "on-upload",
        arn,
        ["s3:ObjectCreated:*"],
    )
    env.s3.put_object(Bucket="uploads", Key="in/a file.txt", Body=b"hello")
    env.s3.put_object(Bucket="uploads", Key="in/skipped.bin", Body=b"no")  # suffix does not match
    env.s3.put_object(Bucket="uploads", Key="other/x.txt", Body=b"no")  # prefix does not match
    (event,) = env.received(queue, 1)
    (record,) = event["Records"]
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "us-east-1"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["configurationId"] == "on-upload"
    assert record["s3"]["bucket"] == {
        "name": "uploads",
        "ownerIdentity": record["s3"]["bucket"]["ownerIdentity"],
        "arn": "arn:aws:s3:::uploads",
    }
    obj = record["s3"]["object"]
    assert obj["key"] == "in/a+file.txt"  # URL-encoded as S3 sends it
    assert unquote_plus(obj["key"]) == "in/a file.txt"
    assert (obj["size"], obj["eTag"]) == (5, "5d41402abc4b2a76b9719d911017c592")
    assert len(obj["sequencer"]) == 16
    assert env.sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages") is None


def test_sub_events_copies_multipart_and_deletes(env: Env) -> None:
    arn = env.function("on-change")
    queue = env.success_queue("on-change")
    env.s3.create_bucket(Bucket="changes")
    env.s3.put_bucket_notification_configuration(
        Bucket="changes",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": arn, "Events": ["s3:ObjectRemoved:*"], "Id": "gone"},
                {
                    "LambdaFunctionArn": arn,
                    "Events": ["s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload"],
                    "Id": "made",
                },
            ]
        },
    )
    env.s3.put_object(Bucket="changes", Key="plain", Body=b"x")  # Put: not subscribed
    env.s3.copy_object(Bucket="changes", Key="copy", CopySource="changes/plain")
    upload = env.s3.create_multipart_upload(Bucket="changes", Key="parts")["UploadId"]
    part = env.s3.upload_part(
        Bucket="changes", Key="parts", UploadId=upload, PartNumber=1, Body=b"p"
    )
    env.s3.complete_multipart_upload(
        Bucket="changes",
        Key="parts",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    env.s3.delete_objects(Bucket="changes", Delete={"Objects": [{"Key": "plain"}]})
    records = [e["Records"][0] for e in env.received(queue, 3)]
    seen = {(r["eventName"], r["s3"]["object"]["key"], r["s3"]["configurationId"]) for r in records}
    assert seen == {
        ("ObjectCreated:Copy", "copy", "made"),
        ("ObjectCreated:CompleteMultipartUpload", "parts", "made"),
        ("ObjectRemoved:Delete", "plain", "gone"),
    }
    removed = next(r for r in records if r["eventName"] == "ObjectRemoved:Delete")
    assert "size" not in removed["s3"]["object"]


def test_configurations_are_validated(env: Env) -> None:
    env.s3.create_bucket(Bucket="validated")
    missing = "arn:aws:lambda:us-east-1:000000000000:function:no-such-function"
    with pytest.raises(ClientError) as caught:
        configure(env, "validated", missing, ["s3:ObjectCreated:*"])
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidArgument",
        "Unable to validate the following destination configurations",
    )
    arn = env.function("validated-fn")
    with pytest.raises(ClientError) as caught:
        configure(env, "validated", arn, ["s3:ObjectCreated:Nope"])
    assert caught.value.response["Error"]["Code"] == "InvalidArgument"
    with pytest.raises(ClientError) as caught:
        env.s3.put_bucket_notification_configuration(
            Bucket="validated",
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": "arn:aws:sqs:us-east-1:000000000000:q",
                        "Events": ["s3:ObjectCreated:*"],
                    }
                ]
            },
        )
    assert caught.value.response["Error"]["Code"] == "NotImplemented"
    assert "LambdaFunctionConfigurations" not in env.s3.get_bucket_notification_configuration(
        Bucket="validated"
    )
