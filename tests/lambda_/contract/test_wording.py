"""Validation as AWS words it (issue 21, item 12): what boto3 sees, value for value.

Sources: the AWS recordings in LocalStack's tests/aws/services/lambda_/test_lambda_api.snapshot.json
(github.com/localstack/localstack @ 8b9a79f05846), botocore 1.44.8's Lambda model, and AWS messages
quoted in GitHub issues, each named where it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import ACCOUNT, REGION, ROLE, arn, aws_error
from tests.support.packages import zip_of

MakeFunction = Callable[..., dict[str, Any]]
OTHER_ACCOUNT = "123456789012"
TAG_LIMIT = "Number of tags exceeds resource tag limit."


def create_params(name: str, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "index.handler",
        "Code": {"ZipFile": zip_of()},
    }
    params.update(overrides)
    return params


def refusal(call: Callable[..., Any], **params: Any) -> dict[str, Any]:
    """boto3's view of a refused call (`ClientError.response`), without its metadata."""
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response
    status = response.pop("ResponseMetadata")["HTTPStatusCode"]
    return {"status": status, **response}


# --- tags ---------------------------------------------------------------------------------------


def test_create_function_with_more_than_50_tags_is_refused_as_tag_resource_is(
    lambda_client: Any, function_name: str
) -> None:
    # test_tag_limits, create_function_invalid_tags: the same 400 as TagResource's.
    tags = {f"key{i}": "value" for i in range(51)}
    assert refusal(lambda_client.create_function, **create_params(function_name, Tags=tags)) == {
        "status": 400,
        "Error": {"Code": "InvalidParameterValueException", "Message": TAG_LIMIT},
        "Type": "User",
        "message": TAG_LIMIT,
    }
    with aws_error("ResourceNotFoundException", 404):
        lambda_client.get_function(FunctionName=function_name)
    lambda_client.create_function(
        **create_params(function_name, Tags=dict(list(tags.items())[:50]))
    )
    assert len(lambda_client.list_tags(Resource=arn(function_name))["Tags"]) == 50


# --- qualified ARNs -----------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["get_function", "get_function_configuration"])
def test_a_missing_function_asked_for_at_latest_is_named_with_latest(
    lambda_client: Any, function_name: str, operation: str
) -> None:
    # test_ops_with_arn_qualifier_mismatch[get_function*], match_exception.
    message = f"Function not found: {arn(function_name, '$LATEST')}"
    expected = {
        "status": 404,
        "Error": {"Code": "ResourceNotFoundException", "Message": message},
        "Type": "User",
        "Message": message,
    }
    call = getattr(lambda_client, operation)
    assert refusal(call, FunctionName=arn(function_name, "$LATEST")) == expected
    assert refusal(call, FunctionName=arn(function_name), Qualifier="$LATEST") == expected
    assert refusal(call, FunctionName=f"{function_name}:$LATEST", Qualifier="$LATEST") == expected


