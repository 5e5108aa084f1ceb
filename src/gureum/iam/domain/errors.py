"""IAM's errors, named as botocore's model names them (the query codec sends the model's code:
`NoSuchEntityException` goes out as `NoSuchEntity`, 404)."""

from __future__ import annotations

from gureum.aws.errors import ClientError


class NoSuchEntity(ClientError):
    code = "NoSuchEntityException"
    status = 404


class EntityAlreadyExists(ClientError):
    code = "EntityAlreadyExistsException"
    status = 409


class MalformedPolicyDocument(ClientError):
    code = "MalformedPolicyDocumentException"
    status = 400


class DeleteConflict(ClientError):
    code = "DeleteConflictException"
    status = 409


class LimitExceeded(ClientError):
    code = "LimitExceededException"
    status = 409


class InvalidInput(ClientError):
    code = "InvalidInputException"
    status = 400


class IamValidationError(ClientError):
    """IAM's own `ValidationError` (AWS sends it for a bad ARN or a bad combination)."""

    code = "ValidationError"
    status = 400
