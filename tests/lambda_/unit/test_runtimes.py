"""Runtime identifiers: creatable, deprecated and unknown (spec 1.7), and runtime version ARNs."""

from __future__ import annotations

import re

import pytest

from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.runtimes import DEPRECATED, check_runtime, runtime_version_arn

CREATABLE = ("python3.12", "python3.13", "nodejs20.x", "provided.al2023")


@pytest.mark.parametrize("runtime", CREATABLE)
def test_creatable(runtime: str) -> None:
    check_runtime(runtime, CREATABLE)


@pytest.mark.parametrize(
    ("runtime", "successor"),
    [
        ("python3.7", "python3.12"),
        ("python2.7", "python3.12"),
        ("nodejs12.x", "nodejs18.x"),
        ("nodejs14.x", "nodejs20.x"),
        ("go1.x", "provided.al2023"),
        ("provided", "provided.al2023"),
        ("java8", "java21"),
        ("dotnetcore3.1", "dotnet6"),
        ("ruby2.7", "ruby3.2"),
    ],
)
def test_deprecated(runtime: str, successor: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_runtime(runtime, CREATABLE)
    assert caught.value.message == (
        f"The runtime parameter of {runtime} is no longer supported for creating or updating "
        f"AWS Lambda functions. We recommend you use the new runtime ({successor}) while "
        "creating or updating functions."
    )
    assert caught.value.code == "InvalidParameterValueException"


def test_a_deprecated_runtime_the_host_still_lists_is_creatable() -> None:
    check_runtime("python3.8", ("python3.8", "python3.12"))


@pytest.mark.parametrize("runtime", ["python9.9", "cobol", "Python3.12", ""])
def test_unknown(runtime: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_runtime(runtime, CREATABLE)
    assert caught.value.message == (
        f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum "
        "value set: [python3.12, python3.13, nodejs20.x, provided.al2023] or be a valid ARN"
    )
    assert caught.value.status == 400


def test_every_deprecated_runtime_names_a_successor_that_is_not_deprecated() -> None:
    assert all(successor not in DEPRECATED for successor in DEPRECATED.values())


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
        "value set: [python3.12, python3.13, nodejs20.x, provided.al2023] or be a valid ARN. " + why
    )
