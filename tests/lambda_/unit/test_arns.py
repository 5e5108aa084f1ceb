"""Function names, ARNs and qualifiers in every form Lambda accepts (spec 0.4)."""

from __future__ import annotations

import pytest

from gureum.lambda_.domain.arns import (
    LATEST,
    FunctionRef,
    LayerVersionRef,
    check_new_name,
    function_arn,
    is_version_number,
    layer_arn,
    parse_function_name,
    parse_layer_name,
    parse_layer_version_arn,
    resolve_function,
)
from gureum.lambda_.domain.errors import AccessDenied, InvalidParameterValue, ResourceNotFound

REGION = "us-east-1"
ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"

QUALIFIER_MISMATCH = (
    "The derived qualifier from the function name does not match the specified qualifier."
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("my-function", FunctionRef("my-function"), id="name"),
        pytest.param("my_function-2", FunctionRef("my_function-2"), id="name-underscore"),
        pytest.param("my-function:v1", FunctionRef("my-function", "v1"), id="name-alias"),
        pytest.param("my-function:7", FunctionRef("my-function", "7"), id="name-version"),
        pytest.param("my-function:$LATEST", FunctionRef("my-function", LATEST), id="name-latest"),
        pytest.param(
            "my-function:$LATEST.PUBLISHED",
            FunctionRef("my-function", "$LATEST.PUBLISHED"),
            id="name-latest-published",
        ),
        pytest.param(
            f"{ACCOUNT}:function:my-function",
            FunctionRef("my-function", account=ACCOUNT),
            id="partial-arn",
        ),
        pytest.param(
            f"{ACCOUNT}:function:my-function:live",
            FunctionRef("my-function", "live", account=ACCOUNT),
            id="partial-arn-qualified",
        ),
        pytest.param(
            f"{ARN}:my-function",
            FunctionRef("my-function", None, REGION, ACCOUNT),
            id="full-arn",
        ),
        pytest.param(
            f"{ARN}:my-function:3",
            FunctionRef("my-function", "3", REGION, ACCOUNT),
            id="full-arn-version",
        ),
        pytest.param(
            f"{ARN}:my-function:$LATEST",
            FunctionRef("my-function", LATEST, REGION, ACCOUNT),
            id="full-arn-latest",
        ),
        pytest.param(
            "arn:aws:lambda:us-west-2:123456789012:function:my-function:prod",
            FunctionRef("my-function", "prod", "us-west-2", ACCOUNT),
            id="full-arn-other-region",
        ),
        pytest.param(
            "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f",
            FunctionRef("f", None, "us-gov-west-1", ACCOUNT),
            id="gov-partition",
        ),
        pytest.param(
            # A lowercase `$latest` is not special: it is an alias name like any other.
            "my-function:$latest",
            FunctionRef("my-function", "$latest"),
            id="lowercase-latest-is-an-alias",
        ),
    ],
)
def test_parse_function_name_accepts_every_form(value: str, expected: FunctionRef) -> None:
    assert parse_function_name(value) == expected


@pytest.mark.parametrize("value", ["", "my function", "*", "my-function!"])
def test_parse_function_name_refuses_what_the_pattern_refuses(value: str) -> None:
    with pytest.raises(InvalidParameterValue):
        parse_function_name(value)


@pytest.mark.parametrize(
    ("value", "qualifier", "expected"),
    [
        pytest.param("f", None, FunctionRef("f", None, REGION, ACCOUNT), id="unqualified"),
        pytest.param("f", "2", FunctionRef("f", "2", REGION, ACCOUNT), id="param-only"),
        pytest.param("f:2", None, FunctionRef("f", "2", REGION, ACCOUNT), id="name-only"),
        pytest.param("f:2", "2", FunctionRef("f", "2", REGION, ACCOUNT), id="both-agree"),
        pytest.param(
            "f:$LATEST", LATEST, FunctionRef("f", LATEST, REGION, ACCOUNT), id="latest-both"
        ),
        pytest.param("f", LATEST, FunctionRef("f", LATEST, REGION, ACCOUNT), id="latest-param"),
        pytest.param(
            f"{ACCOUNT}:function:f:live",
            None,
            FunctionRef("f", "live", REGION, ACCOUNT),
            id="partial-arn",
        ),
        pytest.param(
            f"{ARN}:f", "live", FunctionRef("f", "live", REGION, ACCOUNT), id="full-arn-param"
        ),
        pytest.param(
            f"{ARN}:f:$LATEST", None, FunctionRef("f", LATEST, REGION, ACCOUNT), id="full-arn"
        ),
    ],
)
def test_resolve_function(value: str, qualifier: str | None, expected: FunctionRef) -> None:
    assert resolve_function(value, qualifier, region=REGION, account=ACCOUNT) == expected


