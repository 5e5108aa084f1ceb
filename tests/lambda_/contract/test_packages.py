"""Hostile deployment packages and hostile requests (issue 2, item 6).

A package that is not a zip, is too big zipped or unzipped, or has entries that would land
outside its own directory is refused with AWS's error before anything is stored. A malformed or
truncated request gets a 400 (or nothing) and leaves the server healthy and its state untouched.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import socket
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.aws import ROLE, aws_error
from tests.support.packages import HANDLER, zip_of, zip_with_symlink
from tests.support.server import GureumProcess

BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
ZIPPED_LIMIT = 52_428_800
UNZIPPED_LIMIT = 262_144_000
CREATE_PATH = "/2015-03-31/functions"

MakeFunction = Callable[..., dict[str, Any]]


def create_params(name: str, package: bytes) -> dict[str, Any]:
    return {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "index.handler",
        "Code": {"ZipFile": package},
    }


def stored_blobs(server: GureumProcess) -> set[Path]:
    return set((server.data_dir / "code").rglob("*"))


def stored_zip(size: int) -> bytes:
    """A zip of incompressible data that is exactly `size` bytes long."""

    def build(payload: int) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("index.py", HANDLER)
            archive.writestr("blob.bin", os.urandom(payload))
        return buffer.getvalue()

    overhead = len(build(0))
    package = build(size - overhead)
    assert len(package) == size
    return package


def zip_bomb() -> bytes:
    """300 MB of zeros that deflate to about a megabyte."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("index.py", HANDLER)
        with archive.open("zeros.bin", "w", force_zip64=True) as entry:
            chunk = bytes(1 << 20)
            for _ in range(300):
                entry.write(chunk)
    return buffer.getvalue()


