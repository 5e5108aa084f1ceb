"""Hostile input over HTTP: what no SDK sends, answered as AWS answers it, never with a 500.

Signed raw requests (tests/support/signing.py) carry what botocore would refuse to build: payloads
nested 100,000 levels deep, numbers of thousands of digits, bodies that are not UTF-8. Each must
be the service's own 400, and the server must go on serving afterwards (issue #20).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from gureum.aws.accounts import DEFAULT_ACCESS_KEY, AccountDirectory
from gureum.aws.frontend import CallContext, Frontend, ServiceEndpoint
from gureum.aws.http import header
from gureum.aws.protocols.restjson import RestJsonProtocol
from gureum.aws.sigv4 import HttpRequest
from gureum.clock import SystemClock
from tests.support import fuzzing
from tests.support.aws import arn, aws_error
from tests.support.packages import HANDLER, zip_of
from tests.support.server import GureumProcess
from tests.support.signing import RawReply, send

pytestmark = pytest.mark.adversarial

NESTED = b"[" * 100_000 + b"]" * 100_000
TOO_DEEP = (
    "Document nesting depth (1001) exceeds the maximum allowed "
    "(1000, from `StreamReadConstraints.getMaxNestingDepth()`)"
)
PAYLOAD_PREFIX = "Could not parse request body into json: Could not parse payload into json: "
BODY_PREFIX = "Could not parse request body into json: "


def error_of(reply: RawReply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert reply.headers["x-amzn-errortype"] == code
    assert reply.headers["x-amzn-requestid"]
    return reply.json()


# --- Invoke payloads ----------------------------------------------------------------------------


@pytest.mark.parametrize("invocation_type", ["RequestResponse", "Event"])
def test_deeply_nested_payload_is_invalid_request_content(
    server: GureumProcess,
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    invocation_type: str,
) -> None:
    make_function()
    reply = send(
        server.url,
        "POST",
        f"/2015-03-31/functions/{function_name}/invocations",
        NESTED,
        headers={"X-Amz-Invocation-Type": invocation_type},
    )
    body = error_of(reply, 400, "InvalidRequestContentException")
    assert body == {"Type": "User", "message": PAYLOAD_PREFIX + TOO_DEEP}
    # Nothing was queued or run, and the function still answers.
    answer = lambda_client.invoke(FunctionName=function_name, Payload=b'{"ok": [[1]]}')
    assert json.load(answer["Payload"]) == {"ok": [[1]]}


def test_deeply_nested_invoke_async_arguments_are_invalid_request_content(
    server: GureumProcess, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function()
    reply = send(server.url, "POST", f"/2014-11-13/functions/{function_name}/invoke-async/", NESTED)
    body = error_of(reply, 400, "InvalidRequestContentException")
    assert body["message"] == PAYLOAD_PREFIX + TOO_DEEP


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"n": ' + b"9" * 5000 + b"}", "Number value length (5000) exceeds the maximum allowed"),
        (b'{"n": NaN}', "Non-standard token 'NaN'"),
    ],
)
def test_payloads_jackson_refuses_are_refused(
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    payload: bytes,
    reason: str,
) -> None:
    make_function()
    reply = send(server.url, "POST", f"/2015-03-31/functions/{function_name}/invocations", payload)
    body = error_of(reply, 400, "InvalidRequestContentException")
    assert body["message"].startswith(PAYLOAD_PREFIX + reason)


# --- request bodies of every service ------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        b'{"FunctionName": ' + NESTED + b"}",
        b'{"FunctionName": "f", "Timeout": ' + b"9" * 5000 + b"}",
        b'{"FunctionName": "f", "Description": "\xff"}',
    ],
    ids=["nested", "digits", "not-utf8"],
)
def test_lambda_bodies_it_cannot_read_are_invalid_request_content(
    server: GureumProcess, lambda_client: Any, document: bytes
) -> None:
    reply = send(
        server.url,
        "POST",
        "/2015-03-31/functions",
        document,
        headers={"Content-Type": "application/json"},
    )
    body = error_of(reply, 400, "InvalidRequestContentException")
    assert body["message"].startswith(BODY_PREFIX)
    assert "Traceback" not in body["message"]
    assert "Functions" in lambda_client.list_functions()


@pytest.mark.parametrize(
    ("service", "target", "version"),
    [
        ("sqs", "AmazonSQS.ListQueues", "1.0"),
        ("kms", "TrentService.ListKeys", "1.1"),
        ("logs", "Logs_20140328.DescribeLogGroups", "1.1"),
    ],
)
@pytest.mark.parametrize(
    "document",
    [b'{"x": ' + NESTED + b"}", b'{"Limit": ' + b"9" * 5000 + b"}", b"\xff{}"],
    ids=["nested", "digits", "not-utf8"],
)
def test_json_protocol_bodies_it_cannot_read_are_serialization_exceptions(
    server: GureumProcess, service: str, target: str, version: str, document: bytes
) -> None:
    headers = {"X-Amz-Target": target, "Content-Type": f"application/x-amz-json-{version}"}
    reply = send(server.url, "POST", "/", document, headers=headers, service=service)
    body = error_of(reply, 400, "SerializationException")
    assert body["__type"] == "SerializationException"
    assert "Traceback" not in body["message"]
    # The same endpoint still answers a well-formed request.
    healthy = send(server.url, "POST", "/", b"{}", headers=headers, service=service)
    assert healthy.status == 200, healthy.body


# --- the front door's last resort --------------------------------------------------------------


def _signed(path: str) -> HttpRequest:
    request = AWSRequest(method="GET", url=f"http://127.0.0.1{path}", headers={"Host": "127.0.0.1"})
    SigV4Auth(Credentials("test", "test"), "lambda", "us-east-1").add_auth(request)
    return HttpRequest("GET", path, "", list(request.headers.items()), b"")


async def _recurse(context: CallContext, params: dict[str, Any]) -> Mapping[str, Any]:
    raise RecursionError("maximum recursion depth exceeded")


def test_a_recursion_error_anywhere_is_the_protocols_400_not_a_500() -> None:
    model = botocore.session.get_session().get_service_model("lambda")
    endpoint = ServiceEndpoint("lambda", RestJsonProtocol(model), {"ListFunctions": _recurse})
    with ThreadPoolExecutor(1) as executor:
        frontend = Frontend(
            {"lambda": endpoint},
            AccountDirectory([DEFAULT_ACCESS_KEY]),
            SystemClock(),
            executor,
            default_service="lambda",
        )
        response = asyncio.run(frontend.handle(_signed("/2015-03-31/functions/"), "http://x"))
    assert response.status == 400
    assert header(response.headers, "x-amzn-ErrorType") == "InvalidRequestContentException"
    assert json.loads(response.body) == {
        "Type": "User",
        "message": "Could not parse request body into json: Document nested too deeply to be read",
    }


# --- the request head -------------------------------------------------------------------------


def _exchange(server: GureumProcess, head: bytes) -> tuple[bytes, float]:
    """Sends `head` on a raw connection (from a thread: the server may stop reading midway)
    and returns all that comes back before the server closes, and how long that took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as connection:

        def push() -> None:
            with contextlib.suppress(OSError):
                connection.sendall(head)

        sender = threading.Thread(target=push)
        sender.start()
        received = []
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                received.append(chunk)
        sender.join()
    return b"".join(received), time.monotonic() - started