def test_deleting_latest_is_awss_400_whether_or_not_the_function_exists(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    # test_ops_with_arn_qualifier_mismatch[delete_function], match_exception: no function there.
    message = "$LATEST version cannot be deleted without deleting the function."
    expected = {
        "status": 400,
        "Error": {"Code": "InvalidParameterValueException", "Message": message},
        "Type": "User",
        "message": message,
    }
    latest = arn(function_name, "$LATEST")
    assert refusal(lambda_client.delete_function, FunctionName=latest) == expected
    assert (
        refusal(lambda_client.delete_function, FunctionName=latest, Qualifier="$LATEST") == expected
    )
    make_function()
    assert refusal(lambda_client.delete_function, FunctionName=latest) == expected
    lambda_client.get_function(FunctionName=function_name)


# --- security groups ----------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["create_function", "update_function_configuration"])
def test_a_malformed_security_group_id_is_refused_in_awss_words(
    lambda_client: Any, make_function: MakeFunction, function_name: str, operation: str
) -> None:
    # test_invalid_vpc_config_security_group, create-response-invalid-format-security-group.
    if operation == "update_function_configuration":
        make_function()
    vpc = {"SubnetIds": ["subnet-0123456789abcdef0"], "SecurityGroupIds": ["bad-format-1a2b"]}
    params = create_params(function_name, VpcConfig=vpc)
    if operation == "update_function_configuration":
        params = {"FunctionName": function_name, "VpcConfig": vpc}
    message = (
        "1 validation error detected: Value '[bad-format-1a2b]' at 'vpcConfig.securityGroupIds' "
        "failed to satisfy constraint: Member must satisfy constraint: [Member must have length "
        "less than or equal to 1024, Member must have length greater than or equal to 0, Member "
        "must satisfy regular expression pattern: sg-[0-9a-zA-Z]*]"
    )
    assert refusal(getattr(lambda_client, operation), **params) == {
        "status": 400,
        "Error": {"Code": "ValidationException", "Message": message},
    }


# --- bodies without Type ------------------------------------------------------------------------


def test_a_reservation_below_the_unreserved_minimum_has_no_type(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    # test_function_concurrency_limits, put_function_concurrency_below_unreserved_min_value.
    make_function()
    message = (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )
    response = refusal(
        lambda_client.put_function_concurrency,
        FunctionName=function_name,
        ReservedConcurrentExecutions=1000,
    )
    assert response == {
        "status": 400,
        "Error": {"Code": "InvalidParameterValueException", "Message": message},
        "message": message,
    }


# --- another account's ARN ----------------------------------------------------------------------


def denied(action: str, resource: str) -> dict[str, Any]:
    """IAM's cross-account refusal, as AWS words it for a function no policy shares
    (quoted from AWS in awslabs/aws-automated-incident-response-and-forensics#13 and, for
    layers, aws-samples/sample-serverless-mcp-servers#7); gureum's keys act as the root user."""
    return {
        "status": 403,
        "Error": {
            "Code": "AccessDeniedException",
            "Message": f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: "
            f"{action} on resource: {resource} because no resource-based policy allows the "
            f"{action} action",
        },
    }


def test_another_accounts_function_is_a_403_as_on_aws(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function()  # the same name in this account changes nothing
    theirs = f"arn:aws:lambda:{REGION}:{OTHER_ACCOUNT}:function:{function_name}"
    assert refusal(lambda_client.get_function, FunctionName=theirs) == denied(
        "lambda:GetFunction", theirs
    )
    assert refusal(lambda_client.invoke, FunctionName=f"{theirs}:1") == denied(
        "lambda:InvokeFunction", f"{theirs}:1"
    )
    partial = f"{OTHER_ACCOUNT}:function:{function_name}"
    assert refusal(lambda_client.delete_function, FunctionName=partial, Qualifier="live") == (
        denied("lambda:DeleteFunction", f"{theirs}:live")
    )
    assert refusal(lambda_client.list_tags, Resource=theirs) == denied("lambda:ListTags", theirs)
    lambda_client.get_function(FunctionName=function_name)


def test_creating_a_function_in_another_account_is_a_403_without_a_message(
    lambda_client: Any, function_name: str
) -> None:
    # test_function_arns, function_arn_other_account_exc: botocore reads the message as None
    # (boto3 users see "An error occurred (AccessDeniedException) when calling the
    # CreateFunction operation: None", as in Hassassistant/Haaska#3).
    theirs = f"arn:aws:lambda:{REGION}:{OTHER_ACCOUNT}:function:{function_name}"
    assert refusal(lambda_client.create_function, **create_params(theirs)) == {
        "status": 403,
        "Error": {"Code": "AccessDeniedException", "Message": None},
    }
    with aws_error("ResourceNotFoundException", 404):
        lambda_client.get_function(FunctionName=function_name)
