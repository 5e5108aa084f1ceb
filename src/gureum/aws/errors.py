"""Errors that carry their AWS identity.

Every error a client can see is one of these: the class names the AWS error code, the HTTP status
and whether the fault is the caller's or ours. The wire layer renders them in one place
(`gureum.aws.protocols`), choosing the body shape each protocol and service model expects, so
nothing here knows about JSON or XML. The errors every service shares live here; each service adds
its own in its domain (`gureum.lambda_.domain.errors`, `gureum.sqs.domain.errors`, ...).

Extra members (`Reason`, `Type` overrides, ...) travel in `fields` and are rendered as top-level
keys of the error body, which is where botocore's parsers look for modeled error members.
"""

from __future__ import annotations

from typing import ClassVar


class AwsError(Exception):
    """Base of every error that reaches the wire with an AWS error code."""

    code: ClassVar[str] = "ServiceException"
    status: ClassVar[int] = 500
    sender_fault: ClassVar[bool] = False
    # The code a service that moved from the query protocol to JSON still names this error by,
    # in `x-amzn-query-error` (SQS's QueueDoesNotExist is AWS.SimpleQueueService.NonExistentQueue).
    # None: the same as `code`.
    query_code: ClassVar[str | None] = None

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, object] = dict(fields)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ClientError(AwsError):
    """A fault of the caller (HTTP 4xx)."""

    code = "InvalidRequest"
    status = 400
    sender_fault = True


# --- errors shared by every service ------------------------------------------------------------


class ValidationError(ClientError):
    """A request member broke a constraint of the service model (length, pattern, enum, range)."""

    code = "ValidationException"


class ServiceError(AwsError):
    """An unexpected failure inside gureum. Its message never carries internals."""

    code = "ServiceException"
    status = 500


class UnknownOperation(ClientError):
    code = "UnknownOperationException"
    status = 404


class UnservedService(AwsError):
    """A request for a service botocore models and gureum does not serve (yet).

    The code is `NotImplemented`, AWS's one code for functionality a server lacks (S3 answers it
    with 501), and the status is that 501: a server fault, but one no SDK retries (botocore's
    legacy and standard modes retry 500, 502, 503 and 504), which is right for a service that
    will not appear between two attempts. LocalStack answers an operation it lacks with
    `InternalFailure` and 501; AWS's `InternalFailure` means an unknown failure inside the
    service, which would send a user looking for a bug instead of a missing service.
    """

    code = "NotImplemented"
    status = 501


class SerializationError(ClientError):
    """The request body or a header could not be parsed (rest-json services)."""

    code = "InvalidRequestContentException"


class JsonSerializationError(ClientError):
    """A json-protocol body (SQS, KMS, Logs) that could not be read: Coral's own answer, which
    clients such as kinesalite and dynalite mirror as `SerializationException`."""

    code = "SerializationException"


class RequestEntityTooLarge(ClientError):
    code = "RequestEntityTooLargeException"
    status = 413


# --- authentication ----------------------------------------------------------------------------


class MissingAuthenticationToken(ClientError):
    code = "MissingAuthenticationTokenException"
    status = 403


class IncompleteSignature(ClientError):
    code = "IncompleteSignatureException"
    status = 403


class InvalidSignature(ClientError):
    code = "InvalidSignatureException"
    status = 403


class UnrecognizedClient(ClientError):
    code = "UnrecognizedClientException"
    status = 403


class ExpiredToken(ClientError):
    """Session credentials used after their expiry."""

    code = "ExpiredTokenException"
    status = 403


class AccessDenied(ClientError):
    """The caller's policies do not allow the request (`--iam enforce`)."""

    code = "AccessDeniedException"
    status = 403


class UnauthorizedOperation(AccessDenied):
    """EC2's name for `AccessDenied`."""

    code = "UnauthorizedOperation"
    status = 403