def zip_with_entries(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", HANDLER)
        for name, content in entries.items():
            archive.writestr(zipfile.ZipInfo(name), content)
    return buffer.getvalue()


def link_then_write() -> bytes:
    """A symlink to a directory outside, then a file written through it."""
    buffer = io.BytesIO(zip_with_symlink("escape", "../../.."))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("escape/evil.py", "print('escaped')\n")
    return buffer.getvalue()


# --- what the package holds -----------------------------------------------------------------


def test_not_a_zip_is_refused(lambda_client: Any, function_name: str) -> None:
    with aws_error("InvalidParameterValueException", 400, BAD_ZIP):
        lambda_client.create_function(**create_params(function_name, b"this is not a zip file"))
    with aws_error("ResourceNotFoundException", 404):
        lambda_client.get_function(FunctionName=function_name)


def test_not_a_zip_is_refused_on_update_too(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    created = make_function()
    with aws_error("InvalidParameterValueException", 400, BAD_ZIP):
        lambda_client.update_function_code(FunctionName=function_name, ZipFile=b"PK\x03\x04junk")
    config = lambda_client.get_function_configuration(FunctionName=function_name)
    assert config["CodeSha256"] == created["CodeSha256"]
    assert config["LastUpdateStatus"] == "Successful"


ESCAPES = {
    "dot-dot": zip_with_entries({"../evil.py": "print('escaped')\n"}),
    "nested-dot-dot": zip_with_entries({"lib/../../evil.py": "print('escaped')\n"}),
    "absolute": zip_with_entries({"/abs.py": "print('escaped')\n"}),
    "symlink-absolute": zip_with_symlink("passwd", "/etc/passwd"),
    "symlink-relative": zip_with_symlink("x", "../../x"),
    "symlink-then-write": link_then_write(),
}


@pytest.mark.parametrize("package", ESCAPES.values(), ids=ESCAPES.keys())
def test_entries_escaping_the_package_are_refused(
    lambda_client: Any, server: GureumProcess, function_name: str, package: bytes
) -> None:
    before = stored_blobs(server)
    with aws_error("InvalidParameterValueException", 400) as error:
        lambda_client.create_function(**create_params(function_name, package))
    assert error.value.response["Error"]["Message"].startswith(BAD_ZIP)
    with aws_error("ResourceNotFoundException", 404):
        lambda_client.get_function(FunctionName=function_name)

    assert stored_blobs(server) == before
    outside = server.data_dir.parent
    assert not list(outside.rglob("evil.py"))
    assert not Path("/tmp/evil.py").exists()
    assert not Path("/abs.py").exists()
    # No link gureum made (code trees, layers) points out. EFS file systems hold what functions
    # wrote into them, adversarial links included (their mounts never follow them out).
    file_systems = server.data_dir / "efs"
    for path in server.data_dir.rglob("*"):
        if path.is_symlink() and not path.is_relative_to(file_systems):
            assert path.resolve().is_relative_to(server.data_dir), path


def test_escaping_entries_are_refused_on_update(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    created = make_function()
    with aws_error("InvalidParameterValueException", 400) as error:
        lambda_client.update_function_code(
            FunctionName=function_name, ZipFile=ESCAPES["symlink-then-write"]
        )
    assert error.value.response["Error"]["Message"].startswith(BAD_ZIP)
    config = lambda_client.get_function_configuration(FunctionName=function_name)
    assert config["CodeSha256"] == created["CodeSha256"]


def test_a_safe_symlink_inside_the_package_is_accepted(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function(Code={"ZipFile": zip_with_symlink("alias.py", "index.py")})
    config = lambda_client.get_function_configuration(FunctionName=function_name)
    assert config["State"] == "Active"


# --- sizes ----------------------------------------------------------------------------------


def test_zipped_package_over_50_mb_is_too_large(lambda_client: Any, function_name: str) -> None:
    message = f"Zipped size must be smaller than {ZIPPED_LIMIT} bytes"
    with aws_error("RequestEntityTooLargeException", 413, message):
        lambda_client.create_function(**create_params(function_name, stored_zip(ZIPPED_LIMIT + 1)))
    with aws_error("ResourceNotFoundException", 404):
        lambda_client.get_function(FunctionName=function_name)


def test_request_over_70_mb_names_the_request_limit(lambda_client: Any, function_name: str) -> None:
    message = "Request must be smaller than 70167211 bytes for the CreateFunction operation"
    with aws_error("RequestEntityTooLargeException", 413, message):
        lambda_client.create_function(**create_params(function_name, stored_zip(53_000_000)))


def test_unzipped_package_over_250_mb_is_refused(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    bomb = zip_bomb()
    assert len(bomb) < ZIPPED_LIMIT
    message = f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes"
    with aws_error("InvalidParameterValueException", 400, message):
        lambda_client.create_function(**create_params(function_name, bomb))

    make_function()
    with aws_error("InvalidParameterValueException", 400, message):
        lambda_client.update_function_code(FunctionName=function_name, ZipFile=bomb)


# --- hostile requests -----------------------------------------------------------------------


def signed_headers(server: GureumProcess, body: bytes, **extra: str) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=f"{server.url}{CREATE_PATH}",
        data=body,
        headers={"Content-Type": "application/json", **extra},
    )
    SigV4Auth(Credentials("test", "test"), "lambda", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def post(server: GureumProcess, body: bytes) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("POST", CREATE_PATH, body=body, headers=signed_headers(server, body))
        reply = connection.getresponse()
        headers = {k.lower(): v for k, v in reply.getheaders()}
        return reply.status, headers, reply.read()
    finally:
        connection.close()


def create_body(name: str) -> bytes:
    params = create_params(name, zip_of())
    params["Code"] = {"ZipFile": base64.b64encode(zip_of()).decode()}
    return json.dumps(params).encode()


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'"just a string"', b'{"FunctionName": "\xff\xfe"}'],
    ids=["syntax", "array", "string", "bad-utf8"],
)
def test_malformed_json_body_is_a_400(
    lambda_client: Any, server: GureumProcess, body: bytes
) -> None:
    status, headers, reply = post(server, body)
    assert status == 400
    assert headers["x-amzn-errortype"] == "InvalidRequestContentException"
    assert headers["x-amzn-requestid"]
    assert json.loads(reply)["message"].startswith("Could not parse request body into json")
    assert server.health()["status"] == "ok"
    assert "Functions" in lambda_client.list_functions(MaxItems=1)


def test_garbage_in_a_field_is_a_400(server: GureumProcess, function_name: str) -> None:
    document = json.loads(create_body(function_name))
    for field, garbage in (
        ("Timeout", "three"),
        ("Environment", ["not", "a", "map"]),
        ("Code", {"ZipFile": "!!! not base64 !!!"}),
        ("Tags", "tags"),
        ("MemorySize", -1),
    ):
        status, headers, _ = post(server, json.dumps({**document, field: garbage}).encode())
        assert status == 400, field
        assert headers["x-amzn-errortype"] in (
            "InvalidRequestContentException",
            "ValidationException",
        )
    assert server.health()["status"] == "ok"
    with aws_error("ResourceNotFoundException", 404):
        server.client().get_function(FunctionName=function_name)


def test_deeply_nested_json_is_a_400(server: GureumProcess) -> None:
    status, headers, _ = post(server, b"[" * 100_000 + b"]" * 100_000)
    assert status == 400
    assert headers["x-amzn-errortype"] == "InvalidRequestContentException"


def send_truncated(server: GureumProcess, headers: dict[str, str], body: bytes) -> None:
    """Sends the head and `body`, then hangs up before the declared Content-Length is reached."""
    head = f"POST {CREATE_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "host")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)


def test_truncated_request_does_not_crash_the_server(
    lambda_client: Any, server: GureumProcess
) -> None:
    for _ in range(3):
        send_truncated(server, {"Content-Length": "100000"}, b'{"FunctionName": "tr')
    assert server.health()["status"] == "ok"
    assert "Functions" in lambda_client.list_functions(MaxItems=1)


def test_truncated_request_changes_nothing(
    lambda_client: Any, server: GureumProcess, function_name: str
) -> None:
    body = create_body(function_name)
    # A correctly signed body, but the head promises more than is ever sent.
    headers = signed_headers(server, body, **{"Content-Length": str(len(body) + 100)})
    send_truncated(server, headers, body)

    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # absence can only be polled for
        with pytest.raises(ClientError) as caught:
            lambda_client.get_function(FunctionName=function_name)
        assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
        time.sleep(0.05)
