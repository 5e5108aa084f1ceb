"""SQS on a `gureum serve --store postgresql://...`: the everyday calls work, and the messages are
PostgreSQL's rows (issue #24)."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.support.server import GureumProcess


def store_url(server: GureumProcess) -> str:
    return server.extra[server.extra.index("--store") + 1]


def counts(sqs: Any, url: str) -> tuple[str, str]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return attributes[names[0]], attributes[names[1]]


def test_queues_and_messages_live_in_postgresql(postgres_server: GureumProcess) -> None:
    sqs = postgres_server.client("sqs")
    url = sqs.create_queue(QueueName="on-postgres", Attributes={"VisibilityTimeout": "60"})[
        "QueueUrl"
    ]
    for body in ("first", "second", "third"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    assert [message["Body"] for message in received] == ["first", "second"]  # in sent order
    assert counts(sqs, url) == ("1", "2")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    assert counts(sqs, url) == ("1", "1")
    listed = sqs.list_queues(QueueNamePrefix="on-postgres")["QueueUrls"]
    assert [queue.rsplit("/", 1)[1] for queue in listed] == ["on-postgres"]
    with psycopg.connect(store_url(postgres_server)) as connection:
        rows = connection.execute(
            "SELECT m.body, m.receive_count FROM messages m JOIN queues q ON q.id = m.queue_id "
            "WHERE q.name = 'on-postgres' ORDER BY m.seq"
        ).fetchall()
    assert rows == [("second", 1), ("third", 0)]
    sqs.delete_queue(QueueUrl=url)
