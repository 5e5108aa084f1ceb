"""Event invoke configs (spec 5.3), destinations (5.4) and the records sent to them.

A config belongs to one qualifier (`$LATEST`, a version or an alias) and is not copied by
PublishVersion. Put replaces the whole config; Update changes only what it names. Destinations
gureum can deliver to are SQS queues and Lambda functions; SNS, EventBridge and S3 are refused
when configured, never accepted and then ignored.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.retries import DEFAULT_MAX_AGE, DEFAULT_RETRIES, Condition, RetryPolicy

NOT_SPECIFIED = "You must specify at least one of error handling or destination setting."
ERROR_MESSAGE_LIMIT = 1024


class DestinationKind(StrEnum):
    SQS = "sqs"
    LAMBDA = "lambda"


@dataclass(frozen=True, slots=True)
class EventInvokeConfig:
    max_retries: int | None = None
    max_age: int | None = None
    on_success: str | None = None
    on_failure: str | None = None
    last_modified: float = 0.0

    def policy(self, scale: float) -> RetryPolicy:
        retries = DEFAULT_RETRIES if self.max_retries is None else self.max_retries
        age = DEFAULT_MAX_AGE if self.max_age is None else self.max_age
        return RetryPolicy(retries, age, scale)

    def merged(self, other: EventInvokeConfig, given: set[str]) -> EventInvokeConfig:
        """UpdateFunctionEventInvokeConfig: only the fields the request gave change."""
        changes = {name: getattr(other, name) for name in given}
        return replace(self, **changes, last_modified=other.last_modified)


def destination_kind(arn: str) -> DestinationKind | None:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return None
    if parts[2] == "sqs":
        return DestinationKind.SQS
    if parts[2] == "lambda" and parts[5] == "function":
        return DestinationKind.LAMBDA
    return None


def check_destinations(on_success: str | None, on_failure: str | None, function_arn: str) -> None:
    """AWS's configuration-time rules, plus gureum's: only kinds it can deliver to."""
    for arn in (on_success, on_failure):
        if not arn:
            continue
        service = arn.split(":")[2] if arn.count(":") >= 2 else ""
        if service in ("sns", "events", "s3"):
            raise InvalidParameterValue(
                f"gureum does not deliver to {service} destinations yet ({arn}); supported "
                "destinations are SQS queues and Lambda functions."
            )
        if destination_kind(arn) is None:
            success = f"OnSuccess(destination={on_success})" if on_success else "null"
            failure = f"OnFailure(destination={on_failure})" if on_failure else "null"
            raise InvalidParameterValue(
                f"The provided destination config DestinationConfig(onSuccess={success}, "
                f"onFailure={failure}) is invalid."
            )
        if arn.split(":")[:7] == function_arn.split(":")[:7]:
            raise InvalidParameterValue(
                "You can't specify the function as a destination for itself."
            )


def timestamp(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Outcome:
    """The last attempt's result, as the record reports it (None: the function never ran)."""

    executed_version: str
    payload: bytes
    function_error: bool


def invocation_record(
    request_id: str,
    function_arn: str,
    condition: Condition,
    invocations: int,
    request_payload: bytes,
    outcome: Outcome | None,
    now: float,
) -> dict[str, Any]:
    """The destination record, key for key as AWS sends it (spec 5.4)."""
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": timestamp(now),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition.value,
            "approximateInvokeCount": invocations,
        },
        "requestPayload": _json_or_text(request_payload),
    }
    if outcome is not None:
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": outcome.executed_version}
        if outcome.function_error:
            context["functionError"] = "Unhandled"
        record["responseContext"] = context
        record["responsePayload"] = _json_or_text(outcome.payload)
    return record


def dead_letter_attributes(
    request_id: str, outcome: Outcome | None, condition: Condition
) -> Mapping[str, tuple[str, str]]:
    """A DLQ message's attributes (spec 5.5): RequestID, ErrorCode (Number 200), ErrorMessage."""
    message = condition.value
    if outcome is not None:
        document = _json_or_text(outcome.payload)
        if isinstance(document, dict) and "errorMessage" in document:
            message = str(document["errorMessage"])
    encoded = message.encode()[:ERROR_MESSAGE_LIMIT].decode("utf-8", "ignore")
    return {
        "RequestID": ("String", request_id),
        "ErrorCode": ("Number", "200"),
        "ErrorMessage": ("String", encoded),
    }


def role_unique_id(role_arn: str) -> str:
    """The execution role's IAM unique id (`AROA` and 17 more characters, as IAM's role ids are).

    Derived from the role's ARN: stable for a role, distinct between roles, and the same for a
    role IAM does not know (functions may name one under `--iam off`). For a role IAM has, AWS
    would show IAM's own RoleId; gureum does not look it up here (a known difference).
    """
    digest = base64.b32encode(hashlib.sha256(role_arn.encode()).digest()).decode()
    return f"AROA{digest[:17]}"


def sender_id(role_arn: str, request_id: str, now: float) -> str:
    """The SQS `SenderId` of what Lambda sends for an event: the role's session, not the account.

    Lambda sends destination records and dead letters as its execution role, so SQS records the
    role's unique id and the session's name, which AWS names `awslambda_<n>_<UTC time to the
    millisecond>` (an AWS SenderId quoted in getmoto/moto#792:
    `AROAIL6GAI2XEC672SWG2:awslambda_39_20161007224708400`). AWS's records of two events of one
    function show two SenderIds (LocalStack's test_lambda_destinations.snapshot.json,
    test_maxeventage); `<n>` is not documented, so gureum takes it from the request id.
    """
    number = int(hashlib.sha256(request_id.encode()).hexdigest(), 16) % 1000
    moment = datetime.fromtimestamp(now, UTC)
    stamp = moment.strftime("%Y%m%d%H%M%S") + f"{moment.microsecond // 1000:03d}"
    return f"{role_unique_id(role_arn)}:awslambda_{number}_{stamp}"
