"""Tags over the wire: function-level only, AWS's errors for versions, aliases and strangers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"
REGION = "us-east-1"
QUALIFIED = (
    "Tags on function aliases and versions are not supported. Please specify a function ARN."
)


def arn(name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def error_of(call: Callable[..., Any], **params: Any) -> tuple[int, str, str, dict[str, Any]]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
        response,
    )


def test_tag_list_untag(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function()
    resource = arn(function_name)
    assert lambda_client.list_tags(Resource=resource)["Tags"] == {}
    tagged = lambda_client.tag_resource(Resource=resource, Tags={"team": "a", "env": "dev"})
    assert tagged["ResponseMetadata"]["HTTPStatusCode"] == 204
    lambda_client.tag_resource(Resource=resource, Tags={"env": "prod", "cost": "42"})
    assert lambda_client.list_tags(Resource=resource)["Tags"] == {
        "team": "a",
        "env": "prod",
        "cost": "42",
    }
    untagged = lambda_client.untag_resource(Resource=resource, TagKeys=["team", "not-there"])
    assert untagged["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lambda_client.list_tags(Resource=resource)["Tags"] == {"env": "prod", "cost": "42"}


def test_get_function_shows_tags_only_when_there_are_some(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function()
    assert "Tags" not in lambda_client.get_function(FunctionName=function_name)
    lambda_client.tag_resource(Resource=arn(function_name), Tags={"team": "a"})
    assert lambda_client.get_function(FunctionName=function_name)["Tags"] == {"team": "a"}
    lambda_client.untag_resource(Resource=arn(function_name), TagKeys=["team"])
    assert "Tags" not in lambda_client.get_function(FunctionName=function_name)


def test_tags_given_at_creation(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Tags={"owner": "me", "stage": "beta"})
    assert lambda_client.list_tags(Resource=arn(function_name))["Tags"] == {
        "owner": "me",
        "stage": "beta",
    }
    assert lambda_client.get_function(FunctionName=function_name)["Tags"] == {
        "owner": "me",
        "stage": "beta",
    }


@pytest.mark.parametrize("qualifier", ["1", "live", "$LATEST"])
def test_versions_and_aliases_cannot_be_tagged(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    qualifier: str,
) -> None:
    make_function()
    lambda_client.publish_version(FunctionName=function_name)
    lambda_client.create_alias(FunctionName=function_name, Name="live", FunctionVersion="1")
    status, code, message, response = error_of(
        lambda_client.tag_resource, Resource=arn(function_name, qualifier), Tags={"a": "b"}
    )
    assert (status, code, message) == (400, "InvalidParameterValueException", QUALIFIED)
    assert response["Type"] == "User"
    assert lambda_client.list_tags(Resource=arn(function_name))["Tags"] == {}


def test_missing_function_is_not_found(lambda_client: Any, function_name: str) -> None:
    resource = arn(function_name)
    calls: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (lambda_client.tag_resource, {"Resource": resource, "Tags": {"a": "b"}}),
        (lambda_client.untag_resource, {"Resource": resource, "TagKeys": ["a"]}),
        (lambda_client.list_tags, {"Resource": resource}),
    ]
    for call, params in calls:
        status, code, message, _ = error_of(call, **params)
        assert (status, code) == (404, "ResourceNotFoundException")
        assert message == f"Function not found: {resource}"


def test_tags_go_with_a_deleted_function(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Tags={"owner": "me"})
    lambda_client.delete_function(FunctionName=function_name)
    status, code, message, _ = error_of(lambda_client.list_tags, Resource=arn(function_name))
    assert (status, code, message) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {arn(function_name)}",
    )
    make_function()
    assert lambda_client.list_tags(Resource=arn(function_name))["Tags"] == {}


def test_a_non_lambda_arn_is_a_validation_error(lambda_client: Any) -> None:
    status, code, message, response = error_of(
        lambda_client.list_tags, Resource="arn:aws:something"
    )
    assert (status, code) == (400, "ValidationException")
    assert message.startswith(
        "1 validation error detected: Value 'arn:aws:something' at 'resource' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: arn:"
    )
    assert "Type" not in response


def test_untag_without_keys_is_a_validation_error(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function()
    status, code, message, _ = error_of(
        lambda_client.untag_resource, Resource=arn(function_name), TagKeys=[]
    )
    assert (status, code) == (400, "ValidationException")
    assert message == (
        "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_tagging_with_no_tags_is_refused(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function()
    status, code, message, _ = error_of(
        lambda_client.tag_resource, Resource=arn(function_name), Tags={}
    )
    assert (status, code, message) == (
        400,
        "InvalidParameterValueException",
        "An error occurred and the request cannot be processed.",
    )


def test_more_than_fifty_tags_are_refused(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function()
    resource = arn(function_name)
    lambda_client.tag_resource(Resource=resource, Tags={f"k{i}": "v" for i in range(50)})
    status, code, message, _ = error_of(
        lambda_client.tag_resource, Resource=resource, Tags={"one-more": "v"}
    )
    assert (status, code, message) == (
        400,
        "InvalidParameterValueException",
        "Number of tags exceeds resource tag limit.",
    )
    assert len(lambda_client.list_tags(Resource=resource)["Tags"]) == 50
