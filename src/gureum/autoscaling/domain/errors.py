"""Application Auto Scaling's errors, named by the model's shapes (all 400, the caller's fault)."""

from __future__ import annotations

from gureum.aws.errors import ClientError


class Invalid(ClientError):
    """The model's ValidationException: a request the service will not act on."""

    code = "ValidationException"


class ObjectNotFound(ClientError):
    code = "ObjectNotFoundException"


class LimitExceeded(ClientError):
    code = "LimitExceededException"
