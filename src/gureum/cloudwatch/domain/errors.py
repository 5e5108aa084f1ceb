"""CloudWatch's errors, named by the model's shapes; the query codes (`InvalidParameterValue`)
come from the model's error metadata, which every codec renders."""

from __future__ import annotations

from gureum.aws.errors import ClientError


class InvalidParameterValue(ClientError):
    code = "InvalidParameterValueException"


class MissingParameter(ClientError):
    code = "MissingRequiredParameterException"


class InvalidParameterCombination(ClientError):
    code = "InvalidParameterCombinationException"


class InvalidNextToken(ClientError):
    code = "InvalidNextToken"


class MetricQueryInvalid(ClientError):
    """GetMetricData's answer to a query it cannot run: the model's ValidationException, which
    goes on the wire as `ValidationError` (400)."""

    code = "ValidationException"


class AlarmNotFound(ClientError):
    code = "ResourceNotFound"
    status = 404


class InvalidFormat(ClientError):
    code = "InvalidFormatFault"
