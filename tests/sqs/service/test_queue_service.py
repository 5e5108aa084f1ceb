"""The queue service in-process, over its real store and a `ManualClock`: the port Lambda's
asynchronous invocation uses (`send`, `exists`), long polls woken from other threads, and every
SQS delay on the scaled clock. Every test runs on SQLite and on PostgreSQL (the `stores` fixture):
the store's contract suite (issue #24)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from gureum.aws.errors import ClientError
from gureum.aws.sql import Backend
from gureum.clock import ManualClock
from gureum.sqs.domain.messages import MessageAttribute, md5_of_attributes
from gureum.sqs.domain.queues import QueueKey
from gureum.sqs.domain.receives import ReceiveOptions
from gureum.sqs.services.messages import OutgoingMessage
from gureum.sqs.services.queues import QueueService
from tests.support.postgres import PostgresCluster

KEY = QueueKey("123456789012", "us-east-1", "dead-letters")
ALL = ReceiveOptions(10, None, ("ApproximateReceiveCount",), ("All",))
SCALE = 0.5


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def queues(stores: Callable[[], Backend], clock: ManualClock) -> Iterator[QueueService]:
    service = QueueService(stores(), clock, SCALE, "http://127.0.0.1:4566")
    service.create_queue(KEY, {}, {})
    yield service
    service.close()


def bodies(queues: QueueService, options: ReceiveOptions = ALL) -> list[str]:
    return [d.message.body for d in queues.messages.receive_now(KEY, options).deliveries]


def test_lambda_sends_dead_letters_with_attributes(queues: QueueService) -> None:
    attributes = {"RequestID": ("String", "r-1"), "ErrorCode": ("Number", "200")}
    message_id = queues.send(KEY.account, KEY.region, KEY.arn, '{"event": 1}', attributes)
    (delivery,) = queues.messages.receive_now(KEY, ALL).deliveries
    assert (delivery.message.id, delivery.message.body) == (message_id, '{"event": 1}')
    assert delivery.message.attributes == {
        "RequestID": MessageAttribute("String", "r-1"),
        "ErrorCode": MessageAttribute("Number", "200"),
    }
    assert md5_of_attributes(delivery.message.attributes) is not None


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sqs:us-east-1:123456789012:missing",
        "arn:aws:sqs:eu-west-1:123456789012:dead-letters",  # same name, other region
        "arn:aws:sns:us-east-1:123456789012:dead-letters",
        "not an arn",
    ],
)
def test_sends_to_no_queue_are_queue_does_not_exist(queues: QueueService, arn: str) -> None:
    assert not queues.exists(KEY.account, KEY.region, arn)
    with pytest.raises(ClientError) as error:
        queues.send(KEY.account, KEY.region, arn, "x", {})
    assert (error.value.code, error.value.message) == (
        "QueueDoesNotExist",
        "The specified queue does not exist.",
    )


def test_a_send_sqs_would_refuse_raises_its_error(queues: QueueService) -> None:
    assert queues.exists(KEY.account, KEY.region, KEY.arn)
    with pytest.raises(ClientError) as error:
        queues.send(KEY.account, KEY.region, KEY.arn, "x" * 1_048_577, {})
    assert error.value.code == "InvalidParameterValue"


def test_a_send_from_another_thread_wakes_a_long_poll(queues: QueueService) -> None:
    async def poll() -> tuple[list[str], float]:
        started = time.monotonic()
        deliveries = await queues.messages.receive_message(KEY, ALL, wait_seconds=10)
        return [d.message.body for d in deliveries], time.monotonic() - started

    sender = threading.Timer(0.2, queues.send, (KEY.account, KEY.region, KEY.arn, "late", {}))
    sender.start()
    try:
        received, waited = asyncio.run(poll())
    finally:
        sender.join()
    assert received == ["late"]
    assert 0.15 < waited < 5


def test_a_send_in_another_process_wakes_a_long_poll(
    postgres: PostgresCluster, clock: ManualClock
) -> None:
    """Two processes of a cluster on one PostgreSQL database (SQLite has a single process): no
    waiter crosses between them, so the poll sees the other's send as the store's generation
    moves (its NOTIFY, heard by `follow`)."""
    from gureum.aws.postgres import PostgresBackend  # noqa: PLC0415

    url = postgres.database()
    here, there = PostgresBackend(url), PostgresBackend(url)
    polling = QueueService(here, clock, SCALE, "http://127.0.0.1:4566")
    sending = QueueService(there, clock, SCALE, "http://127.0.0.1:4566")
    polling.create_queue(KEY, {}, {})

    async def poll() -> tuple[list[str], float]:
        following = asyncio.create_task(here.follow())
        started = time.monotonic()
        try:
            deliveries = await polling.messages.receive_message(KEY, ALL, wait_seconds=10)
        finally:
            following.cancel()
        return [d.message.body for d in deliveries], time.monotonic() - started

    sender = threading.Timer(0.5, sending.send, (KEY.account, KEY.region, KEY.arn, "late", {}))
    sender.start()
    try:
        received, waited = asyncio.run(poll())
    finally:
        sender.join()
        here.close()
        there.close()
    assert received == ["late"]
    assert 0.4 < waited < 5


def test_a_deleted_queue_ends_a_long_poll(queues: QueueService) -> None:
    async def poll() -> None:
        await queues.messages.receive_message(KEY, ALL, wait_seconds=10)

    deleter = threading.Timer(0.2, queues.delete_queue, (KEY,))
    deleter.start()
    try:
        with pytest.raises(ClientError) as error:
            asyncio.run(poll())
    finally:
        deleter.join()
    assert error.value.code == "QueueDoesNotExist"


def test_visibility_and_delays_run_on_the_scaled_clock(
    queues: QueueService, clock: ManualClock
) -> None:
    queues.messages.send_messages(
        KEY, [OutgoingMessage("now"), OutgoingMessage("later", delay_seconds=30)], "me"
    )
    assert bodies(queues) == ["now"]  # hidden for 30 s x 0.5 from here on
    clock.advance(14.9)
    assert bodies(queues) == []
    clock.advance(0.2)  # 15.1 s: past both the 30 s visibility and the 30 s delay, x 0.5
    assert sorted(bodies(queues)) == ["later", "now"]
    counts = queues.get_attributes(KEY, ["ApproximateNumberOfMessagesNotVisible"])
    assert counts == {"ApproximateNumberOfMessagesNotVisible": "2"}


def test_retention_runs_on_the_scaled_clock(queues: QueueService, clock: ManualClock) -> None:
    queues.set_attributes(KEY, {"MessageRetentionPeriod": "60"})
    queues.send(KEY.account, KEY.region, KEY.arn, "old", {})
    clock.advance(29.9)
    assert queues.get_attributes(KEY, ["ApproximateNumberOfMessages"]) == {
        "ApproximateNumberOfMessages": "1"
    }
    clock.advance(0.1)  # 60 s x 0.5
    assert bodies(queues) == []
    assert queues.get_attributes(KEY, ["ApproximateNumberOfMessages"]) == {
        "ApproximateNumberOfMessages": "0"
    }


def test_messages_survive_reopening_the_store(
    stores: Callable[[], Backend], queues: QueueService, clock: ManualClock
) -> None:
    queues.send(KEY.account, KEY.region, KEY.arn, "kept", {"k": ("String", "v")})
    queues.close()
    reopened = QueueService(stores(), clock, SCALE, "http://127.0.0.1:4566")
    try:
        assert bodies(reopened) == ["kept"]
    finally:
        reopened.close()


def test_browsing_receives_nothing(queues: QueueService) -> None:
    """The console's browse: every message, in flight or not, and none of them changes."""
    for body in ("first", "second"):
        queues.send(KEY.account, KEY.region, KEY.arn, body, {})
    once = ReceiveOptions(1, None, ("ApproximateReceiveCount",), ())
    assert bodies(queues, once) == ["first"]  # now in flight
    browsed = queues.browse(KEY)
    assert [m.body for m in browsed] == ["first", "second"]
    assert [m.receive_count for m in browsed] == [1, 0]
    assert [m.receive_count for m in queues.browse(KEY)] == [1, 0]  # browsing counted nothing
    assert queues.get_attributes(KEY, ["ApproximateNumberOfMessages"]) == {
        "ApproximateNumberOfMessages": "1"
    }