def _head(fields: list[bytes]) -> bytes:
    return b"GET /_gureum/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(fields) + b"\r\n"


@pytest.mark.parametrize(
    "fields",
    [
        [b"X-Pad-%d: %s\r\n" % (n, b"a" * 1000) for n in range(1000)],  # 1 MB in 1000 fields
        [b"X-Pad: " + b"a" * 1_000_000 + b"\r\n"],  # 1 MB in one field
        [b"X-Pad-%d: 1\r\n" % n for n in range(101)],  # more fields than any front end takes
    ],
    ids=["many-large-fields", "one-endless-field", "too-many-fields"],
)
def test_an_oversized_request_head_is_431_and_the_server_carries_on(
    server: GureumProcess, lambda_client: Any, fields: list[bytes]
) -> None:
    reply, seconds = _exchange(server, _head(fields))
    assert reply.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), reply[:200]
    assert b"connection: close" in reply.lower()
    assert seconds < 5
    assert server.health()["status"] == "ok"
    assert "Functions" in lambda_client.list_functions()


def test_a_head_within_the_bounds_is_served(server: GureumProcess) -> None:
    padding = {f"X-Pad-{n}": "a" * 600 for n in range(90)}  # 54 KB in 90 fields, signed
    reply = send(server.url, "GET", "/2015-03-31/functions/", headers=padding)
    assert reply.status == 200, reply.body


def test_a_large_signed_create_function_with_many_tags_still_passes(
    make_function: Callable[..., dict[str, Any]], lambda_client: Any, function_name: str
) -> None:
    tags = {f"tag-{n}": "v" * 256 for n in range(50)}
    filler = os.urandom(4 * 1024 * 1024)  # does not compress: a 4 MB package
    created = make_function(
        Code={"ZipFile": zip_of({"index.py": HANDLER, "blob": filler})}, Tags=tags
    )
    assert created["CodeSize"] > 4 * 1024 * 1024
    assert lambda_client.get_function(FunctionName=function_name)["Tags"] == tags


# --- function names in the URI ------------------------------------------------------------------

# botocore's model: most operations take `FunctionName` (1-140, no dots); GetFunction, Invoke,
# DeleteFunction, GetPolicy and others take `NamespacedFunctionName` (1-256, dots allowed).
PLAIN_NAME = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
NAMESPACED_NAME = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)


