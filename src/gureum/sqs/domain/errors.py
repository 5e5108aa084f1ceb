"""SQS's errors, each named by the error shape of botocore's SQS model.

The json protocol looks a modeled shape up by `code` to find its status, so botocore raises the
modeled exception (`client.exceptions.QueueDoesNotExist`). `query_code` is the code SQS named an
error by in its query-protocol days and still sends in `x-amzn-query-error`, which botocore and the
JavaScript SDK report as the error's code; the values are those of SQS's last query model and of
its Smithy model (`aws.protocols#awsQueryError`). SQS also answers with codes its model does not
declare (`InvalidParameterValue`, `MissingParameter`), inherited from its query-protocol days;
those reach botocore as plain `ClientError`s with that code, as they do from AWS.
"""

from __future__ import annotations

from gureum.aws.errors import ClientError


class QueueDoesNotExist(ClientError):
    code = "QueueDoesNotExist"
    query_code = "AWS.SimpleQueueService.NonExistentQueue"

    def __init__(self, message: str = "The specified queue does not exist.") -> None:
        super().__init__(message)


class QueueNameExists(ClientError):
    code = "QueueNameExists"
    query_code = "QueueAlreadyExists"


class InvalidAttributeName(ClientError):
    code = "InvalidAttributeName"


class InvalidAttributeValue(ClientError):
    code = "InvalidAttributeValue"


class SqsInvalidParameterValue(ClientError):
    """SQS's `InvalidParameterValue` (Lambda's is `InvalidParameterValueException`)."""

    code = "InvalidParameterValue"


class MissingParameter(ClientError):
    code = "MissingParameter"


class InvalidMessageContents(ClientError):
    code = "InvalidMessageContents"


class ReceiptHandleIsInvalid(ClientError):
    code = "ReceiptHandleIsInvalid"


class MessageNotInflight(ClientError):
    code = "MessageNotInflight"
    query_code = "AWS.SimpleQueueService.MessageNotInflight"


class PurgeQueueInProgress(ClientError):
    code = "PurgeQueueInProgress"
    query_code = "AWS.SimpleQueueService.PurgeQueueInProgress"


class UnsupportedOperation(ClientError):
    code = "UnsupportedOperation"
    query_code = "AWS.SimpleQueueService.UnsupportedOperation"


class EmptyBatchRequest(ClientError):
    code = "EmptyBatchRequest"
    query_code = "AWS.SimpleQueueService.EmptyBatchRequest"


class TooManyEntriesInBatchRequest(ClientError):
    code = "TooManyEntriesInBatchRequest"
    query_code = "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


class BatchEntryIdsNotDistinct(ClientError):
    code = "BatchEntryIdsNotDistinct"
    query_code = "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"


class InvalidBatchEntryId(ClientError):
    code = "InvalidBatchEntryId"
    query_code = "AWS.SimpleQueueService.InvalidBatchEntryId"


class BatchRequestTooLong(ClientError):
    code = "BatchRequestTooLong"
    query_code = "AWS.SimpleQueueService.BatchRequestTooLong"


def invalid_parameter(name: str, value: object, reason: str) -> SqsInvalidParameterValue:
    """SQS's one phrasing for a request parameter out of its range."""
    return SqsInvalidParameterValue(
        f"Value {value} for parameter {name} is invalid. Reason: {reason}"
    )