def test_a_redrive_moves_dead_letters_back_to_their_source(queues: QueueService) -> None:
    source = QueueKey(KEY.account, KEY.region, "orders")
    policy = json.dumps({"deadLetterTargetArn": KEY.arn, "maxReceiveCount": 1})
    queues.create_queue(source, {"RedrivePolicy": policy, "VisibilityTimeout": "0"}, {})
    queues.send(source.account, source.region, source.arn, "order-1", {})
    options = ReceiveOptions(10, 0, ("ApproximateReceiveCount",), ())
    assert [d.message.body for d in queues.messages.receive_now(source, options).deliveries] == [
        "order-1"
    ]
    assert queues.messages.receive_now(source, options).deliveries == []  # dead-lettered
    assert [m.dead_letter_source for m in queues.browse(KEY)] == [source.arn]
    assert queues.redrive(KEY) == 1
    assert queues.browse(KEY) == []
    back = queues.messages.receive_now(source, options).deliveries
    assert [(d.message.body, d.message.receive_count) for d in back] == [("order-1", 1)]
    assert back[0].message.dead_letter_source is None


def test_only_a_dead_letter_queue_is_redriven(queues: QueueService) -> None:
    with pytest.raises(ClientError) as refused:
        queues.redrive(KEY)
    assert refused.value.code == "InvalidParameterValue"
    assert refused.value.message == (
        f"Value {KEY.arn} for parameter SourceArn is invalid. Reason: Source queue must be "
        "configured as a Dead Letter Queue."
    )