@pytest.mark.parametrize(
    ("value", "qualifier"),
    [
        ("f:1", "2"),
        ("f:live", "$LATEST"),
        ("f:$LATEST", "1"),
        (f"{ARN}:f:1", "live"),
        (f"{ACCOUNT}:function:f:1", "2"),
    ],
)
def test_qualifier_mismatch(value: str, qualifier: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        resolve_function(value, qualifier, region=REGION, account=ACCOUNT)
    assert caught.value.message == QUALIFIER_MISMATCH
    assert caught.value.status == 400


def test_function_from_another_region_is_not_reachable() -> None:
    with pytest.raises(ResourceNotFound) as caught:
        resolve_function(
            "arn:aws:lambda:us-west-2:123456789012:function:f", None, region=REGION, account=ACCOUNT
        )
    assert caught.value.message == (
        "Functions from 'us-west-2' are not reachable in this region ('us-east-1')"
    )
    assert caught.value.code == "ResourceNotFoundException"
    assert caught.value.status == 404


@pytest.mark.parametrize(
    ("value", "qualifier", "operation", "resource", "action"),
    [
        (
            f"{OTHER_ACCOUNT}:function:f",
            None,
            "GetFunction",
            f"arn:aws:lambda:us-east-1:{OTHER_ACCOUNT}:function:f",
            "lambda:GetFunction",
        ),
        (
            f"arn:aws:lambda:us-east-1:{OTHER_ACCOUNT}:function:f:3",
            None,
            "Invoke",
            f"arn:aws:lambda:us-east-1:{OTHER_ACCOUNT}:function:f:3",
            "lambda:InvokeFunction",
        ),
        (
            f"arn:aws:lambda:us-east-1:{OTHER_ACCOUNT}:function:f",
            "live",
            "DeleteFunction",
            f"arn:aws:lambda:us-east-1:{OTHER_ACCOUNT}:function:f:live",
            "lambda:DeleteFunction",
        ),
    ],
)
def test_function_of_another_account_is_denied_as_iam_words_it(
    value: str, qualifier: str | None, operation: str, resource: str, action: str
) -> None:
    with pytest.raises(AccessDenied) as caught:
        resolve_function(value, qualifier, region=REGION, account=ACCOUNT, operation=operation)
    assert caught.value.message == (
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: {action} on resource: "
        f"{resource} because no resource-based policy allows the {action} action"
    )
    assert (caught.value.code, caught.value.status) == ("AccessDeniedException", 403)


def test_another_accounts_arn_where_no_policy_could_apply_is_denied_without_a_message() -> None:
    with pytest.raises(AccessDenied) as caught:
        resolve_function(
            f"{OTHER_ACCOUNT}:function:f",
            None,
            region=REGION,
            account=ACCOUNT,
            operation="CreateFunction",
        )
    assert caught.value.message == ""


@pytest.mark.parametrize(
    ("qualifier", "expected"),
    [
        (None, "arn:aws:lambda:us-east-1:123456789012:function:f"),
        ("", "arn:aws:lambda:us-east-1:123456789012:function:f"),
        ("$LATEST", "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"),
        ("12", "arn:aws:lambda:us-east-1:123456789012:function:f:12"),
        ("live", "arn:aws:lambda:us-east-1:123456789012:function:f:live"),
    ],
)
def test_function_arn(qualifier: str | None, expected: str) -> None:
    assert function_arn(REGION, ACCOUNT, "f", qualifier) == expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (None, "arn:aws:lambda:eu-west-1:123456789012:layer:deps"),
        (0, "arn:aws:lambda:eu-west-1:123456789012:layer:deps:0"),
        (4, "arn:aws:lambda:eu-west-1:123456789012:layer:deps:4"),
    ],
)
def test_layer_arn(version: int | None, expected: str) -> None:
    assert layer_arn("eu-west-1", ACCOUNT, "deps", version) == expected


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            "arn:aws:lambda:us-east-1:123456789012:layer:deps:3",
            LayerVersionRef("us-east-1", ACCOUNT, "deps", 3),
        ),
        (
            "arn:aws-cn:lambda:cn-north-1:123456789012:layer:my_layer-1:12",
            LayerVersionRef("cn-north-1", ACCOUNT, "my_layer-1", 12),
        ),
        ("arn:aws:lambda:us-east-1:123456789012:layer:deps", None),
        ("arn:aws:lambda:us-east-1:123456789012:layer:deps:latest", None),
        ("arn:aws:lambda:us-east-1:1234:layer:deps:3", None),
        ("arn:aws:lambda:us-east-1:123456789012:function:deps:3", None),
        ("arn:aws:s3:us-east-1:123456789012:layer:deps:3", None),
        ("deps:3", None),
    ],
)
def test_parse_layer_version_arn(arn: str, expected: LayerVersionRef | None) -> None:
    assert parse_layer_version_arn(arn) == expected


def test_layer_arn_round_trips_through_the_parser() -> None:
    arn = layer_arn("ap-south-1", ACCOUNT, "deps", 9)
    assert parse_layer_version_arn(arn) == LayerVersionRef("ap-south-1", ACCOUNT, "deps", 9)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("deps", ("deps", None, None)),
        ("arn:aws:lambda:us-east-1:123456789012:layer:deps", ("deps", REGION, ACCOUNT)),
    ],
)
def test_parse_layer_name(value: str, expected: tuple[str, str | None, str | None]) -> None:
    assert parse_layer_name(value) == expected


@pytest.mark.parametrize("length", [1, 63, 64])
def test_new_name_up_to_64_characters(length: int) -> None:
    check_new_name("a" * length)


def test_new_name_of_65_characters() -> None:
    name = "a" * 65
    with pytest.raises(InvalidParameterValue) as caught:
        check_new_name(name)
    assert caught.value.message == (
        f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64"
    )


@pytest.mark.parametrize(
    ("qualifier", "expected"),
    [
        ("1", True),
        ("0", True),
        ("42", True),
        ("007", True),
        ("$LATEST", False),
        ("live", False),
        ("1a", False),
        ("v1", False),
        ("", False),
        ("-1", False),
        ("1.0", False),
    ],
)
def test_is_version_number(qualifier: str, expected: bool) -> None:
    assert is_version_number(qualifier) is expected
