"""aws-chunked uploads over HTTP, as the SDKs send them over HTTPS (unsigned chunks with a
CRC32 trailer) and as the Java and Go SDKs sign them (each chunk signed after the headers' seed
signature). The headers are signed by botocore; the chunks as AWS documents
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.error
import urllib.request
import zlib
from typing import Any

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.server import GureumProcess

SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


class StreamingAuth(S3SigV4Auth):  # type: ignore[misc]  # botocore has no types
    """botocore's S3 signer, declaring a signed-chunk payload instead of hashing the body."""

    def payload(self, request: Any) -> str:
        return SIGNED


def send(request: AWSRequest, body: bytes) -> tuple[int, bytes]:
    prepared = urllib.request.Request(
        request.url, data=body, headers=dict(request.headers.items()), method="PUT"
    )
    try:
        with urllib.request.urlopen(prepared) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_unsigned_chunks_with_a_crc32_trailer(server: GureumProcess, s3: Any, bucket: str) -> None:
    data = b"streamed " * 5000
    chunks = [data[:30000], data[30000:], b""]

    def body(checksum: str) -> bytes:
        framed = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks[:-1])
        return framed + f"0\r\nx-amz-checksum-crc32:{checksum}\r\n\r\n".encode()

    for key, checksum, expected in (("good", crc32(data), 200), ("bad", crc32(b"x"), 400)):
        request = AWSRequest(
            "PUT",
            f"{server.url}/{bucket}/{key}",
            headers={
                "Content-Encoding": "aws-chunked",
                "x-amz-decoded-content-length": str(len(data)),
                "x-amz-trailer": "x-amz-checksum-crc32",
            },
        )
        request.context["checksum"] = {"request_algorithm": {"in": "trailer"}}
        S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
        assert request.headers["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        status, answer = send(request, body(checksum))
        assert status == expected, answer
    got = s3.get_object(Bucket=bucket, Key="good")
    assert got["Body"].read() == data
    assert got.get("ContentEncoding") is None  # the framing is no part of the object
    assert b"<Code>BadDigest</Code>" in answer


def signed_chunks(seed: str, date: str, chunks: list[bytes]) -> bytes:
    key = b"AWS4test"
    for part in (date[:8], "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    scope = f"{date[:8]}/us-east-1/s3/aws4_request"
    empty = hashlib.sha256(b"").hexdigest()
    previous, framed = seed, b""
    for chunk in chunks:
        to_sign = (
            f"AWS4-HMAC-SHA256-PAYLOAD\n{date}\n{scope}\n{previous}\n{empty}\n"
            f"{hashlib.sha256(chunk).hexdigest()}"
        )
        previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        framed += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk + b"\r\n"
    return framed


def test_signed_chunks_are_checked(server: GureumProcess, s3: Any, bucket: str) -> None:
    data = b"a" * 70000

    def upload(key: str, tamper: bool) -> tuple[int, bytes]:
        request = AWSRequest(
            "PUT",
            f"{server.url}/{bucket}/{key}",
            headers={
                "Content-Encoding": "aws-chunked",
                "x-amz-decoded-content-length": str(len(data)),
            },
        )
        StreamingAuth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
        seed = request.headers["Authorization"].rsplit("Signature=", 1)[1]
        body = signed_chunks(seed, request.headers["X-Amz-Date"], [data[:65536], data[65536:], b""])
        if tamper:
            body = body.replace(b"a" * 100, b"b" * 100, 1)
        return send(request, body)

    assert upload("signed", tamper=False)[0] == 200
    assert s3.get_object(Bucket=bucket, Key="signed")["Body"].read() == data
    status, answer = upload("tampered", tamper=True)
    assert status == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in answer
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="tampered")
