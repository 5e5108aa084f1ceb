"""Runtime identifiers: creatable, deprecated and unknown (spec 1.7), and runtime version ARNs."""

from __future__ import annotations

import re

import botocore.loaders
import pytest

from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.runtimes import (
    AWS_RUNTIMES,
    DEPRECATED,
    check_runtime,
    runtime_version_arn,
)

CREATABLE = ("python3.12", "python3.13", "nodejs20.x", "provided.al2023")


@pytest.mark.parametrize("runtime", CREATABLE)
def test_creatable(runtime: str) -> None:
    check_runtime(runtime, CREATABLE)


# Recorded against AWS on 12 Jan 2026 (LocalStack's test_lambda_api.snapshot.json,
# test_create_deprecated_function_runtime_with_validation_enabled): no successor is named.
@pytest.mark.parametrize(
    "runtime",
    [
        "java8",
        "go1.x",
        "provided",
        "ruby2.7",
        "nodejs14.x",
        "python3.7",
        "dotnetcore3.1",
        "nodejs12.x",
    ],
)
def test_deprecated(runtime: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_runtime(runtime, CREATABLE)
    assert caught.value.message == (
        f"The runtime parameter of {runtime} is no longer supported for creating or updating "
        "AWS Lambda functions. We recommend you use a supported runtime while creating or "
        "updating functions."
    )
    assert caught.value.code == "InvalidParameterValueException"


def test_a_runtime_aws_still_accepts_is_creatable_when_the_host_has_it() -> None:
    check_runtime("python3.8", ("python3.8", "python3.12"))


# test_create_lambda_exceptions, recorded against AWS on 12 Jan 2026: AWS's list, in AWS's order.
AWS_LIST = (
    "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, "
    "java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, "
    "java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2]"
)


@pytest.mark.parametrize("runtime", ["python9.9", "cobol", "Python3.12", ""])
def test_unknown(runtime: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_runtime(runtime, CREATABLE)
    assert caught.value.message == (
        f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum "
        f"value set: {AWS_LIST} or be a valid ARN"
    )
    assert caught.value.status == 400


def test_a_runtime_aws_accepts_but_this_server_cannot_create_says_so_after_awss_message() -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_runtime("java21", CREATABLE)
    assert caught.value.message == (
        "Value java21 at 'runtime' failed to satisfy constraint: Member must satisfy enum "
        f"value set: {AWS_LIST} or be a valid ARN. This gureum server cannot run java21. "
        "Runtimes it can create: [python3.12, python3.13, nodejs20.x, provided.al2023]"
    )


def test_awss_runtimes_and_the_deprecated_ones_are_values_of_botocores_runtime_enum() -> None:
    model = botocore.loaders.Loader().load_service_model("lambda", "service-2")
    enum = model["shapes"]["Runtime"]["enum"]
    assert set(AWS_RUNTIMES).issubset(enum)
    assert DEPRECATED.issubset(enum)
    assert not DEPRECATED & set(AWS_RUNTIMES)
    assert f"[{', '.join(AWS_RUNTIMES)}]" == AWS_LIST


@pytest.mark.parametrize("runtime", ["python3.12", "nodejs20.x", "provided.al2023"])
@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1"])
def test_runtime_version_arn_format(region: str, runtime: str) -> None:
    arn = runtime_version_arn(region, runtime)
    assert re.fullmatch(rf"arn:aws:lambda:{region}::runtime:[0-9a-f]{{64}}", arn)


def test_runtime_version_arn_is_stable_and_per_runtime() -> None:
    assert runtime_version_arn("us-east-1", "python3.12") == runtime_version_arn(
        "us-east-1", "python3.12"
    )
    assert runtime_version_arn("us-east-1", "python3.12") != runtime_version_arn(
        "us-east-1", "python3.13"
    )
    digest = runtime_version_arn("us-east-1", "python3.12").rsplit(":", 1)[1]
    assert digest == runtime_version_arn("eu-west-1", "python3.12").rsplit(":", 1)[1]


def test_a_lambda_runtime_only_this_host_lacks_is_explained_after_awss_message() -> None:
    why = "This gureum host cannot run python3.14: ... To add it: gureum runtimes add python3.14"
    with pytest.raises(InvalidParameterValue) as caught:
        check_runtime("python3.14", CREATABLE, why)
    assert caught.value.message == (
        "Value python3.14 at 'runtime' failed to satisfy constraint: Member must satisfy enum "
        f"value set: {AWS_LIST} or be a valid ARN. " + why
    )
