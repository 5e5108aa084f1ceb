"""SQS queues as values: names, URLs and ARNs, and the attributes a queue is configured with.

Pure rules only. A queue lives in one account and one region; its URL is
`{endpoint}/{account}/{name}` and any host is accepted back, because clients keep URLs across
hosts (a container's name, 127.0.0.1, a port mapping). Configured attributes are kept as SQS
shows them (canonical strings: `"30"`, `"true"`, compact JSON), with every default filled in, so
comparing a CreateQueue request with an existing queue and rendering GetQueueAttributes are both
plain look-ups.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gureum.sqs.domain.errors import (
    InvalidAttributeName,
    InvalidAttributeValue,
    QueueDoesNotExist,
    QueueNameExists,
    SqsInvalidParameterValue,
    UnsupportedOperation,
    invalid_parameter,
)

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ACCOUNT = re.compile(r"\d{12}")
_QUEUE_ARN = re.compile(
    r"arn:aws[a-z-]*:sqs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<name>.+)"
)

# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
_RANGES: Mapping[str, tuple[int, int]] = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}
_BOOLEANS = frozenset({"SqsManagedSseEnabled"})
# Free text; an empty value removes the attribute, as in SQS.
_TEXTS = frozenset({"Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId"})
DEFAULTS: Mapping[str, str] = {
    "DelaySeconds": "0",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
    # New queues are encrypted with SQS-owned keys by default (since 2022).
    "SqsManagedSseEnabled": "true",
}
COMPUTED = (
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
)
# Names of the model's enum that only FIFO queues have: asked of a standard queue, left out.
FIFO_ONLY = ("FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")
MAX_LIST_RESULTS = 1000


@dataclass(frozen=True, slots=True)
class QueueKey:
    """Names one queue: queues are separate per account and per region."""

    account: str
    region: str
    name: str

    @property
    def arn(self) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account}:{self.name}"

    def url(self, endpoint: str) -> str:
        return f"{endpoint.rstrip('/')}/{self.account}/{self.name}"


def check_queue_name(name: str) -> None:
    if name.endswith(".fifo"):
        raise UnsupportedOperation(
            "gureum serves standard queues only: FIFO queues (names ending in .fifo) are not "
            "implemented yet."
        )
    if not _QUEUE_NAME.fullmatch(name):
        raise SqsInvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )


def key_from_url(url: str, account: str, region: str) -> QueueKey:
    """The caller's queue named by `url`, whatever its host: only `/{account}/{name}` counts.

    Anything else names no queue of the caller's; AWS answers a URL it cannot place with
    QueueDoesNotExist too (getmoto/moto#3657).
    """
    path = urlsplit(url).path if "://" in url else url
    parts = path.strip("/").split("/")
    if len(parts) != 2 or parts[0] != account or not _QUEUE_NAME.fullmatch(parts[1]):
        raise QueueDoesNotExist()
    return QueueKey(account, region, parts[1])


def key_from_arn(arn: str) -> QueueKey | None:
    match = _QUEUE_ARN.fullmatch(arn)
    if match is None:
        return None
    return QueueKey(match["account"], match["region"], match["name"])


@dataclass(frozen=True, slots=True)
class RedrivePolicy:
    """Where messages go after `max_receive_count` receives without a delete."""

    target_arn: str
    max_receive_count: int

    def document(self) -> str:
        policy = {"deadLetterTargetArn": self.target_arn, "maxReceiveCount": self.max_receive_count}
        return json.dumps(policy, separators=(",", ":"))

    def exhausted(self, receive_count: int) -> bool:
        """Whether a message received `receive_count` times goes to the dead-letter queue instead
        of its next receive: SQS moves it once its count would exceed `maxReceiveCount`."""
        return receive_count >= self.max_receive_count


def parse_redrive_policy(value: str) -> RedrivePolicy:
    def bad(reason: str) -> SqsInvalidParameterValue:
        return invalid_parameter("RedrivePolicy", value, reason)

    try:
        document = json.loads(value)
    except ValueError:
        raise bad("Redrive policy is not a valid JSON map.") from None
    if not isinstance(document, dict):
        raise bad("Redrive policy is not a valid JSON map.")
    for member in ("deadLetterTargetArn", "maxReceiveCount"):
        if member not in document:
            raise bad(f"Redrive policy does not contain mandatory attribute: {member}.")
    count = document["maxReceiveCount"]
    try:
        number = int(count)
    except (TypeError, ValueError):
        number = 0
    if isinstance(count, bool) or not 1 <= number <= 1000:
        raise bad(
            f"Invalid value for maxReceiveCount: {count}, valid values are from 1 to 1000 both "
            "inclusive."
        )
    target = document["deadLetterTargetArn"]
    if not isinstance(target, str) or key_from_arn(target) is None:
        raise bad(f"Invalid value for deadLetterTargetArn: {target}.")
    return RedrivePolicy(target, number)


def canonical_attribute(name: str, value: str) -> str:
    """The value SQS stores and shows for a settable attribute, or its error."""
    if name in _RANGES:
        low, high = _RANGES[name]
        if not re.fullmatch(r"[+-]?\d{1,10}", value) or not low <= int(value) <= high:
            raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
        return str(int(value))
    if name in _BOOLEANS:
        if value.lower() not in ("true", "false"):
            raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
        return value.lower()
    if name == "RedrivePolicy" and value:
        return parse_redrive_policy(value).document()
    if name in _TEXTS:
        return value
    # Read-only attributes, `All` and the FIFO-only ones are unknown to a standard queue.
    raise InvalidAttributeName(f"Unknown Attribute {name}.")


def canonical_attributes(requested: Mapping[str, str]) -> dict[str, str]:
    return {name: canonical_attribute(name, value) for name, value in requested.items()}


def with_changes(current: Mapping[str, str], changes: Mapping[str, str]) -> dict[str, str]:
    """`current` with canonical `changes` applied; an empty text value removes its attribute."""
    merged = dict(current)
    for name, value in changes.items():
        if name in _TEXTS and value == "":
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def check_same_attributes(existing: Mapping[str, str], requested: Mapping[str, str]) -> None:
    """CreateQueue of an existing name succeeds only if every attribute it names agrees."""
    for name, value in requested.items():
        if existing.get(name, "") != value:
            raise QueueNameExists(
                "A queue already exists with the same name and a different value for attribute "
                f"{name}"
            )


@dataclass(frozen=True, slots=True)
class Queue:
    """A stored queue: `attributes` holds every configured attribute, defaults included."""

    id: int
    key: QueueKey
    created: float
    modified: float
    attributes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    tags: Mapping[str, str] = field(default_factory=dict)

    def number(self, name: str) -> int:
        return int(self.attributes.get(name, DEFAULTS[name]))

    @property
    def visibility_timeout(self) -> int:
        return self.number("VisibilityTimeout")

    @property
    def delay_seconds(self) -> int:
        return self.number("DelaySeconds")

    @property
    def retention_period(self) -> int:
        return self.number("MessageRetentionPeriod")

    @property
    def wait_time_seconds(self) -> int:
        return self.number("ReceiveMessageWaitTimeSeconds")

    @property
    def maximum_message_size(self) -> int:
        return self.number("MaximumMessageSize")

    @property
    def redrive_policy(self) -> RedrivePolicy | None:
        document = self.attributes.get("RedrivePolicy")
        return parse_redrive_policy(document) if document else None


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """How many messages wait (visible), are in flight (received, hidden) or are delayed."""

    visible: int = 0
    in_flight: int = 0
    delayed: int = 0


def requested_attributes(names: Iterable[str]) -> tuple[str, ...]:
    """GetQueueAttributes' names, with `All` expanded; an unknown name is an error."""
    wanted = list(names)
    known = (*COMPUTED, *_RANGES, *_BOOLEANS, *_TEXTS)
    if "All" in wanted:
        return known
    for name in wanted:
        if name not in known and name not in FIFO_ONLY:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
    return tuple(dict.fromkeys(wanted))


def attribute_view(queue: Queue, counts: QueueCounts, names: Iterable[str]) -> dict[str, str]:
    """GetQueueAttributes' answer: the named attributes the queue has, as strings."""
    computed = {
        "QueueArn": queue.key.arn,
        "ApproximateNumberOfMessages": str(counts.visible),
        "ApproximateNumberOfMessagesNotVisible": str(counts.in_flight),
        "ApproximateNumberOfMessagesDelayed": str(counts.delayed),
        "CreatedTimestamp": str(int(queue.created)),
        "LastModifiedTimestamp": str(int(queue.modified)),
    }
    view: dict[str, str] = {}
    for name in requested_attributes(names):
        value = computed.get(name, queue.attributes.get(name))
        if value is not None:
            view[name] = value
    return view


def list_page(
    names: list[str], token: str | None, max_results: int | None
) -> tuple[list[str], str | None]:
    """One page of sorted queue names; a token exists only when MaxResults was given (as SQS)."""
    if max_results is not None and not 1 <= max_results <= MAX_LIST_RESULTS:
        raise invalid_parameter(
            "MaxResults", max_results, "MaxResults must be an integer between 1 and 1000."
        )
    start = ""
    if token is not None:
        try:
            start = base64.b64decode(token, validate=True).decode()
        except ValueError:  # not base64 (or not even ASCII), or not UTF-8 inside
            raise SqsInvalidParameterValue("Invalid NextToken value.") from None
    remaining = [name for name in sorted(names) if name > start]
    size = max_results or MAX_LIST_RESULTS
    page = remaining[:size]
    if max_results is None or len(remaining) <= size:
        return page, None
    return page, base64.b64encode(page[-1].encode()).decode()
