"""rest-json over botocore's real Lambda model: routing, parsing and rendering (spec 0.2)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import botocore.session
import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import RestJSONParser

from gureum.aws.errors import (
    AwsError,
    SerializationError,
    ServiceError,
    UnknownOperation,
    ValidationError,
)
from gureum.aws.http import HttpResponse, header
from gureum.aws.protocols.restjson import RestJsonProtocol
from gureum.aws.sigv4 import HttpRequest
from gureum.lambda_.domain.errors import (
    AccessDenied,
    InvalidParameterValue,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
    TooManyRequests,
)

LAMBDA = botocore.session.get_session().get_service_model("lambda")
PROTOCOL = RestJsonProtocol(LAMBDA)
LAYER_VERSION_ARN = "arn:aws:lambda:us-east-1:123456789012:layer:deps:3"


def request(
    method: str,
    path: str,
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> HttpRequest:
    return HttpRequest(method, path, query, headers or [], body)


def operation_of(req: HttpRequest) -> str:
    name: str = PROTOCOL.route(req).operation.name
    return name


def parsed(req: HttpRequest) -> dict[str, Any]:
    return PROTOCOL.parse(PROTOCOL.route(req), req)


def body_of(response: HttpResponse) -> Any:
    return json.loads(response.body)


def as_boto3_sees_it(response: HttpResponse, shape_name: str) -> Mapping[str, Any]:
    """What botocore's parser makes of an error response (code, message, modeled members)."""
    wire = {
        "status_code": response.status,
        "headers": HeadersDict(response.headers),
        "body": response.body,
    }
    generic = RestJSONParser().parse(wire, LAMBDA.operation_model("GetFunction").output_shape)
    result: dict[str, Any] = {"Error": generic["Error"]}
    if shape_name in {shape.name for shape in LAMBDA.error_shapes}:
        result["Modeled"] = RestJSONParser().parse(wire, LAMBDA.shape_for(shape_name))
    return result


# --- routing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "operation"),
    [
        ("GET", "/2015-03-31/functions/", "", "ListFunctions"),
        ("GET", "/2015-03-31/functions", "", "ListFunctions"),
        ("GET", "/2015-03-31/functions/", "MaxItems=10&Marker=abc", "ListFunctions"),
        ("POST", "/2015-03-31/functions", "", "CreateFunction"),
        ("GET", "/2015-03-31/functions/my-fn", "", "GetFunction"),
        ("GET", "/2015-03-31/functions/my-fn%3A%24LATEST", "", "GetFunction"),
        ("DELETE", "/2015-03-31/functions/my-fn", "Qualifier=3", "DeleteFunction"),
        ("GET", "/2015-03-31/functions/my-fn/configuration", "", "GetFunctionConfiguration"),
        ("PUT", "/2015-03-31/functions/my-fn/configuration", "", "UpdateFunctionConfiguration"),
        ("PUT", "/2015-03-31/functions/my-fn/code", "", "UpdateFunctionCode"),
        ("POST", "/2015-03-31/functions/my-fn/versions", "", "PublishVersion"),
        ("GET", "/2015-03-31/functions/my-fn/versions", "", "ListVersionsByFunction"),
        ("POST", "/2015-03-31/functions/my-fn/aliases", "", "CreateAlias"),
        ("GET", "/2015-03-31/functions/my-fn/aliases", "", "ListAliases"),
        ("GET", "/2015-03-31/functions/my-fn/aliases/live", "", "GetAlias"),
        ("PUT", "/2015-03-31/functions/my-fn/aliases/live", "", "UpdateAlias"),
        ("DELETE", "/2015-03-31/functions/my-fn/aliases/live", "", "DeleteAlias"),
        ("POST", "/2015-03-31/functions/my-fn/invocations", "", "Invoke"),
        ("PUT", "/2017-10-31/functions/my-fn/concurrency", "", "PutFunctionConcurrency"),
        ("GET", "/2016-08-19/account-settings/", "", "GetAccountSettings"),
        ("GET", "/2018-10-31/layers", "", "ListLayers"),
        ("GET", "/2018-10-31/layers", "CompatibleRuntime=python3.12", "ListLayers"),
        (
            "GET",
            "/2018-10-31/layers",
            f"find=LayerVersion&Arn={quote(LAYER_VERSION_ARN, safe='')}",
            "GetLayerVersionByArn",
        ),
        (
            "GET",
            "/2018-10-31/layers",
            f"Arn={quote(LAYER_VERSION_ARN, safe='')}&find=LayerVersion",
            "GetLayerVersionByArn",
        ),
        ("GET", "/2018-10-31/layers/deps/versions", "", "ListLayerVersions"),
        ("GET", "/2018-10-31/layers/deps/versions/3", "", "GetLayerVersion"),
    ],
)
def test_routing(method: str, path: str, query: str, operation: str) -> None:
    assert operation_of(request(method, path, query)) == operation


def test_path_parameters_are_decoded() -> None:
    routed = PROTOCOL.route(request("GET", "/2015-03-31/functions/my-fn%3A%24LATEST"))
    assert routed.path_params == {"FunctionName": "my-fn:$LATEST"}


