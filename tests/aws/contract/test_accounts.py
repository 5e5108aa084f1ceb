"""Accounts by access key, against a real server: a 12-digit key id names its account (secret
`test`), `test` stays 000000000000, and each account sees only its own resources."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.aws import aws_error
from tests.support.server import GureumProcess

A, B = "000000000000", "123456789012"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path_factory.mktemp("gureum-accounts") / "data").start()
    yield process
    process.stop()


def test_each_account_sees_its_own_queues(server: GureumProcess) -> None:
    mine = server.client("sqs")
    theirs = server.client("sqs", aws_access_key_id=B, aws_secret_access_key="test")
    url = mine.create_queue(QueueName="jobs")["QueueUrl"]
    assert A in url
    their_url = theirs.create_queue(QueueName="jobs")["QueueUrl"]
    assert B in their_url
    arn = theirs.get_queue_attributes(QueueUrl=their_url, AttributeNames=["QueueArn"])
    assert arn["Attributes"]["QueueArn"] == f"arn:aws:sqs:us-east-1:{B}:jobs"
    assert theirs.list_queues()["QueueUrls"] == [their_url]


def test_each_account_sees_its_own_functions(server: GureumProcess) -> None:
    theirs = server.client("lambda", aws_access_key_id=B, aws_secret_access_key="test")
    assert theirs.list_functions()["Functions"] == []
    assert theirs.get_account_settings()["AccountLimit"]["ConcurrentExecutions"] > 0


@pytest.mark.parametrize("key", ["12345678901", "1234567890123", "12345678901x"])
def test_other_key_ids_name_no_account(server: GureumProcess, key: str) -> None:
    client = server.client("lambda", aws_access_key_id=key, aws_secret_access_key="test")
    with aws_error("UnrecognizedClientException", 403):
        client.list_functions()


def test_a_numeric_key_needs_the_secret_test(server: GureumProcess) -> None:
    client = server.client("lambda", aws_access_key_id=B, aws_secret_access_key="other")
    with aws_error("InvalidSignatureException", 403):
        client.list_functions()
