"""Runtime identifiers: which ones can be created, which are deprecated and what replaces them.

AWS answers an unknown runtime with InvalidParameterValueException (not the model's
ValidationException), listing the runtimes it can create, and a deprecated one with a message
naming its successor (recorded against AWS, 2024). gureum's list of creatable runtimes is the
set its host can run, decided by the composition root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection

from gureum.lambda_.domain.errors import InvalidParameterValue

# Deprecated for create/update, with the successor AWS recommends.
DEPRECATED: dict[str, str] = {
    "python2.7": "python3.12",
    "python3.6": "python3.12",
    "python3.7": "python3.12",
    "python3.8": "python3.12",
    "nodejs": "nodejs20.x",
    "nodejs4.3": "nodejs20.x",
    "nodejs4.3-edge": "nodejs20.x",
    "nodejs6.10": "nodejs20.x",
    "nodejs8.10": "nodejs20.x",
    "nodejs10.x": "nodejs20.x",
    "nodejs12.x": "nodejs18.x",
    "nodejs14.x": "nodejs20.x",
    "nodejs16.x": "nodejs20.x",
    "java8": "java21",
    "dotnetcore1.0": "dotnet6",
    "dotnetcore2.0": "dotnet6",
    "dotnetcore2.1": "dotnet6",
    "dotnetcore3.1": "dotnet6",
    "ruby2.5": "ruby3.2",
    "ruby2.7": "ruby3.2",
    "go1.x": "provided.al2023",
    "provided": "provided.al2023",
}


def check_runtime(runtime: str, creatable: Collection[str], why_not: str | None = None) -> None:
    """Refuses a runtime this server cannot create, with AWS's message.

    `why_not`, for a real Lambda runtime that only this host lacks, follows AWS's message with
    gureum's explanation (the runtimes the host has, and the command that adds the missing one):
    AWS would accept it, so the enum message alone would mislead.
    """
    if runtime in creatable:
        return
    if runtime in DEPRECATED:
        raise InvalidParameterValue(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating "
            "AWS Lambda functions. We recommend you use the new runtime "
            f"({DEPRECATED[runtime]}) while creating or updating functions."
        )
    message = (
        f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum "
        f"value set: [{', '.join(creatable)}] or be a valid ARN"
    )
    raise InvalidParameterValue(f"{message}. {why_not}" if why_not else message)


def runtime_version_arn(region: str, runtime: str) -> str:
    """A stable per-runtime version ARN in AWS's format (`arn:aws:lambda:R::runtime:<64 hex>`)."""
    digest = hashlib.sha256(runtime.encode()).hexdigest()
    return f"arn:aws:lambda:{region}::runtime:{digest}"