def test_get_function_with_qualified_name() -> None:
    req = request("GET", "/2015-03-31/functions/my-fn%3A%24LATEST")
    assert parsed(req) == {"FunctionName": "my-fn:$LATEST"}


def test_get_function_by_full_arn() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:my-fn:live"
    req = request("GET", "/2015-03-31/functions/" + quote(arn, safe=""), "Qualifier=live")
    assert parsed(req) == {"FunctionName": arn, "Qualifier": "live"}


def test_get_layer_version_by_arn() -> None:
    req = request(
        "GET", "/2018-10-31/layers", f"find=LayerVersion&Arn={quote(LAYER_VERSION_ARN, safe='')}"
    )
    assert parsed(req) == {"Arn": LAYER_VERSION_ARN}


def test_path_and_uri_members_together() -> None:
    req = request("GET", "/2018-10-31/layers/deps/versions/3")
    assert parsed(req) == {"LayerName": "deps", "VersionNumber": 3}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/2015-03-31/nothing-here"),
        ("GET", "/"),
        ("PATCH", "/2015-03-31/functions"),
        ("GET", "/2015-03-31/functions/my-fn/unknown"),
        ("POST", "/2015-03-31/functions/my-fn"),
    ],
)
def test_unknown_route(method: str, path: str) -> None:
    with pytest.raises(UnknownOperation) as caught:
        PROTOCOL.route(request(method, path))
    assert caught.value.code == "UnknownOperationException"
    assert caught.value.status == 404


# --- parsing -----------------------------------------------------------------------------------


def test_invoke_takes_the_raw_payload_and_its_headers() -> None:
    payload = b"\xff\x00 not json {"
    req = request(
        "POST",
        "/2015-03-31/functions/my-fn/invocations",
        "Qualifier=live",
        [
            ("x-amz-invocation-type", "Event"),
            ("X-Amz-Log-Type", "Tail"),
            ("X-Amz-Client-Context", "eyJjdXN0b20iOnt9fQ=="),
            ("X-Amz-Date", "20240501T000000Z"),
        ],
        payload,
    )
    assert parsed(req) == {
        "FunctionName": "my-fn",
        "Qualifier": "live",
        "InvocationType": "Event",
        "LogType": "Tail",
        "ClientContext": "eyJjdXN0b20iOnt9fQ==",
        "Payload": payload,
    }


def test_invoke_with_empty_payload_and_no_content_type() -> None:
    req = request("POST", "/2015-03-31/functions/my-fn/invocations")
    assert parsed(req) == {"FunctionName": "my-fn", "Payload": b""}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {}),
        ("MaxItems=10", {"MaxItems": 10}),
        ("MaxItems=10&Marker=abc", {"MaxItems": 10, "Marker": "abc"}),
        (
            "FunctionVersion=ALL&MasterRegion=us-east-1",
            {"FunctionVersion": "ALL", "MasterRegion": "us-east-1"},
        ),
        ("Marker=a%2Bb%3D", {"Marker": "a+b="}),
        ("Unknown=1", {}),
    ],
)
def test_query_members(query: str, expected: dict[str, Any]) -> None:
    assert parsed(request("GET", "/2015-03-31/functions/", query)) == expected


@pytest.mark.parametrize("value", ["ten", "1.5", ""])
def test_query_integer_that_is_not_an_integer(value: str) -> None:
    with pytest.raises(SerializationError):
        parsed(request("GET", "/2015-03-31/functions/", f"MaxItems={value}"))


def test_json_body_members() -> None:
    body = json.dumps(
        {"Description": "v2", "RevisionId": "r-1", "CodeSha256": "abc=", "Unmodeled": 1}
    ).encode()
    req = request("POST", "/2015-03-31/functions/my-fn/versions", body=body)
    assert parsed(req) == {
        "FunctionName": "my-fn",
        "Description": "v2",
        "RevisionId": "r-1",
        "CodeSha256": "abc=",
    }


def test_json_body_nested_members() -> None:
    body = json.dumps(
        {
            "Name": "live",
            "FunctionVersion": "1",
            "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.05}},
        }
    ).encode()
    req = request("POST", "/2015-03-31/functions/my-fn/aliases", body=body)
    assert parsed(req) == {
        "FunctionName": "my-fn",
        "Name": "live",
        "FunctionVersion": "1",
        "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.05}},
    }


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_json_body(body: bytes) -> None:
    with pytest.raises(SerializationError) as caught:
        parsed(request("POST", "/2015-03-31/functions/my-fn/versions", body=body))
    assert caught.value.code == "InvalidRequestContentException"


# --- rendering results ---------------------------------------------------------------------------


def test_delete_function_renders_204_with_no_body() -> None:
    response = PROTOCOL.render(LAMBDA.operation_model("DeleteFunction"), {"StatusCode": 204})
    assert response.status == 204
    assert response.body == b""
    assert header(response.headers, "Content-Type") is None


