"""Layers over the wire: publish, read, list, delete, and functions that use them."""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.packages import zip_of
from tests.support.server import GureumProcess

ACCOUNT = "000000000000"
REGION = "us-east-1"
MISSING = "The resource you requested does not exist."
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")


def layer_arn(name: str, version: int | None = None) -> str:
    base = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}"
    return f"{base}:{version}" if version is not None else base


def error_of(call: Callable[..., Any], **params: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


@pytest.fixture
def layer_name(function_name: str) -> str:
    return f"layer-{function_name}"[:64]


@pytest.fixture
def publish(lambda_client: Any, layer_name: str) -> Callable[..., dict[str, Any]]:
    def publish_version(name: str | None = None, **overrides: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "LayerName": name or layer_name,
            "Content": {"ZipFile": zip_of({"python/shared.py": "VALUE = 1\n"})},
        }
        params.update(overrides)
        published: dict[str, Any] = lambda_client.publish_layer_version(**params)
        return published

    return publish_version


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as reply:
        data: bytes = reply.read()
        return data


def test_publish_describes_the_new_version(
    publish: Callable[..., dict[str, Any]], layer_name: str
) -> None:
    package = zip_of({"python/shared.py": "VALUE = 42\n"})
    published = publish(
        Content={"ZipFile": package},
        CompatibleRuntimes=["python3.12", "python3.11"],
        Description="shared helpers",
    )
    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert published["LayerArn"] == layer_arn(layer_name)
    assert published["LayerVersionArn"] == layer_arn(layer_name, 1)
    assert published["Version"] == 1
    assert published["Description"] == "shared helpers"
    assert published["CompatibleRuntimes"] == ["python3.12", "python3.11"]
    assert TIMESTAMP.fullmatch(published["CreatedDate"])
    content = published["Content"]
    assert content["CodeSize"] == len(package)
    assert content["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert download(content["Location"]) == package


def test_version_numbers_are_never_reused(
    lambda_client: Any, publish: Callable[..., dict[str, Any]], layer_name: str
) -> None:
    assert [publish()["Version"] for _ in range(2)] == [1, 2]
    lambda_client.delete_layer_version(LayerName=layer_name, VersionNumber=2)
    lambda_client.delete_layer_version(LayerName=layer_name, VersionNumber=1)
    third = publish()
    assert third["Version"] == 3
    assert third["LayerVersionArn"] == layer_arn(layer_name, 3)
    listed = lambda_client.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    assert [v["Version"] for v in listed] == [3]


def test_get_by_name_and_by_arn(
    lambda_client: Any, publish: Callable[..., dict[str, Any]], layer_name: str
) -> None:
    published = publish(CompatibleRuntimes=["python3.12"], LicenseInfo="MIT")
    by_name = lambda_client.get_layer_version(LayerName=layer_name, VersionNumber=1)
    by_arn = lambda_client.get_layer_version_by_arn(Arn=layer_arn(layer_name, 1))
    for got in (by_name, by_arn):
        assert got["LayerVersionArn"] == published["LayerVersionArn"]
        assert got["LayerArn"] == published["LayerArn"]
        assert got["Version"] == 1
        assert got["CompatibleRuntimes"] == ["python3.12"]
        assert got["LicenseInfo"] == "MIT"
        assert got["CreatedDate"] == published["CreatedDate"]
        assert got["Content"]["CodeSha256"] == published["Content"]["CodeSha256"]
        assert download(got["Content"]["Location"]) == download(published["Content"]["Location"])
    # A layer's ARN is also accepted as its name.
    by_layer_arn = lambda_client.get_layer_version(LayerName=layer_arn(layer_name), VersionNumber=1)
    assert by_layer_arn["LayerVersionArn"] == published["LayerVersionArn"]


def test_missing_layer_versions_are_not_found(
    lambda_client: Any, publish: Callable[..., dict[str, Any]], layer_name: str
) -> None:
    publish()
    cases: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (lambda_client.get_layer_version, {"LayerName": f"{layer_name}-x", "VersionNumber": 1}),
        (lambda_client.get_layer_version, {"LayerName": layer_name, "VersionNumber": 2}),
        (lambda_client.get_layer_version_by_arn, {"Arn": layer_arn(layer_name, 9)}),
        (lambda_client.get_layer_version_by_arn, {"Arn": layer_arn(f"{layer_name}-x", 1)}),
    ]
    for call, params in cases:
        assert error_of(call, **params) == (404, "ResourceNotFoundException", MISSING), params


def test_version_numbers_below_one_are_refused(lambda_client: Any, layer_name: str) -> None:
    for call in (lambda_client.get_layer_version, lambda_client.delete_layer_version):
        for number in (0, -1):
            assert error_of(call, LayerName=layer_name, VersionNumber=number) == (
                400,
                "InvalidParameterValueException",
                "Layer Version Cannot be less than 1",
            )


def test_get_by_unversioned_arn_is_a_validation_error(lambda_client: Any, layer_name: str) -> None:
    status, code, message = error_of(
        lambda_client.get_layer_version_by_arn, Arn=layer_arn(layer_name)
    )
    assert (status, code) == (400, "ValidationException")
    assert message.startswith(
        f"1 validation error detected: Value '{layer_arn(layer_name)}' at 'arn' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
    )


def test_delete_is_idempotent(
    lambda_client: Any, publish: Callable[..., dict[str, Any]], layer_name: str
) -> None:
    publish()
    for _ in range(2):
        deleted = lambda_client.delete_layer_version(LayerName=layer_name, VersionNumber=1)
        assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    never = lambda_client.delete_layer_version(LayerName=f"{layer_name}-never", VersionNumber=3)
    assert never["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(lambda_client.get_layer_version, LayerName=layer_name, VersionNumber=1) == (
        404,
        "ResourceNotFoundException",
        MISSING,
    )


def test_list_layer_versions_newest_first_with_runtime_filter(
    lambda_client: Any, publish: Callable[..., dict[str, Any]], layer_name: str
) -> None:
    publish(CompatibleRuntimes=["python3.12"])
    publish(CompatibleRuntimes=["nodejs20.x"])
    publish(CompatibleRuntimes=["python3.12", "nodejs20.x"])
    every = lambda_client.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    assert [v["Version"] for v in every] == [3, 2, 1]
    assert every[0]["LayerVersionArn"] == layer_arn(layer_name, 3)
    assert "Content" not in every[0]
    python = lambda_client.list_layer_versions(
        LayerName=layer_name, CompatibleRuntime="python3.12"
    )["LayerVersions"]
    assert [v["Version"] for v in python] == [3, 1]
    java = lambda_client.list_layer_versions(LayerName=layer_name, CompatibleRuntime="java21")
    assert java["LayerVersions"] == []
    unknown = lambda_client.list_layer_versions(LayerName=f"{layer_name}-none")
    assert unknown["LayerVersions"] == []


def test_list_layers_shows_the_latest_matching_version(
    lambda_client: Any, publish: Callable[..., dict[str, Any]], layer_name: str
) -> None:
    publish(CompatibleRuntimes=["python3.12"])
    publish(CompatibleRuntimes=["nodejs20.x"])

    def mine(**filters: Any) -> list[dict[str, Any]]:
        layers: list[dict[str, Any]] = []
        for page in lambda_client.get_paginator("list_layers").paginate(**filters):
            layers += [item for item in page["Layers"] if item["LayerName"] == layer_name]
        return layers

    (unfiltered,) = mine()
    assert unfiltered["LayerArn"] == layer_arn(layer_name)
    assert unfiltered["LatestMatchingVersion"]["Version"] == 2
    (python,) = mine(CompatibleRuntime="python3.12")
    assert python["LatestMatchingVersion"]["Version"] == 1
    assert python["LatestMatchingVersion"]["LayerVersionArn"] == layer_arn(layer_name, 1)
    assert python["LatestMatchingVersion"]["CompatibleRuntimes"] == ["python3.12"]
    assert mine(CompatibleRuntime="java21") == []


def test_function_shows_its_layers(
    lambda_client: Any,
    publish: Callable[..., dict[str, Any]],
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
) -> None:
    published = publish()
    created = make_function(Layers=[published["LayerVersionArn"]])
    expected = [{"Arn": published["LayerVersionArn"], "CodeSize": published["Content"]["CodeSize"]}]
    assert created["Layers"] == expected
    assert lambda_client.get_function(FunctionName=function_name)["Configuration"]["Layers"] == (
        expected
    )
    listed = lambda_client.list_versions_by_function(FunctionName=function_name)["Versions"]
    assert listed[0]["Layers"] == expected


def test_function_with_a_missing_layer_version_is_refused(
    lambda_client: Any,
    publish: Callable[..., dict[str, Any]],
    make_function: Callable[..., dict[str, Any]],
    layer_name: str,
    function_name: str,
) -> None:
    publish()
    for missing in (layer_arn(layer_name, 9), layer_arn(f"{layer_name}-none", 1)):
        with pytest.raises(ClientError) as caught:
            make_function(Layers=[missing])
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Code"] == "InvalidParameterValueException"
        assert error["Error"]["Message"] == f"Layer version {missing} does not exist."
        assert error["Type"] == "User"
    # Nothing was created by the refused calls.
    status, code, _ = error_of(lambda_client.get_function, FunctionName=function_name)
    assert (status, code) == (404, "ResourceNotFoundException")


def test_update_with_a_missing_layer_version_is_refused(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    layer_name: str,
    function_name: str,
) -> None:
    make_function()
    missing = layer_arn(layer_name, 1)
    assert error_of(
        lambda_client.update_function_configuration, FunctionName=function_name, Layers=[missing]
    ) == (400, "InvalidParameterValueException", f"Layer version {missing} does not exist.")


def test_more_than_five_layers_are_refused(
    publish: Callable[..., dict[str, Any]],
    make_function: Callable[..., dict[str, Any]],
    layer_name: str,
) -> None:
    arns = [publish(f"{layer_name[:60]}-{i}")["LayerVersionArn"] for i in range(6)]
    with pytest.raises(ClientError) as caught:
        make_function(Layers=arns)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["Error"]["Message"] == "Cannot reference more than 5 layers."
    # Five is the limit, not beyond it.
    assert len(make_function(Layers=arns[:5])["Layers"]) == 5


def test_function_keeps_showing_a_deleted_layer(
    lambda_client: Any,
    publish: Callable[..., dict[str, Any]],
    make_function: Callable[..., dict[str, Any]],
    layer_name: str,
    function_name: str,
) -> None:
    published = publish()
    make_function(Layers=[published["LayerVersionArn"]])
    lambda_client.delete_layer_version(LayerName=layer_name, VersionNumber=1)
    config = lambda_client.get_function_configuration(FunctionName=function_name)
    assert config["Layers"] == [
        {"Arn": published["LayerVersionArn"], "CodeSize": published["Content"]["CodeSize"]}
    ]


def test_unversioned_layer_arn_on_a_function_is_a_validation_error(
    lambda_client: Any,
    publish: Callable[..., dict[str, Any]],
    make_function: Callable[..., dict[str, Any]],
    layer_name: str,
) -> None:
    publish()
    with pytest.raises(ClientError) as caught:
        make_function(Layers=[layer_arn(layer_name)])
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith(
        f"1 validation error detected: Value '[{layer_arn(layer_name)}]' at 'layers' failed to "
        "satisfy constraint: Member must satisfy constraint: ["
    )


def test_two_versions_of_one_layer_are_refused(
    publish: Callable[..., dict[str, Any]],
    make_function: Callable[..., dict[str, Any]],
    layer_name: str,
) -> None:
    first, second = publish()["LayerVersionArn"], publish()["LayerVersionArn"]
    with pytest.raises(ClientError) as caught:
        make_function(Layers=[first, second])
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == (
        "Two different versions of the same layer are not allowed to be referenced in the same "
        f"function. {first} and {second} are versions of the same layer."
    )


def test_layer_from_another_region_is_refused(
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    layer_name: str,
) -> None:
    europe = server.client(region_name="eu-west-1")
    foreign = europe.publish_layer_version(
        LayerName=layer_name, Content={"ZipFile": zip_of({"python/x.py": "X = 1\n"})}
    )["LayerVersionArn"]
    with pytest.raises(ClientError) as caught:
        make_function(Layers=[foreign])
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == (
        "Layers are not in the same region as the function. Layers are expected to be in "
        "region us-east-1."
    )