def _violation(value: str, constraint: str) -> str:
    return (
        f"1 validation error detected: Value '{value}' at 'functionName' failed to satisfy "
        f"constraint: {constraint}"
    )


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        (
            "get_function",
            {"FunctionName": "a" * 257},
            _violation("a" * 257, "Member must have length less than or equal to 256"),
        ),
        (
            "get_function",
            {"FunctionName": "my-function!"},
            _violation(
                "my-function!", f"Member must satisfy regular expression pattern: {NAMESPACED_NAME}"
            ),
        ),
        (
            "get_function_concurrency",
            {"FunctionName": ".."},
            _violation("..", f"Member must satisfy regular expression pattern: {PLAIN_NAME}"),
        ),
        (
            "list_aliases",
            {"FunctionName": "a" * 141},
            _violation("a" * 141, "Member must have length less than or equal to 140"),
        ),
        # Operations gureum does not implement still validate first, as AWS does.
        (
            "get_policy",
            {"FunctionName": "my-function!"},
            _violation(
                "my-function!", f"Member must satisfy regular expression pattern: {NAMESPACED_NAME}"
            ),
        ),
        (
            "get_provisioned_concurrency_config",
            {"FunctionName": "..", "Qualifier": "1"},
            _violation("..", f"Member must satisfy regular expression pattern: {PLAIN_NAME}"),
        ),
    ],
)
def test_function_names_in_the_uri_are_validated_before_anything_else(
    lambda_client: Any, operation: str, params: dict[str, Any], message: str
) -> None:
    with aws_error("ValidationException", 400, message):
        getattr(lambda_client, operation)(**params)


@pytest.mark.parametrize("name", ["..", "a" * 200, "us-east-1.replica"])
def test_namespaced_names_the_model_allows_are_looked_up(lambda_client: Any, name: str) -> None:
    # Dots and up to 256 characters satisfy GetFunction's NamespacedFunctionName, so AWS looks
    # the function up (spec 0.4: even a 65-character name is a 404, not a validation error).
    with aws_error("ResourceNotFoundException", 404, f"Function not found: {arn(name)}"):
        lambda_client.get_function(FunctionName=name)


# --- tokens handed back ---------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["¿", "\U000c9591", "not base64!"])
def test_a_next_token_that_is_not_ours_is_invalid_parameter_value(
    server: GureumProcess, token: str
) -> None:
    # Found by fuzzing over HTTP: a token that was not even ASCII was a 500.
    with aws_error("InvalidParameterValue", 400, "Invalid NextToken value."):
        server.client("sqs").list_queues(NextToken=token, MaxResults=5)


def test_re_encrypt_without_a_ciphertext_is_invalid_ciphertext_as_decrypt_is(
    server: GureumProcess,
) -> None:
    # Found by fuzzing over HTTP: the model does not require CiphertextBlob, and its absence
    # was a KeyError (500).
    kms = server.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    headers = {
        "X-Amz-Target": "TrentService.ReEncrypt",
        "Content-Type": "application/x-amz-json-1.1",
    }
    document = json.dumps({"DestinationKeyId": key}).encode()
    reply = send(server.url, "POST", "/", document, headers=headers, service="kms")
    assert error_of(reply, 400, "InvalidCiphertextException")["__type"] == (
        "InvalidCiphertextException"
    )


# --- every operation, over HTTP -------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    """A server of its own: fuzzing creates queues, keys and log groups nobody else expects."""
    process = GureumProcess(
        tmp_path_factory.mktemp("gureum-fuzzed") / "data", "--isolation", "none"
    ).start()
    yield process
    process.stop()


def _legal_header(value: str) -> bool:
    return all(" " <= character <= "\xff" and character != "\x7f" for character in value)


@settings(max_examples=40, derandomize=True, deadline=None, database=None)
@given(data=st.data())
def test_no_lambda_request_is_a_500(fuzzed: GureumProcess, data: st.DataObject) -> None:
    operation = data.draw(st.sampled_from(fuzzing.operations(fuzzing.LAMBDA)))
    request = fuzzing.rest_request(
        data, operation, data.draw(fuzzing.bodies(operation.input_shape))
    )
    headers = {name: value for name, value in request.headers if _legal_header(value)}
    path = request.raw_path + (f"?{request.raw_query}" if request.raw_query else "")
    reply = send(fuzzed.url, request.method, path, request.body, headers=headers)
    assert reply.status < 500 or reply.status == 501, (operation.name, reply.body)


@pytest.mark.parametrize("service", sorted(fuzzing.JSON_CODECS))
@settings(max_examples=40, derandomize=True, deadline=None, database=None)
@given(data=st.data())
def test_no_json_protocol_request_is_a_500(
    fuzzed: GureumProcess, service: str, data: st.DataObject
) -> None:
    codec = fuzzing.JSON_CODECS[service]
    operation = data.draw(st.sampled_from(fuzzing.operations(codec)))
    version = codec.model.metadata.get("jsonVersion", "1.0")
    headers = {
        "X-Amz-Target": f"{codec.model.metadata['targetPrefix']}.{operation.name}",
        "Content-Type": f"application/x-amz-json-{version}",
    }
    body = data.draw(fuzzing.bodies(operation.input_shape))
    reply = send(fuzzed.url, "POST", "/", body, headers=headers, service=service)
    assert reply.status < 500 or reply.status == 501, (operation.name, reply.body)