def test_publish_version_renders_201_json() -> None:
    response = PROTOCOL.render(
        LAMBDA.operation_model("PublishVersion"),
        {
            "FunctionName": "my-fn",
            "Version": "1",
            "Timeout": 3,
            "Internal": "dropped",
            "KMSKeyArn": None,
        },
    )
    assert response.status == 201
    assert header(response.headers, "Content-Type") == "application/json"
    assert body_of(response) == {"FunctionName": "my-fn", "Version": "1", "Timeout": 3}


def test_invoke_renders_raw_payload_and_headers() -> None:
    response = PROTOCOL.render(
        LAMBDA.operation_model("Invoke"),
        {
            "StatusCode": 200,
            "Payload": b'{"errorMessage":"boom"}',
            "ExecutedVersion": "2",
            "FunctionError": "Unhandled",
        },
    )
    assert response.status == 200
    assert response.body == b'{"errorMessage":"boom"}'
    assert header(response.headers, "X-Amz-Executed-Version") == "2"
    assert header(response.headers, "X-Amz-Function-Error") == "Unhandled"


def test_event_invoke_renders_202_with_no_body() -> None:
    response = PROTOCOL.render(LAMBDA.operation_model("Invoke"), {"StatusCode": 202})
    assert response.status == 202
    assert response.body == b""
    assert header(response.headers, "X-Amz-Executed-Version") is None


# --- rendering errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        pytest.param(
            ResourceNotFound("Function not found: arn:aws:lambda:us-east-1:1:function:f"),
            404,
            {
                "Type": "User",
                "Message": "Function not found: arn:aws:lambda:us-east-1:1:function:f",
            },
            id="not-found-capital-message",
        ),
        pytest.param(
            InvalidParameterValue("bad value"),
            400,
            {"Type": "User", "message": "bad value"},
            id="invalid-parameter-lower-message",
        ),
        pytest.param(
            ResourceConflict("in progress"),
            409,
            {"Type": "User", "message": "in progress"},
            id="conflict",
        ),
        pytest.param(
            PreconditionFailed("stale"),
            412,
            {"Type": "User", "message": "stale"},
            id="precondition",
        ),
        pytest.param(
            TooManyRequests(
                "Rate Exceeded.", Reason="ReservedFunctionConcurrentInvocationLimitExceeded"
            ),
            429,
            {
                "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                "Type": "User",
                "message": "Rate Exceeded.",
            },
            id="throttle-with-reason",
        ),
        pytest.param(
            ServiceError("Internal error"),
            500,
            {"Type": "Service", "Message": "Internal error"},
            id="service-fault",
        ),
        pytest.param(
            ValidationError("1 validation error detected: Value '2024' at 'name' failed"),
            400,
            {"message": "1 validation error detected: Value '2024' at 'name' failed"},
            id="unmodeled-validation",
        ),
        pytest.param(
            UnknownOperation("Unknown operation GET /x"),
            404,
            {"message": "Unknown operation GET /x"},
            id="unmodeled-unknown-operation",
        ),
        pytest.param(
            AccessDenied(""),
            403,
            {"message": None},
            id="no-message-is-a-null-one",
        ),
    ],
)
def test_render_error(error: AwsError, status: int, body: dict[str, Any]) -> None:
    response = PROTOCOL.render_error(error)
    assert response.status == status
    assert body_of(response) == body
    assert header(response.headers, "x-amzn-ErrorType") == error.code
    assert header(response.headers, "Content-Type") == "application/json"


@pytest.mark.parametrize(
    "error",
    [
        ResourceNotFound("Function not found: x"),
        InvalidParameterValue("bad value"),
        TooManyRequests("Rate Exceeded.", Reason="CallerRateLimitExceeded"),
        ValidationError("1 validation error detected: x"),
        ServiceError("Internal error"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_boto3_reads_code_and_message(error: AwsError) -> None:
    seen = as_boto3_sees_it(PROTOCOL.render_error(error), error.code)
    assert seen["Error"] == {"Code": error.code, "Message": error.message}


def test_boto3_reads_modeled_members() -> None:
    error = TooManyRequests("Rate Exceeded.", Reason="CallerRateLimitExceeded")
    seen = as_boto3_sees_it(PROTOCOL.render_error(error), error.code)
    assert seen["Modeled"] == {
        "Type": "User",
        "message": "Rate Exceeded.",
        "Reason": "CallerRateLimitExceeded",
    }


def test_type_none_removes_type() -> None:
    error = InvalidParameterValue(
        "$LATEST is not supported for an alias pointing to more than 1 version", Type=None
    )
    response = PROTOCOL.render_error(error)
    assert body_of(response) == {
        "message": "$LATEST is not supported for an alias pointing to more than 1 version"
    }


def test_type_none_still_reads_as_the_right_error() -> None:
    error = InvalidParameterValue("no type here", Type=None)
    response = PROTOCOL.render_error(error)
    assert response.status == 400
    assert body_of(response)["message"] == "no type here"
    assert as_boto3_sees_it(response, error.code)["Error"] == {
        "Code": "InvalidParameterValueException",
        "Message": "no type here",
    }
