"""Hostile keys and hostile XML against S3: no key escapes the bucket's storage, no XML grows
past what was sent, and each refusal is S3's own 400 with the server serving on."""

from __future__ import annotations

import unicodedata
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.server import GureumProcess

HOSTILE_KEYS = [
    "..",
    "../..",
    "../../../../../../etc/passwd",
    "a/../../../escape",
    "./.",
    "/leading/slash",
    "//double//slashes//",
    "back\\slash\\..\\..\\x",
    "%2e%2e%2f%2e%2e",
    "spaces and\ttabs\nand newlines",
    unicodedata.normalize("NFC", "café"),
    unicodedata.normalize("NFD", "café"),
    "日本語/ключ/🔑",
    "k" * 1024,
    "é" * 512,
]


@pytest.fixture
def s3(server: GureumProcess) -> Any:
    return server.client("s3")


def test_hostile_keys_are_plain_keys_and_stay_in_the_storage(
    server: GureumProcess, s3: Any
) -> None:
    s3.create_bucket(Bucket="hostile-keys")
    for index, key in enumerate(HOSTILE_KEYS):
        s3.put_object(Bucket="hostile-keys", Key=key, Body=f"body {index}".encode())
    for index, key in enumerate(HOSTILE_KEYS):
        got = s3.get_object(Bucket="hostile-keys", Key=key)["Body"].read()
        assert got == f"body {index}".encode(), key
    listed = {
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="hostile-keys")
        for o in page["Contents"]
    }
    assert listed == set(HOSTILE_KEYS)  # NFC and NFD are two keys, as on S3
    # Every byte written is under the data directory, in blob files named by their own ids.
    data = server.data_dir
    for path in (data / "s3" / "blobs").rglob("*"):
        assert path.resolve().is_relative_to(data.resolve())
        if path.is_file() and path.parent.name != "tmp":
            assert len(path.name) == 32
            assert all(c in "0123456789abcdef" for c in path.name)
    assert not (data.parent / "escape").exists()


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("k" * 1025, "KeyTooLongError"),
        ("é" * 513, "KeyTooLongError"),
        ("nul\x00", "InvalidArgument"),
    ],
)
def test_keys_s3_refuses(s3: Any, key: str, code: str) -> None:
    s3.create_bucket(Bucket="refused-keys")
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket="refused-keys", Key=key, Body=b"x")
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def signed(server: GureumProcess, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    request = AWSRequest(method, f"{server.url}{path}", data=body)
    S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(
        request.url, data=body, headers=dict(request.headers.items()), method=method
    )
    try:
        with urllib.request.urlopen(prepared, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Delete><Object><Key>&lol3;</Key></Object></Delete>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Delete><Object><Key>&xxe;</Key></Object></Delete>"""


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<Delete><Object><Key>unclosed", "MalformedXML"),
        (b"\xff\xfe not xml at all", "MalformedXML"),
        (LAUGHS, "MalformedXML"),
        (EXTERNAL, "MalformedXML"),
        (
            b"<Delete>" + b"<Object><Key>k</Key></Object>" * 60000 + b"</Delete>",
            "MaxMessageLengthExceeded",
        ),
        (b"<Delete>" + b"<a>" * 50000 + b"</a>" * 50000 + b"</Delete>", "InvalidArgument"),
        (b"<Delete><Object><Key>k</Key></Object><Quiet>maybe</Quiet></Delete>", "InvalidArgument"),
    ],
)
def test_hostile_xml_is_refused_with_s3s_errors(
    server: GureumProcess, body: bytes, code: str
) -> None:
    server.client("s3").create_bucket(Bucket="hostile-xml")
    status, answer = signed(server, "POST", "/hostile-xml?delete", body)
    assert status == 400, answer
    assert f"<Code>{code}".encode() in answer
    assert b"root:" not in answer
    assert server.health()["status"] == "ok"


def test_a_notification_configuration_that_is_not_xml(server: GureumProcess) -> None:
    server.client("s3").create_bucket(Bucket="hostile-config")
    status, answer = signed(server, "PUT", "/hostile-config?notification", b"{json: no}")
    assert status == 400
    assert b"<Code>MalformedXML</Code>" in answer


def test_a_completion_naming_parts_of_another_upload(server: GureumProcess) -> None:
    s3 = server.client("s3")
    s3.create_bucket(Bucket="hostile-parts")
    first = s3.create_multipart_upload(Bucket="hostile-parts", Key="a")["UploadId"]
    etag = s3.upload_part(Bucket="hostile-parts", Key="a", UploadId=first, PartNumber=1, Body=b"x")[
        "ETag"
    ]
    second = s3.create_multipart_upload(Bucket="hostile-parts", Key="b")["UploadId"]
    with pytest.raises(ClientError) as caught:
        s3.complete_multipart_upload(
            Bucket="hostile-parts",
            Key="b",
            UploadId=second,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )
    assert caught.value.response["Error"]["Code"] == "InvalidPart"
    with pytest.raises(ClientError) as caught:  # an upload id used under another key
        s3.list_parts(Bucket="hostile-parts", Key="b", UploadId=first)
    assert caught.value.response["Error"]["Code"] == "NoSuchUpload"


def test_data_dir_is_unchanged_by_a_path_like_bucket_request(server: GureumProcess) -> None:
    status, answer = signed(server, "GET", "/..%2F..%2Fetc/passwd", b"")
    assert status in (400, 404)
    assert b"root:" not in answer
    assert Path("/etc/passwd").exists()
