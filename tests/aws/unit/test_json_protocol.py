"""The json protocol's error rendering over botocore's real models: SQS, which left the query
protocol, names every error by its query-era code in `x-amzn-query-error` (what botocore and the
AWS SDK for JavaScript report as the error's code); KMS and Logs never spoke query and do not."""

from __future__ import annotations

import json

import botocore.session
import pytest

from gureum.aws.errors import AwsError, UnrecognizedClient
from gureum.aws.http import header
from gureum.aws.protocols.json import JsonProtocol
from gureum.kms.domain.errors import KeyNotFound
from gureum.sqs.domain.errors import (
    BatchEntryIdsNotDistinct,
    InvalidAttributeName,
    PurgeQueueInProgress,
    QueueDoesNotExist,
    QueueNameExists,
    SqsInvalidParameterValue,
)

SESSION = botocore.session.get_session()
SQS = JsonProtocol(SESSION.get_service_model("sqs"))
KMS = JsonProtocol(SESSION.get_service_model("kms"))


@pytest.mark.parametrize(
    ("error", "query_error"),
    [
        (QueueDoesNotExist(), "AWS.SimpleQueueService.NonExistentQueue;Sender"),
        (QueueNameExists("exists"), "QueueAlreadyExists;Sender"),
        (PurgeQueueInProgress("soon"), "AWS.SimpleQueueService.PurgeQueueInProgress;Sender"),
        (
            BatchEntryIdsNotDistinct("twice"),
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct;Sender",
        ),
        # No query code of their own: the code itself, as SQS's Smithy model has it.
        (InvalidAttributeName("name"), "InvalidAttributeName;Sender"),
        (SqsInvalidParameterValue("value"), "InvalidParameterValue;Sender"),
        (UnrecognizedClient("token"), "UnrecognizedClientException;Sender"),
    ],
)
def test_sqs_errors_carry_their_query_code(error: AwsError, query_error: str) -> None:
    response = SQS.render_error(error)
    assert header(response.headers, "x-amzn-query-error") == query_error
    assert header(response.headers, "x-amzn-ErrorType") == error.code
    assert json.loads(response.body) == {"__type": error.code, "message": error.message}


def test_sqs_service_faults_are_receiver_faults() -> None:
    response = SQS.render_error(AwsError("broke"))
    assert header(response.headers, "x-amzn-query-error") == "ServiceException;Receiver"
    assert response.status == 500


def test_services_that_never_spoke_query_send_no_query_code() -> None:
    response = KMS.render_error(KeyNotFound("Key 'k' does not exist"))
    assert header(response.headers, "x-amzn-query-error") is None
    assert header(response.headers, "x-amzn-ErrorType") == "NotFoundException"
