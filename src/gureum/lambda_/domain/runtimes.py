"""Runtime identifiers: which ones AWS accepts, which are deprecated, and gureum's own word.

AWS answers an unknown runtime with InvalidParameterValueException (not the model's
ValidationException) listing the runtimes it accepts, in its own order, and a deprecated one with
a message recommending "a supported runtime" (both recorded against AWS in January 2026: LocalStack
tests/aws/services/lambda_/test_lambda_api.snapshot.json, `test_create_lambda_exceptions` and
`test_create_deprecated_function_runtime_with_validation_enabled`). gureum answers with AWS's text
first, exactly, then says what this host can create when that differs from what AWS offers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection

from gureum.lambda_.domain.errors import InvalidParameterValue

# The runtimes AWS's enum message lists, in AWS's order (it is no sorted order: copied as recorded
# on 12 Jan 2026). Each is a value of the `Runtime` enum of botocore's model
# (botocore/data/lambda/2015-03-31/service-2.json); the model also lists deprecated runtimes and
# ones not launched yet, which AWS leaves out of this message.
AWS_RUNTIMES: tuple[str, ...] = (
    "nodejs20.x", "python3.14", "provided.al2023", "python3.12", "python3.13", "nodejs24.x",
    "nodejs22.x", "java25", "python3.10", "python3.11", "java21", "ruby3.3", "ruby3.4", "ruby3.2",
    "python3.8", "python3.9", "java17", "nodejs16.x", "dotnet10", "dotnet8", "java11", "dotnet6",
    "nodejs18.x", "provided.al2", "java8.al2",
)  # fmt: skip

# Runtimes of the model's enum that AWS no longer accepts for create or update.
DEPRECATED: frozenset[str] = frozenset(
    {
        "nodejs", "nodejs4.3", "nodejs4.3-edge", "nodejs6.10", "nodejs8.10", "nodejs10.x",
        "nodejs12.x", "nodejs14.x", "java8", "python2.7", "python3.6", "python3.7",
        "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "go1.x", "ruby2.5",
        "ruby2.7", "provided",
    }
)  # fmt: skip


def check_runtime(runtime: str, creatable: Collection[str], why_not: str | None = None) -> None:
    """Refuses a runtime this server cannot create, with AWS's message first.

    `why_not`, for a real Lambda runtime that only this host lacks, follows AWS's message with
    gureum's explanation (the runtimes the host has, and the command that adds the missing one).
    Without one, a runtime AWS accepts is still followed by the list this server can create:
    AWS's message alone would name the refused runtime among the valid ones.
    """
    if runtime in creatable:
        return
    if runtime in DEPRECATED:
        raise InvalidParameterValue(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating "
            "AWS Lambda functions. We recommend you use a supported runtime while creating or "
            "updating functions."
        )
    message = (
        f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum "
        f"value set: [{', '.join(AWS_RUNTIMES)}] or be a valid ARN"
    )
    if why_not is None and runtime in AWS_RUNTIMES:
        why_not = (
            f"This gureum server cannot run {runtime}. Runtimes it can create: "
            f"[{', '.join(creatable)}]"
        )
    raise InvalidParameterValue(f"{message}. {why_not}" if why_not else message)


def runtime_version_arn(region: str, runtime: str) -> str:
    """A stable per-runtime version ARN in AWS's format (`arn:aws:lambda:R::runtime:<64 hex>`)."""
    digest = hashlib.sha256(runtime.encode()).hexdigest()
    return f"arn:aws:lambda:{region}::runtime:{digest}"
