"""Event notifications to Lambda: a bucket's configurations, which events they match, and the
event record a function receives (AWS's shape, event version 2.1:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).

gureum delivers to Lambda functions only; queue, topic and EventBridge destinations are refused
rather than kept and never used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote_plus

from gureum.s3.domain.buckets import bucket_arn
from gureum.s3.domain.errors import InvalidArgument, NotImplementedFeature


class EventName(StrEnum):
    """The events gureum produces (without their `s3:` prefix, as records name them)."""

    PUT = "ObjectCreated:Put"
    POST = "ObjectCreated:Post"
    COPY = "ObjectCreated:Copy"
    COMPLETE_MULTIPART = "ObjectCreated:CompleteMultipartUpload"
    DELETE = "ObjectRemoved:Delete"
    DELETE_MARKER = "ObjectRemoved:DeleteMarkerCreated"


# What a configuration may subscribe to: a family (`s3:ObjectCreated:*`) or one event.
SUBSCRIBABLE = frozenset(
    {"s3:ObjectCreated:*", "s3:ObjectRemoved:*", *(f"s3:{e.value}" for e in EventName)}
)


@dataclass(frozen=True, slots=True)
class FunctionNotification:
    """One LambdaFunctionConfiguration: which events, under which key filter, go to which
    function."""

    id: str
    function_arn: str
    events: tuple[str, ...]
    prefix: str | None = None
    suffix: str | None = None

    def matches(self, event: EventName, key: str) -> bool:
        family = event.value.split(":")[0]
        subscribed = f"s3:{event.value}" in self.events or f"s3:{family}:*" in self.events
        if not subscribed:
            return False
        if self.prefix is not None and not key.startswith(self.prefix):
            return False
        return self.suffix is None or key.endswith(self.suffix)

    def render(self) -> dict[str, Any]:
        rules = []
        if self.prefix is not None:
            rules.append({"Name": "Prefix", "Value": self.prefix})
        if self.suffix is not None:
            rules.append({"Name": "Suffix", "Value": self.suffix})
        rendered: dict[str, Any] = {
            "Id": self.id,
            "LambdaFunctionArn": self.function_arn,
            "Events": list(self.events),
        }
        if rules:
            rendered["Filter"] = {"Key": {"FilterRules": rules}}
        return rendered


def _filter(config: Mapping[str, Any]) -> tuple[str | None, str | None]:
    rules = config.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    found: dict[str, str] = {}
    for rule in rules:
        name = str(rule.get("Name", "")).lower()
        if name not in ("prefix", "suffix"):
            raise InvalidArgument("filter rule name must be either prefix or suffix")
        if name in found:
            raise InvalidArgument("Cannot specify more than one prefix rule in a filter.")
        found[name] = str(rule.get("Value", ""))
    return found.get("prefix"), found.get("suffix")


def parse_configuration(
    document: Mapping[str, Any], new_ids: Sequence[str]
) -> list[FunctionNotification]:
    """A PutBucketNotificationConfiguration's configurations; `new_ids` name those without an
    Id (S3 makes one up)."""
    for refused in ("TopicConfigurations", "QueueConfigurations", "EventBridgeConfiguration"):
        if document.get(refused):
            raise NotImplementedFeature(
                f"{refused}: gureum delivers S3 event notifications to Lambda functions only"
            )
    configs: list[FunctionNotification] = []
    for index, config in enumerate(document.get("LambdaFunctionConfigurations", [])):
        events = tuple(dict.fromkeys(config.get("Events", [])))
        for event in events:
            if event not in SUBSCRIBABLE:
                raise InvalidArgument(
                    f"The event is not supported for notifications: {event} (gureum produces "
                    "s3:ObjectCreated:* and s3:ObjectRemoved:* events)"
                )
        prefix, suffix = _filter(config)
        config_id = config.get("Id") or new_ids[index]
        configs.append(
            FunctionNotification(config_id, config["LambdaFunctionArn"], events, prefix, suffix)
        )
    _check_overlaps(configs)
    return configs


def _families(events: Sequence[str]) -> set[str]:
    names: set[str] = set()
    for event in events:
        if event.endswith(":*"):
            family = event.split(":")[1]
            names.update(f"s3:{e.value}" for e in EventName if e.value.startswith(family + ":"))
        else:
            names.add(event)
    return names


def _overlap(a: str | None, b: str | None, starts: bool) -> bool:
    if a is None or b is None:
        return True
    return a.startswith(b) or b.startswith(a) if starts else a.endswith(b) or b.endswith(a)


def _check_overlaps(configs: Sequence[FunctionNotification]) -> None:
    """S3 refuses two configurations that one event could both match."""
    ids = [c.id for c in configs]
    if len(set(ids)) != len(ids):
        raise InvalidArgument("Configuration Ids must be unique.")
    for i, first in enumerate(configs):
        for second in configs[i + 1 :]:
            if (
                _families(first.events) & _families(second.events)
                and _overlap(first.prefix, second.prefix, True)
                and _overlap(first.suffix, second.suffix, False)
            ):
                raise InvalidArgument(
                    "Configurations overlap. Configurations on the same bucket cannot share a "
                    "common event type."
                )


def dump(configs: Sequence[FunctionNotification]) -> str:
    return json.dumps([[c.id, c.function_arn, list(c.events), c.prefix, c.suffix] for c in configs])


def load(text: str) -> list[FunctionNotification]:
    return [
        FunctionNotification(i, arn, tuple(events), prefix, suffix)
        for i, arn, events, prefix, suffix in json.loads(text)
    ]


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    """What happened to one object, as the notification records it."""

    event: EventName
    bucket: str
    key: str
    region: str
    time: float  # epoch seconds
    sequencer: str
    request_id: str
    principal: str
    source_ip: str
    size: int | None = None
    etag: str | None = None  # unquoted


def sequencer(counter: int) -> str:
    """S3's `sequencer`: hexadecimal, ordering the events of one key (compare as strings of
    equal length)."""
    return f"{counter:016X}"


def event_time(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def record(event: ObjectEvent, configuration_id: str) -> dict[str, Any]:
    """The event record of `event` for one configuration."""
    described: dict[str, Any] = {"key": quote_plus(event.key, safe="/")}
    if event.size is not None:
        described["size"] = event.size
    if event.etag is not None:
        described["eTag"] = event.etag
    described["sequencer"] = event.sequencer
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": event.region,
        "eventTime": event_time(event.time),
        "eventName": event.event.value,
        "userIdentity": {"principalId": event.principal},
        "requestParameters": {"sourceIPAddress": event.source_ip},
        "responseElements": {
            "x-amz-request-id": event.request_id,
            "x-amz-id-2": event.request_id,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": event.bucket,
                "ownerIdentity": {"principalId": event.principal},
                "arn": bucket_arn(event.bucket),
            },
            "object": described,
        },
    }


def payload(event: ObjectEvent, configuration_id: str) -> bytes:
    return json.dumps({"Records": [record(event, configuration_id)]}).encode()
