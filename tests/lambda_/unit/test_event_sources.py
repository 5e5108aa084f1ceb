"""SQS event source mappings' pure core: settings rules, the state machine, the SQS event
record, filtering of a batch, and what a function's answer deletes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.event_filters import parse_patterns
from gureum.lambda_.domain.event_sources import (
    EventSourceMapping,
    IllegalTransition,
    MappingSettings,
    MappingState,
    QueuedMessage,
    ResourceInUse,
    check_settings,
    handles_to_delete,
    pollers_wanted,
    split_batch,
    sqs_record,
    transition,
)

S = MappingState
ARN = "arn:aws:sqs:us-east-1:000000000000:q"


def mapping(state: MappingState, enabled: bool = True) -> EventSourceMapping:
    return EventSourceMapping(
        "u-1",
        "000000000000",
        "us-east-1",
        "f",
        None,
        "arn:aws:lambda:us-east-1:000000000000:function:f",
        ARN,
        MappingSettings(enabled=enabled),
        state,
        "USER_INITIATED",
        0.0,
    )


# --- settings ---------------------------------------------------------------------------------

SETTINGS = [
    (MappingSettings(batch_size=10), False, None),
    (MappingSettings(batch_size=10_000, window=1), False, None),
    (
        MappingSettings(batch_size=11),
        False,
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
        "greater than 10",
    ),
    (MappingSettings(batch_size=11, window=5), True, "BatchSize must be between 1 and 10"),
    (MappingSettings(window=5), True, "Batching window is not supported for FIFO queues"),
    (MappingSettings(max_concurrency=1), False, "MaximumConcurrency must be between 2 and 1000."),
    (MappingSettings(filters=('{"body": 1}',)), False, "Invalid filter pattern definition."),
]


@pytest.mark.parametrize(("settings", "fifo", "error"), SETTINGS)
def test_settings_rules(settings: MappingSettings, fifo: bool, error: str | None) -> None:
    if error is None:
        assert check_settings(settings, fifo) == settings
    else:
        with pytest.raises(InvalidParameterValue) as caught:
            check_settings(settings, fifo)
        assert caught.value.message.startswith(error)


@pytest.mark.parametrize(
    ("depth", "batch", "ceiling", "wanted"),
    [(0, 10, 5, 1), (10, 10, 5, 1), (11, 10, 5, 2), (1000, 10, 5, 5), (1000, 10, 50, 50)],
)
def test_pollers_follow_the_backlog_up_to_the_ceiling(
    depth: int, batch: int, ceiling: int, wanted: int
) -> None:
    assert pollers_wanted(depth, batch, ceiling) == wanted


# --- the lifecycle ----------------------------------------------------------------------------


def test_creating_settles_to_enabled_or_disabled() -> None:
    assert mapping(S.CREATING).settled(1.0).state is S.ENABLED
    assert mapping(S.CREATING, enabled=False).settled(1.0).state is S.DISABLED


def test_an_update_goes_through_updating() -> None:
    updated = mapping(S.ENABLED).updated(MappingSettings(batch_size=5), 2.0)
    assert (updated.state, updated.last_modified) == (S.UPDATING, 2.0)
    assert updated.settled(3.0).state is S.ENABLED


def test_toggling_enabled_goes_through_enabling_and_disabling() -> None:
    disabling = mapping(S.ENABLED).updated(MappingSettings(enabled=False), 1.0)
    assert disabling.state is S.DISABLING
    disabled = disabling.settled(2.0)
    assert disabled.state is S.DISABLED
    enabling = disabled.updated(MappingSettings(enabled=True), 3.0)
    assert enabling.state is S.ENABLING
    assert enabling.settled(4.0).state is S.ENABLED
    # Toggled back before it settled.
    assert enabling.updated(MappingSettings(enabled=False), 5.0).state is S.DISABLING
    assert enabling.updated(MappingSettings(batch_size=3), 5.0).state is S.UPDATING


@pytest.mark.parametrize("state", [S.CREATING, S.UPDATING, S.DELETING])
def test_busy_mappings_refuse_updates(state: MappingState) -> None:
    with pytest.raises(ResourceInUse):
        mapping(state).updated(MappingSettings(), 1.0)


@pytest.mark.parametrize("state", [S.UPDATING, S.DELETING])
def test_updating_and_deleting_mappings_refuse_deletes(state: MappingState) -> None:
    with pytest.raises(ResourceInUse):
        mapping(state).deleting(1.0)


@pytest.mark.parametrize("state", [S.CREATING, S.ENABLED, S.DISABLED, S.ENABLING])
def test_other_mappings_may_be_deleted(state: MappingState) -> None:
    assert mapping(state).deleting(1.0).state is S.DELETING


def test_illegal_transitions_raise() -> None:
    with pytest.raises(IllegalTransition):
        transition(S.DELETING, S.ENABLED)
    with pytest.raises(IllegalTransition):
        transition(S.DISABLED, S.ENABLED)
    assert transition(S.ENABLED, S.DELETING) is S.DELETING


def test_polling_states() -> None:
    assert mapping(S.CREATING).polling
    assert not mapping(S.CREATING, enabled=False).polling
    assert mapping(S.ENABLED).polling
    assert not mapping(S.DISABLED).polling
    assert not mapping(S.DELETING).polling


# --- the event --------------------------------------------------------------------------------


def message(n: int, body: str = "hello") -> QueuedMessage:
    return QueuedMessage(
        f"id-{n}",
        f"handle-{n}",
        body,
        1_700_000_000_000,
        "000000000000",
        2,
        1_700_000_000_500,
        {"s": ("String", "v", None), "b": ("Binary", None, b"\x00\x01")},
    )


def test_sqs_record_has_aws_shape() -> None:
    record = sqs_record(message(1), ARN, "us-east-1")
    assert record == {
        "messageId": "id-1",
        "receiptHandle": "handle-1",
        "body": "hello",
        "attributes": {
            "ApproximateReceiveCount": "2",
            "SentTimestamp": "1700000000000",
            "SenderId": "000000000000",
            "ApproximateFirstReceiveTimestamp": "1700000000500",
        },
        "messageAttributes": {
            "s": {
                "stringValue": "v",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            },
            "b": {
                "binaryValue": "AAE=",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Binary",
            },
        },
        "md5OfBody": hashlib.md5(b"hello").hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": ARN,
        "awsRegion": "us-east-1",
    }


def test_filters_see_a_json_body_as_an_object() -> None:
    records = [
        sqs_record(message(1, json.dumps({"kind": "a"})), ARN, "r"),
        sqs_record(message(2, json.dumps({"kind": "b"})), ARN, "r"),
        sqs_record(message(3, "plain text"), ARN, "r"),
    ]
    kept, dropped = split_batch(records, parse_patterns(['{"body": {"kind": ["a"]}}']))
    assert [r["messageId"] for r in kept] == ["id-1"]
    assert [r["messageId"] for r in dropped] == ["id-2", "id-3"]
    kept, dropped = split_batch(records, ())
    assert (len(kept), dropped) == (3, [])


# --- what an answer deletes -------------------------------------------------------------------

RECORDS: list[dict[str, Any]] = [
    {"messageId": f"id-{n}", "receiptHandle": f"h-{n}"} for n in range(3)
]
ALL = ["h-0", "h-1", "h-2"]


def failures(*ids: Any) -> bytes:
    return json.dumps({"batchItemFailures": [{"itemIdentifier": i} for i in ids]}).encode()


@pytest.mark.parametrize(
    ("payload", "error", "report", "deleted"),
    [
        (b"null", False, False, ALL),
        (b"null", True, False, []),
        (b"null", True, True, []),
        (failures("id-1"), False, False, ALL),  # without the response type, it is success
        (failures("id-1"), False, True, ["h-0", "h-2"]),
        (failures(), False, True, ALL),
        (b"", False, True, ALL),
        (b"null", False, True, ALL),
        (b"{}", False, True, ALL),
        (b'"text"', False, True, ALL),
        (failures("id-0", "id-1", "id-2"), False, True, []),
        (failures("not-in-batch"), False, True, []),
        (failures(""), False, True, []),
        (failures(None), False, True, []),
        (b'{"batchItemFailures": "x"}', False, True, []),
    ],
)
def test_handles_to_delete(payload: bytes, error: bool, report: bool, deleted: list[str]) -> None:
    assert handles_to_delete(RECORDS, payload, error, report) == deleted
