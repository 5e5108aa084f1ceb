"""Constraint violations must read exactly like the ValidationException messages AWS sends."""

from __future__ import annotations

import math

import botocore.session
import pytest
from botocore.model import ShapeResolver, StructureShape

from gureum.aws.errors import ValidationError
from gureum.aws.validation import constraint_violations, java_repr, validate

LAMBDA = botocore.session.get_session().get_service_model("lambda")
NAMESPACED_FUNCTION_NAME = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
LAYER_ARN = (
    r"((arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}"
    r":layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+))"
)
ROLE = "arn:aws:iam::123456789012:role/lambda"
CAPACITY_PROVIDER = "arn:aws:lambda:us-east-1:123456789012:capacity-provider:c"
ACCESS_POINT = (
    "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0"
)
NEW_FUNCTION = {"FunctionName": "f", "Role": ROLE, "Code": {"ZipFile": b"zip"}}


def input_shape(operation: str) -> StructureShape:
    shape: StructureShape = LAMBDA.operation_model(operation).input_shape
    return shape


def at(path: str, text: str, value: str | None) -> str:
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {text}"


VIOLATIONS = [
    pytest.param(
        "CreateAlias",
        {"FunctionName": "f", "Name": "2024", "FunctionVersion": "1"},
        [
            at(
                "name",
                "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
                "2024",
            )
        ],
        id="alias-name-all-digits",
    ),
    pytest.param(
        "CreateAlias",
        {"FunctionName": "f", "Name": "a" * 129, "FunctionVersion": "1"},
        [at("name", "Member must have length less than or equal to 128", "a" * 129)],
        id="alias-name-too-long",
    ),
    pytest.param(
        "CreateAlias",
        {"FunctionName": "f", "Name": "live"},
        [at("functionVersion", "Member must not be null", None)],
        id="required-member-missing",
    ),
    pytest.param(
        "UpdateAlias",
        {
            "FunctionName": "f",
            "Name": "a",
            "RoutingConfig": {"AdditionalVersionWeights": {"$LATEST": 0.5}},
        },
        [
            at(
                "routingConfig.additionalVersionWeights",
                "Map keys must satisfy constraint: [Member must have length less than or equal to "
                "1024, Member must have length greater than or equal to 1, Member must satisfy "
                "regular expression pattern: [0-9]+]",
                "{$LATEST=0.5}",
            )
        ],
        id="routing-weight-key",
    ),
    pytest.param(
        "UpdateAlias",
        {
            "FunctionName": "f",
            "Name": "a",
            "RoutingConfig": {"AdditionalVersionWeights": {"2": 2.0}},
        },
        [
            at(
                "routingConfig.additionalVersionWeights",
                "Map value must satisfy constraint: [Member must have value less than or equal "
                "to 1.0, Member must have value greater than or equal to 0.0, Member must not be "
                "null]",
                "{2=2.0}",
            )
        ],
        id="routing-weight-value",
    ),
    pytest.param(
        "PutFunctionEventInvokeConfig",
        {"FunctionName": "f", "MaximumRetryAttempts": 3},
        [at("maximumRetryAttempts", "Member must have value less than or equal to 2", "3")],
        id="integer-above-max",
    ),
    pytest.param(
        "ListAliases",
        {"FunctionName": "f", "MaxItems": 0},
        [at("maxItems", "Member must have value greater than or equal to 1", "0")],
        id="integer-below-min",
    ),
    pytest.param(
        "GetFunction",
        {"FunctionName": "my-function!"},
        [
            at(
                "functionName",
                f"Member must satisfy regular expression pattern: {NAMESPACED_FUNCTION_NAME}",
                "my-function!",
            )
        ],
        id="function-name-pattern",
    ),
    pytest.param(
        "Invoke",
        {"FunctionName": "f", "InvocationType": "Async"},
        [
            at(
                "invocationType",
                "Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
                "Async",
            )
        ],
        id="enum",
    ),
    pytest.param(
        "CreateFunction",
        {**NEW_FUNCTION, "SnapStart": {"ApplyOn": "Always"}},
        [
            at(
                "snapStart.applyOn",
                "Member must satisfy enum value set: [PublishedVersions, None]",
                "Always",
            )
        ],
        id="nested-enum",
    ),
    pytest.param(
        "CreateFunction",
        {**NEW_FUNCTION, "EphemeralStorage": {}},
        [at("ephemeralStorage.size", "Member must not be null", None)],
        id="nested-required",
    ),
    pytest.param(
        "CreateFunction",
        {**NEW_FUNCTION, "Layers": ["my-layer"]},
        [
            at(
                "layers",
                "Member must satisfy constraint: [Member must have length less than or equal to "
                "2048, Member must have length greater than or equal to 1, Member must satisfy "
                f"regular expression pattern: {LAYER_ARN}, Member must not be null]",
                "[my-layer]",
            )
        ],
        id="list-member-pattern",
    ),
    # Recorded against AWS (LocalStack's test_lambda_api.snapshot.json,
    # test_invalid_vpc_config_security_group): a member that may be empty is not "not null".
    pytest.param(
        "CreateFunction",
        {**NEW_FUNCTION, "VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["bad-1"]}},
        [
            at(
                "vpcConfig.securityGroupIds",
                "Member must satisfy constraint: [Member must have length less than or equal to "
                "1024, Member must have length greater than or equal to 0, Member must satisfy "
                "regular expression pattern: sg-[0-9a-zA-Z]*]",
                "[bad-1]",
            )
        ],
        id="list-member-that-may-be-empty",
    ),
    pytest.param(
        "CreateFunction",
        {**NEW_FUNCTION, "Architectures": ["x86_64", "arm"]},
        [
            at("architectures", "Member must have length less than or equal to 1", "[x86_64, arm]"),
            at(
                "architectures",
                "Member must satisfy constraint: [Member must satisfy enum value set: "
                "[x86_64, arm64], Member must not be null]",
                "[x86_64, arm]",
            ),
        ],
        id="list-length-and-member-enum",
    ),
    pytest.param(
        "CreateFunction",
        {**NEW_FUNCTION, "FileSystemConfigs": [{}]},
        [
            at("fileSystemConfigs.1.member.arn", "Member must not be null", None),
            at("fileSystemConfigs.1.member.localMountPath", "Member must not be null", None),
        ],
        id="structure-in-list",
    ),
    pytest.param(
        "CreateFunction",
        {**NEW_FUNCTION, "Environment": {"Variables": {"1ST": "secret"}}},
        [
            "Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy "
            "constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
        ],
        id="sensitive-value-not-shown",
    ),
    pytest.param(
        "CreateFunction",
        {**NEW_FUNCTION, "Tags": {"team:web": "x", "bad!": "y"}},
        [
            at(
                "tags",
                "Map keys must satisfy constraint: [Member must have length less than or equal to "
                "128, Member must have length greater than or equal to 1, Member must satisfy "
                r"regular expression pattern: ([\p{L}\p{Z}\p{N}_.:/=+\-@]*)]",
                "{team:web=x, bad!=y}",
            )
        ],
        id="java-unicode-class-pattern",
    ),
    pytest.param(
        "UpdateFunctionConfiguration",
        {
            "FunctionName": "f",
            "CapacityProviderConfig": {
                "LambdaManagedInstancesCapacityProviderConfig": {
                    "CapacityProviderArn": CAPACITY_PROVIDER,
                    "ExecutionEnvironmentMemoryGiBPerVCpu": 1.0,
                }
            },
        },
        [
            at(
                "capacityProviderConfig.lambdaManagedInstancesCapacityProviderConfig"
                ".executionEnvironmentMemoryGiBPerVCpu",
                "Member must have value greater than or equal to 2.0",
                "1.0",
            )
        ],
        id="double-bound-printed-as-double",
    ),
    pytest.param(
        "CreateAlias",
        {"FunctionName": "f", "Name": "", "FunctionVersion": "1"},
        [
            at("name", "Member must have length greater than or equal to 1", ""),
            at(
                "name",
                "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
                "",
            ),
        ],
        id="every-broken-constraint-of-a-member",
    ),
    pytest.param(
        "ListAliases",
        {"MaxItems": 0, "FunctionVersion": "v1", "FunctionName": "f"},
        [
            at(
                "functionVersion",
                r"Member must satisfy regular expression pattern: (\$LATEST(\.PUBLISHED)?|[0-9]+)",
                "v1",
            ),
            at("maxItems", "Member must have value greater than or equal to 1", "0"),
        ],
        id="declaration-order-not-request-order",
    ),
]


@pytest.mark.parametrize(("operation", "params", "expected"), VIOLATIONS)
def test_violations_read_like_aws(
    operation: str, params: dict[str, object], expected: list[str]
) -> None:
    assert constraint_violations(input_shape(operation), params) == expected


VALID = [
    pytest.param("CreateAlias", {"FunctionName": "f", "Name": "live", "FunctionVersion": "3"}),
    pytest.param(
        "UpdateAlias",
        {
            "FunctionName": "f",
            "Name": "live",
            "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5}},
        },
    ),
    pytest.param(
        "Invoke",
        {
            "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
            "Payload": b"{}",
        },
    ),
    pytest.param("PutFunctionEventInvokeConfig", {"FunctionName": "f", "MaximumRetryAttempts": 2}),
    pytest.param(
        "CreateFunction",
        {
            **NEW_FUNCTION,
            "Runtime": "python3.12",
            "Handler": "app.handler",
            "Architectures": ["arm64"],
            "Environment": {"Variables": {"LOG_LEVEL": "debug"}},
            "Tags": {"team": "web app", "größe": "1"},
            "FileSystemConfigs": [{"Arn": ACCESS_POINT, "LocalMountPath": "/mnt/data"}],
        },
    ),
]


@pytest.mark.parametrize(("operation", "params"), VALID)
def test_valid_requests_have_no_violations(operation: str, params: dict[str, object]) -> None:
    assert constraint_violations(input_shape(operation), params) == []
    validate(input_shape(operation), params)


def test_one_violation_message() -> None:
    with pytest.raises(ValidationError) as caught:
        validate(input_shape("ListAliases"), {"FunctionName": "f", "MaxItems": 0})
    assert caught.value.message == (
        "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )


def test_violations_are_counted_and_joined() -> None:
    with pytest.raises(ValidationError) as caught:
        validate(input_shape("CreateAlias"), {"FunctionName": "f", "Name": "2024"})
    assert caught.value.message == (
        "2 validation errors detected: Value '2024' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+); "
        "Value null at 'functionVersion' failed to satisfy constraint: Member must not be null"
    )


def test_values_of_the_wrong_type_are_left_to_the_parser() -> None:
    params = {"FunctionName": 7, "MaxItems": "ten", "FunctionVersion": ["1"]}
    assert constraint_violations(input_shape("ListAliases"), params) == []


def synthetic(shapes: dict[str, dict[str, object]]) -> StructureShape:
    shape: StructureShape = ShapeResolver(shapes).get_shape_by_name("Input")
    return shape


def test_pattern_python_cannot_compile_is_skipped_but_still_named() -> None:
    shape = synthetic(
        {
            "Input": {"type": "structure", "members": {"Names": {"shape": "Names"}}},
            "Names": {"type": "list", "member": {"shape": "Name"}},
            "Name": {"type": "string", "max": 3, "pattern": r"\p{Punct}+"},
        }
    )
    assert constraint_violations(shape, {"Names": ["ok"]}) == []
    assert constraint_violations(shape, {"Names": ["long"]}) == [
        at(
            "names",
            "Member must satisfy constraint: [Member must have length less than or equal to 3, "
            r"Member must satisfy regular expression pattern: \p{Punct}+, Member must not be null]",
            "[long]",
        )
    ]


def test_blobs_print_as_byte_buffers_and_recursive_shapes_terminate() -> None:
    shape = synthetic(
        {
            "Input": {
                "type": "structure",
                "members": {"Data": {"shape": "Data"}, "Child": {"shape": "Input"}},
            },
            "Data": {"type": "blob", "max": 2},
        }
    )
    deep = {"Child": {"Child": {"Data": b"abc"}}}
    assert constraint_violations(shape, deep) == [
        at(
            "child.child.data",
            "Member must have length less than or equal to 2",
            "java.nio.HeapByteBuffer[pos=0 lim=3 cap=3]",
        )
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (2.0, "2.0"),
        (0.5, "0.5"),
        (-0.0, "-0.0"),
        (0.001, "0.001"),
        (1.5e-4, "1.5E-4"),
        (1e7, "1.0E7"),
        (123456789.0, "1.23456789E8"),
        (-2.5e10, "-2.5E10"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (math.nan, "NaN"),
        ("verbatim 'text'", "verbatim 'text'"),
        (["a", 1, None], "[a, 1, null]"),
        ({"k": 1.0, "k2": [True]}, "{k=1.0, k2=[true]}"),
        (b"\x00\x01", "java.nio.HeapByteBuffer[pos=0 lim=2 cap=2]"),
    ],
)
def test_java_repr(value: object, expected: str) -> None:
    assert java_repr(value) == expected
