"""The wire layer under abuse: validation text, bad bodies, unknown paths and operations, limits."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.server import GureumProcess
from tests.support.signing import RawReply, RepeatedBody, send

CREATE_FUNCTION_LIMIT = 70_167_211
TOO_LARGE = (
    f"Request must be smaller than {CREATE_FUNCTION_LIMIT} bytes for the CreateFunction operation"
)
JSON = {"Content-Type": "application/json"}
MAX_ITEMS_TOO_SMALL = (
    "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: "
    "Member must have value greater than or equal to 1"
)


def failure(call: Callable[..., Any], **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response
    return response


def assert_error(reply: RawReply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert reply.headers["x-amzn-errortype"] == code
    assert reply.headers["x-amzn-requestid"]
    return reply.json()


# --- validation text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/2015-03-31/functions/?MaxItems=0",
        "/2015-03-31/functions/{name}/aliases?MaxItems=0",
        "/2015-03-31/functions/{name}/versions?MaxItems=0",
    ],
)
def test_values_botocore_never_sends_are_still_validated(
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    path: str,
) -> None:
    make_function()
    reply = send(server.url, "GET", path.format(name=function_name))
    body = assert_error(reply, 400, "ValidationException")
    # ValidationException is not in Lambda's model: the body is the message alone.
    assert body == {"message": MAX_ITEMS_TOO_SMALL}


def test_several_violations_are_counted_and_joined(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function()
    lambda_client.publish_version(FunctionName=function_name)
    description = "d" * 257
    response = failure(
        lambda_client.create_alias,
        FunctionName=function_name,
        Name="2024",
        FunctionVersion="1",
        Description=description,
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        "2 validation errors detected: Value '2024' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+); "
        f"Value '{description}' at 'description' failed to satisfy constraint: Member must "
        "have length less than or equal to 256"
    )
    assert lambda_client.list_aliases(FunctionName=function_name)["Aliases"] == []


def test_enum_and_maximum_are_checked_on_the_server(lambda_client: Any) -> None:
    # botocore checks neither enums nor maxima (spec 0.2), so these reach gureum.
    response = failure(lambda_client.list_functions, FunctionVersion="invalid")
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        "1 validation error detected: Value 'invalid' at 'functionVersion' failed to satisfy "
        "constraint: Member must satisfy enum value set: [ALL]"
    )
    response = failure(lambda_client.list_functions, MaxItems=10001)
    assert response["Error"]["Message"] == (
        "1 validation error detected: Value '10001' at 'maxItems' failed to satisfy "
        "constraint: Member must have value less than or equal to 10000"
    )


def test_missing_required_members_are_named(server: GureumProcess, function_name: str) -> None:
    document = json.dumps({"FunctionName": function_name, "Runtime": "python3.12"}).encode()
    reply = send(server.url, "POST", "/2015-03-31/functions", document, headers=JSON)
    body = assert_error(reply, 400, "ValidationException")
    assert body["message"] == (
        "2 validation errors detected: Value null at 'role' failed to satisfy constraint: "
        "Member must not be null; Value null at 'code' failed to satisfy constraint: "
        "Member must not be null"
    )


# --- bodies and paths that make no sense ------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [b"{not json", b"[1, 2]", b"\x87\x00garbage", b'{"FunctionName": 7, "Role": "r"}'],
)
def test_unparseable_body_is_invalid_request_content(
    server: GureumProcess, lambda_client: Any, document: bytes
) -> None:
    reply = send(server.url, "POST", "/2015-03-31/functions", document, headers=JSON)
    body = assert_error(reply, 400, "InvalidRequestContentException")
    assert body["Type"] == "User"
    assert body["message"].startswith("Could not parse request body into json: ")
    assert "Traceback" not in body["message"]
    # The server shrugs it off.
    assert "Functions" in lambda_client.list_functions()


def test_non_numeric_query_value_is_a_client_error(
    server: GureumProcess, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function()
    reply = send(server.url, "GET", f"/2015-03-31/functions/{function_name}/aliases?MaxItems=ten")
    assert reply.status == 400
    assert reply.headers["x-amzn-errortype"] == "InvalidRequestContentException"


@pytest.mark.parametrize("weight", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_standard_json_numbers_are_refused(
    server: GureumProcess,
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    weight: bytes,
) -> None:
    make_function()
    lambda_client.publish_version(FunctionName=function_name)
    lambda_client.update_function_configuration(FunctionName=function_name, Description="2")
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 0.1}
    )
    lambda_client.publish_version(FunctionName=function_name)
    # A NaN weight would slip past every range check (all comparisons with NaN are false).
    document = b'{"Name": "live", "FunctionVersion": "1", '
    document += b'"RoutingConfig": {"AdditionalVersionWeights": {"2": ' + weight + b"}}}"
    reply = send(
        server.url, "POST", f"/2015-03-31/functions/{function_name}/aliases", document, headers=JSON
    )
    body = assert_error(reply, 400, "InvalidRequestContentException")
    assert body["message"].startswith("Could not parse request body into json: ")
    assert lambda_client.list_aliases(FunctionName=function_name)["Aliases"] == []


@pytest.mark.parametrize(
    ("method", "path", "document"),
    [
        ("GET", "/2018-10-31/layers/some-layer/versions/99999999999999999999999", b""),
        ("DELETE", "/2018-10-31/layers/some-layer/versions/9223372036854775808", b""),
        ("GET", "/2015-03-31/functions/?MaxItems=2147483648", b""),
        ("POST", "/2015-03-31/functions", b'{"FunctionName": "f", "Timeout": 2147483648}'),
    ],
)
def test_numbers_beyond_the_java_types_are_client_errors(
    server: GureumProcess, method: str, path: str, document: bytes
) -> None:
    reply = send(server.url, method, path, document, headers=JSON if document else None)
    assert_error(reply, 400, "InvalidRequestContentException")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope/at/all"),
        ("GET", "/"),
        ("DELETE", "/2015-03-31/functions"),
        ("PATCH", "/2015-03-31/functions/x"),
    ],
)
def test_unknown_path_is_a_404_not_a_500(server: GureumProcess, method: str, path: str) -> None:
    reply = send(server.url, method, path)
    body = assert_error(reply, 404, "UnknownOperationException")
    assert body["message"] == f"Unknown operation {method} {path}"


def test_unimplemented_operation_says_so(
    server: GureumProcess, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function()
    # Standard retry mode retries 500/502/503/504: the answer must not be one of those.
    client = server.client(config=Config(retries={"mode": "standard", "max_attempts": 3}))
    response = failure(client.get_function_code_signing_config, FunctionName=function_name)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    assert response["Error"]["Code"] == "NotImplementedException"
    assert response["Error"]["Message"] == (
        "gureum does not implement the GetFunctionCodeSigningConfig operation yet."
    )


# --- request size -----------------------------------------------------------------------------


def _create_function_body(size: int) -> RepeatedBody:
    """A CreateFunction document of exactly `size` bytes whose ZipFile is valid base64."""
    head = b'{"FunctionName": "too-big", "Runtime": "python3.12", "Handler": "index.handler", '
    head += b'"Role": "arn:aws:iam::000000000000:role/lambda-role", '
    tail = b'"}}'
    key = b'"Code": {"ZipFile": "'
    padding = (size - len(head) - len(key) - len(tail)) % 4
    return RepeatedBody(head + b" " * padding + key, size, tail)


def test_create_function_just_over_the_limit_is_too_large(
    server: GureumProcess, lambda_client: Any
) -> None:
    reply = send(
        server.url,
        "POST",
        "/2015-03-31/functions",
        _create_function_body(CREATE_FUNCTION_LIMIT + 1),
        headers=JSON,
    )
    body = assert_error(reply, 413, "RequestEntityTooLargeException")
    assert body == {"message": TOO_LARGE}
    assert failure(lambda_client.get_function, FunctionName="too-big")["Error"]["Code"] == (
        "ResourceNotFoundException"
    )


def test_create_function_at_the_limit_is_not_too_large(server: GureumProcess) -> None:
    reply = send(
        server.url,
        "POST",
        "/2015-03-31/functions",
        _create_function_body(CREATE_FUNCTION_LIMIT),
        headers=JSON,
    )
    # Past the request check, the package itself (52.6 MB once decoded) is too large.
    body = assert_error(reply, 413, "RequestEntityTooLargeException")
    assert body == {"message": "Zipped size must be smaller than 52428800 bytes"}


def test_create_function_far_over_the_limit_is_too_large(server: GureumProcess) -> None:
    reply = send(
        server.url,
        "POST",
        "/2015-03-31/functions",
        _create_function_body(CREATE_FUNCTION_LIMIT + 10_000_000),
        headers=JSON,
    )
    body = assert_error(reply, 413, "RequestEntityTooLargeException")
    assert body == {"message": TOO_LARGE}
