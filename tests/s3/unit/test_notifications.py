"""Notification configurations and event records, pure."""

from __future__ import annotations

import json

import pytest

from gureum.s3.domain.errors import InvalidArgument, NotImplementedFeature
from gureum.s3.domain.notifications import (
    EventName,
    FunctionNotification,
    ObjectEvent,
    dump,
    load,
    parse_configuration,
    payload,
    record,
    sequencer,
)

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f"


def config(events: list[str], **rules: str) -> dict[str, object]:
    made: dict[str, object] = {"LambdaFunctionArn": ARN, "Events": events}
    if rules:
        made["Filter"] = {
            "Key": {"FilterRules": [{"Name": k, "Value": v} for k, v in rules.items()]}
        }
    return made


@pytest.mark.parametrize(
    ("events", "event", "key", "matched"),
    [
        (["s3:ObjectCreated:*"], EventName.PUT, "k", True),
        (["s3:ObjectCreated:*"], EventName.COMPLETE_MULTIPART, "k", True),
        (["s3:ObjectCreated:*"], EventName.DELETE, "k", False),
        (["s3:ObjectCreated:Copy"], EventName.PUT, "k", False),
        (["s3:ObjectCreated:Copy"], EventName.COPY, "k", True),
        (["s3:ObjectRemoved:*"], EventName.DELETE, "k", True),
    ],
)
def test_events_match_their_family_or_themselves(
    events: list[str], event: EventName, key: str, matched: bool
) -> None:
    (parsed,) = parse_configuration({"LambdaFunctionConfigurations": [config(events)]}, ["id"])
    assert parsed.matches(event, key) is matched


def test_prefix_and_suffix_filters() -> None:
    made = config(["s3:ObjectCreated:*"], Prefix="in/", suffix=".jpg")
    (parsed,) = parse_configuration({"LambdaFunctionConfigurations": [made]}, ["id"])
    assert (parsed.prefix, parsed.suffix) == ("in/", ".jpg")
    assert parsed.matches(EventName.PUT, "in/cat.jpg")
    assert not parsed.matches(EventName.PUT, "in/cat.png")
    assert not parsed.matches(EventName.PUT, "out/cat.jpg")


@pytest.mark.parametrize(
    "document",
    [
        {"LambdaFunctionConfigurations": [config(["s3:ObjectCreated:Nope"])]},
        {"LambdaFunctionConfigurations": [config(["s3:ObjectCreated:*"], other="x")]},
        {"LambdaFunctionConfigurations": [config(["s3:ObjectCreated:*"])] * 2},
        {
            "LambdaFunctionConfigurations": [
                config(["s3:ObjectCreated:*"], prefix="a/"),
                config(["s3:ObjectCreated:Put"], prefix="a/b/"),
            ]
        },
    ],
)
def test_bad_or_overlapping_configurations_are_refused(document: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        parse_configuration(document, ["one", "two"])


def test_disjoint_filters_do_not_overlap() -> None:
    document = {
        "LambdaFunctionConfigurations": [
            config(["s3:ObjectCreated:*"], prefix="a/"),
            config(["s3:ObjectCreated:*"], prefix="b/"),
            config(["s3:ObjectRemoved:*"], prefix="a/"),
        ]
    }
    assert len(parse_configuration(document, ["1", "2", "3"])) == 3


def test_other_destinations_are_refused_not_ignored() -> None:
    with pytest.raises(NotImplementedFeature):
        parse_configuration({"QueueConfigurations": [{"QueueArn": "q"}]}, [])


def test_configurations_survive_storage() -> None:
    configs = [FunctionNotification("i", ARN, ("s3:ObjectCreated:*",), "p/", None)]
    assert load(dump(configs)) == configs


def test_the_record_has_awss_shape() -> None:
    event = ObjectEvent(
        EventName.PUT,
        "bkt",
        "dir/a b+c.txt",
        "eu-west-1",
        1.5,
        sequencer(255),
        "req",
        "p",
        "127.0.0.1",
        10,
        "abc",
    )
    made = record(event, "cfg")
    assert made["eventName"] == "ObjectCreated:Put"
    assert made["eventTime"] == "1970-01-01T00:00:01.500Z"
    assert made["awsRegion"] == "eu-west-1"
    assert made["s3"]["object"] == {
        "key": "dir/a+b%2Bc.txt",
        "size": 10,
        "eTag": "abc",
        "sequencer": "00000000000000FF",
    }
    assert made["s3"]["bucket"]["arn"] == "arn:aws:s3:::bkt"
    assert json.loads(payload(event, "cfg"))["Records"] == [made]


def test_sequencers_order_as_strings() -> None:
    assert sequencer(9) < sequencer(10) < sequencer(4096)
