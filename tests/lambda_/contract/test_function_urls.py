"""Function URLs against a real server: the control plane with boto3 and AWS's errors, and the
URL itself reached as returned (urllib / http.client): the payload format 2.0 event, the
response mapping, CORS, AWS_IAM signatures, host-based addressing, throttles and errors."""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.functions import error_of
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

HANDLER = """\
import base64, json

def handler(event, context):
    path = event["rawPath"]
    if path == "/plain":
        return {"hello": "world"}
    if path == "/status":
        return {
            "statusCode": 201,
            "headers": {"x-custom": "yes"},
            "cookies": ["a=1", "b=2; Path=/"],
            "body": "created",
        }
    if path == "/binary":
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": base64.b64encode(bytes([0, 1, 255])).decode(),
            "isBase64Encoded": True,
        }
    if path == "/error":
        raise RuntimeError("boom")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(event),
    }
"""


@pytest.fixture
def url_function(make_function: Callable[..., Any], function_name: str) -> str:
    make_function(Code={"ZipFile": zip_of({"index.py": HANDLER})})
    return function_name


class Reply:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    url: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return Reply(reply.status, list(reply.headers.items()), reply.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, list(error.headers.items()), error.read())


# --- the control plane ------------------------------------------------------------------------


def test_create_get_update_list_delete(lambda_client: Any, url_function: str) -> None:
    created = lambda_client.create_function_url_config(
        FunctionName=url_function,
        AuthType="NONE",
        Cors={"AllowOrigins": ["https://example.com"], "MaxAge": 60},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionUrl"].startswith(f"{lambda_client.meta.endpoint_url}/lambda-url/")
    assert created["FunctionUrl"].endswith("/")
    assert created["FunctionArn"].endswith(f":function:{url_function}")
    assert created["AuthType"] == "NONE"
    assert created["InvokeMode"] == "BUFFERED"
    assert created["Cors"] == {"AllowOrigins": ["https://example.com"], "MaxAge": 60}
    got = lambda_client.get_function_url_config(FunctionName=url_function)
    assert got["FunctionUrl"] == created["FunctionUrl"]
    assert "LastModifiedTime" in got
    updated = lambda_client.update_function_url_config(
        FunctionName=url_function, AuthType="AWS_IAM"
    )
    assert updated["AuthType"] == "AWS_IAM"
    assert updated["Cors"] == created["Cors"]
    listed = lambda_client.list_function_url_configs(FunctionName=url_function)
    assert [c["FunctionUrl"] for c in listed["FunctionUrlConfigs"]] == [created["FunctionUrl"]]
    status, code, _ = error_of(
        lambda_client.create_function_url_config, FunctionName=url_function, AuthType="NONE"
    )
    assert (status, code) == (409, "ResourceConflictException")
    lambda_client.delete_function_url_config(FunctionName=url_function)
    assert error_of(lambda_client.get_function_url_config, FunctionName=url_function) == (
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )
    assert call(created["FunctionUrl"]).status == 404


def test_refusals(lambda_client: Any, url_function: str) -> None:
    status, code, _ = error_of(
        lambda_client.create_function_url_config, FunctionName="no-such-fn", AuthType="NONE"
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    status, code, _ = error_of(
        lambda_client.create_function_url_config,
        FunctionName=url_function,
        AuthType="NONE",
        InvokeMode="STREAMING",
    )
    assert (status, code) == (400, "ValidationException")
    status, code, _ = error_of(
        lambda_client.create_function_url_config,
        FunctionName=url_function,
        Qualifier="1",
        AuthType="NONE",
    )
    # The model's Qualifier pattern refuses a version number before Lambda looks.
    assert (status, code) == (400, "ValidationException")


def test_a_url_for_an_alias(lambda_client: Any, url_function: str) -> None:
    version = lambda_client.publish_version(FunctionName=url_function)["Version"]
    lambda_client.create_alias(FunctionName=url_function, Name="live", FunctionVersion=version)
    created = lambda_client.create_function_url_config(
        FunctionName=url_function, Qualifier="live", AuthType="NONE"
    )
    assert created["FunctionArn"].endswith(f":function:{url_function}:live")
    event = call(created["FunctionUrl"] + "echo").json()
    assert event["rawPath"] == "/echo"


# --- requests ---------------------------------------------------------------------------------


@pytest.fixture
def url(lambda_client: Any, url_function: str) -> str:
    created: str = lambda_client.create_function_url_config(
        FunctionName=url_function,
        AuthType="NONE",
        Cors={
            "AllowOrigins": ["https://example.com"],
            "AllowMethods": ["POST", "GET"],
            "AllowHeaders": ["x-token"],
            "ExposeHeaders": ["x-custom"],
            "MaxAge": 60,
        },
    )["FunctionUrl"]
    return created


def test_a_get_becomes_a_payload_2_0_event(url: str, server: GureumProcess) -> None:
    reply = call(
        url + "echo/deeper?a=1&a=2&b=x%20y",
        headers={"Cookie": "c1=v1; c2=v2", "X-Multi": "one", "User-Agent": "tester"},
    )
    assert reply.status == 200
    event = reply.json()
    url_id = url.rstrip("/").rsplit("/", 1)[1]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/echo/deeper"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-multi"] == "one"
    assert event["headers"]["user-agent"] == "tester"
    assert "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    context = event["requestContext"]
    assert context["apiId"] == url_id
    assert context["domainPrefix"] == url_id
    assert context["domainName"] == "127.0.0.1"
    assert context["stage"] == "$default"
    assert context["routeKey"] == "$default"
    assert context["http"] == {
        "method": "GET",
        "path": "/echo/deeper",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tester",
    }
    assert isinstance(context["timeEpoch"], int)
    assert context["requestId"] == reply.header("x-amzn-RequestId")


def test_post_bodies_text_and_base64(url: str) -> None:
    event = call(url, "POST", b'{"k": "v"}', {"Content-Type": "application/json"}).json()
    assert (event["body"], event["isBase64Encoded"]) == ('{"k": "v"}', False)
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["rawPath"] == "/"
    raw = bytes(range(256))
    event = call(url, "POST", raw, {"Content-Type": "application/octet-stream"}).json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_response_mapping(url: str) -> None:
    plain = call(url + "plain")
    assert (plain.status, plain.header("content-type")) == (200, "application/json")
    assert plain.json() == {"hello": "world"}
    status = call(url + "status")
    assert (status.status, status.body) == (201, b"created")
    assert status.header("x-custom") == "yes"
    assert status.all("set-cookie") == ["a=1", "b=2; Path=/"]
    binary = call(url + "binary")
    assert (binary.status, binary.body) == (200, bytes([0, 1, 255]))
    error = call(url + "error")
    assert error.status == 502
    assert error.json() == {"Message": "Internal Server Error"}


def test_cors(url: str) -> None:
    preflight = call(
        url + "echo",
        "OPTIONS",
        headers={
            "Origin": "https://example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-token",
        },
    )
    assert preflight.status == 200
    assert preflight.header("access-control-allow-origin") == "https://example.com"
    assert preflight.header("access-control-allow-methods") == "POST,GET"
    assert preflight.header("access-control-allow-headers") == "x-token"
    assert preflight.header("access-control-max-age") == "60"
    other = call(
        url,
        "OPTIONS",
        headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert other.header("access-control-allow-origin") is None
    simple = call(url + "status", headers={"Origin": "https://example.com"})
    assert simple.header("access-control-allow-origin") == "https://example.com"
    assert simple.header("access-control-expose-headers") == "x-custom"


def test_host_based_addressing(url: str, server: GureumProcess) -> None:
    url_id = url.rstrip("/").rsplit("/", 1)[1]
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        host = f"{url_id}.lambda-url.us-east-1.localhost:{server.port}"
        connection.request("GET", "/by/host?q=1", headers={"Host": host})
        reply = connection.getresponse()
        event = json.loads(reply.read())
    finally:
        connection.close()
    assert reply.status == 200
    assert event["rawPath"] == "/by/host"
    assert event["rawQueryString"] == "q=1"
    assert event["requestContext"]["domainName"] == f"{url_id}.lambda-url.us-east-1.localhost"


def _signed(url: str, secret: str, service: str = "lambda") -> dict[str, str]:
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("test", secret), service, "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_aws_iam_needs_a_valid_signature(lambda_client: Any, url_function: str) -> None:
    url = lambda_client.create_function_url_config(FunctionName=url_function, AuthType="AWS_IAM")[
        "FunctionUrl"
    ]
    target = url + "echo?x=1"
    assert call(target).status == 403
    assert call(target).json() == {"Message": "Forbidden"}
    assert call(target, headers=_signed(target, "wrong")).status == 403
    assert call(target, headers=_signed(target, "test", "s3")).status == 403
    signed = call(target, headers=_signed(target, "test"))
    assert signed.status == 200
    event = signed.json()
    assert event["rawPath"] == "/echo"
    assert event["requestContext"]["accountId"] == "000000000000"
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == "test"
    assert event["requestContext"]["authorizer"]["iam"]["accountId"] == "000000000000"


def test_throttles_answer_429(lambda_client: Any, url: str, url_function: str) -> None:
    lambda_client.put_function_concurrency(
        FunctionName=url_function, ReservedConcurrentExecutions=0
    )
    reply = call(url + "plain")
    assert reply.status == 429
    lambda_client.delete_function_concurrency(FunctionName=url_function)
    assert call(url + "plain").status == 200


def test_unknown_url_ids_are_404(server: GureumProcess) -> None:
    assert call(f"{server.url}/lambda-url/nosuchid/").status == 404


def test_a_body_past_six_megabytes_is_refused(url: str) -> None:
    reply = call(url, "POST", b"x" * (6_291_456 + 1), {"Content-Type": "text/plain"})
    assert reply.status == 413


def test_a_url_goes_with_its_function(
    lambda_client: Any, url: str, url_function: str, make_function: Callable[..., Any]
) -> None:
    lambda_client.delete_function(FunctionName=url_function)
    assert call(url + "plain").status == 404
    make_function(Code={"ZipFile": zip_of({"index.py": HANDLER})})  # the same name again
    assert call(url + "plain").status == 404
    assert error_of(lambda_client.get_function_url_config, FunctionName=url_function)[0] == 404
