"""STS's errors as botocore's model and AWS name them."""

from __future__ import annotations

from gureum.aws.errors import ClientError


class AccessDenied(ClientError):
    code = "AccessDenied"
    status = 403


class StsValidationError(ClientError):
    code = "ValidationError"
    status = 400


class PackedPolicyTooLarge(ClientError):
    code = "PackedPolicyTooLargeException"
    status = 400
