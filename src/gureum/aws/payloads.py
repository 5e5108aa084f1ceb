"""Request bodies streamed to disk instead of memory, and SigV4's aws-chunked payloads decoded.

A service whose bodies may be larger than memory should hold (S3's uploads, up to 5 GiB) has its
requests spooled here before the front door sees them: the bytes go to a file under the data
directory as they arrive, hashed on the way (SHA-256 for the signature, MD5 for the ETag and
Content-MD5, CRC32 for the SDKs' checksums), in slices of `SLICE` handed to a worker thread so the
event loop never waits for the disk.

An aws-chunked body (`Content-Encoding: aws-chunked`) is what the SDKs send for uploads whose
length they stream: `<hex size>[;chunk-signature=<sig>]\\r\\n<bytes>\\r\\n` repeated, a zero-size
chunk, then trailers (`x-amz-checksum-crc32:...`). `decode_chunked` turns the spooled file into a
second one holding the object's bytes, checking each chunk's signature against the chain started
by the headers' seed signature (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) and the trailer's checksum
(`STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import uuid
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from gureum.aws import sigv4
from gureum.aws.errors import ClientError, InvalidSignature
from gureum.aws.http import BodyFile

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
SLICE = 1 << 20  # bytes written to disk in one hand-off to a worker thread
_LINE = 4096  # the longest chunk header or trailer line read


class ClientDisconnected(Exception):
    """The client went away before its request arrived whole: nothing is acted on."""


class IncompleteBody(ClientError):
    code = "IncompleteBody"


class InvalidChunkedBody(ClientError):
    code = "InvalidRequest"


class BadChecksum(ClientError):
    code = "BadDigest"


class _Digests:
    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.crc32 = 0
        self.size = 0

    def update(self, data: bytes) -> None:
        self.sha256.update(data)
        self.md5.update(data)
        self.crc32 = zlib.crc32(data, self.crc32)
        self.size += len(data)

    def body(self, path: Path) -> BodyFile:
        return BodyFile(path, self.size, self.sha256.hexdigest(), self.md5.digest(), self.crc32)


def spool_path(directory: Path) -> Path:
    return directory / f"{uuid.uuid4().hex}.part"


def discard(body: BodyFile | None) -> None:
    """Removes a spooled body that nothing took over (the usual end of a failed request)."""
    if body is not None:
        body.path.unlink(missing_ok=True)


async def spool(
    receive: Receive, directory: Path, limit: int, executor: Executor
) -> BodyFile | None:
    """The request's body in a file under `directory`, or None once it grows past `limit` (the
    rest is drained, nothing kept). Raises ClientDisconnected (the file removed) when the
    client goes away first."""
    loop = asyncio.get_running_loop()
    path = spool_path(directory)
    digests = _Digests()
    file = await loop.run_in_executor(executor, path.open, "wb")
    pending: list[bytes] = []
    held = 0
    oversized = False

    def write(data: bytes) -> None:
        digests.update(data)
        file.write(data)

    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk: bytes = message.get("body", b"")
            if not oversized and digests.size + held + len(chunk) > limit:
                oversized = True
            if not oversized and chunk:
                pending.append(chunk)
                held += len(chunk)
            more = message.get("more_body", False)
            if pending and (held >= SLICE or not more):
                data, pending, held = b"".join(pending), [], 0
                await loop.run_in_executor(executor, write, data)
            if not more:
                break
    except BaseException:
        file.close()
        path.unlink(missing_ok=True)
        raise
    file.close()
    if oversized:
        path.unlink(missing_ok=True)
        return None
    return digests.body(path)


# --- aws-chunked ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChunkSigner:
    """What checks the chunks of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` body: the request's
    signing key, timestamp and scope, and its seed signature (the Authorization header's)."""

    key: bytes
    timestamp: str
    scope: sigv4.CredentialScope
    seed: str


# Trailer checksums gureum verifies: the algorithm's header and how to compute it.
_CHECKSUMS = ("x-amz-checksum-crc32", "x-amz-checksum-sha256")


def decode_chunked(
    raw: BodyFile, signer: ChunkSigner | None, decoded_length: int | None
) -> BodyFile:
    """The payload of the aws-chunked body in `raw`, in a new file beside it (`raw` removed).
    `signer` None: the chunks carry no signatures (an unsigned payload with a trailer)."""
    target = spool_path(raw.path.parent)
    digests = _Digests()
    try:
        with raw.path.open("rb") as source, target.open("wb") as out:
            trailers = _decode(source, out, digests, signer)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        raw.path.unlink(missing_ok=True)
    body = digests.body(target)
    try:
        if decoded_length is not None and decoded_length != body.size:
            raise IncompleteBody(
                "You did not provide the number of bytes specified by the "
                "x-amz-decoded-content-length header."
            )
        check_trailers(trailers, body)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return body


def check_trailers(trailers: dict[str, str], body: BodyFile) -> None:
    for name, value in trailers.items():
        if name == "x-amz-checksum-crc32":
            expected = base64.b64encode(body.crc32.to_bytes(4, "big")).decode()
        elif name == "x-amz-checksum-sha256":
            expected = base64.b64encode(bytes.fromhex(body.sha256)).decode()
        elif name.startswith("x-amz-checksum-"):
            raise InvalidChunkedBody(
                f"gureum verifies CRC32 and SHA256 checksums only, not {name[15:].upper()}."
            )
        else:
            continue
        if value.strip() != expected:
            algorithm = name[15:].upper()
            raise BadChecksum(
                f"The {algorithm} you specified did not match the calculated checksum."
            )


def _line(source: BinaryIO) -> bytes:
    line = source.readline(_LINE)
    if not line:
        raise IncompleteBody("The request body terminated unexpectedly")
    if not line.endswith(b"\r\n"):
        raise InvalidChunkedBody("An aws-chunked line is malformed or too long.")
    return line[:-2]


def _decode(
    source: BinaryIO, out: BinaryIO, digests: _Digests, signer: ChunkSigner | None
) -> dict[str, str]:
    previous = signer.seed if signer is not None else ""
    while True:
        header = _line(source).decode("latin-1")
        size_text, _, extension = header.partition(";")
        try:
            size = int(size_text, 16)
        except ValueError:
            raise InvalidChunkedBody("An aws-chunked chunk size is not hexadecimal.") from None
        if size < 0:
            raise InvalidChunkedBody("An aws-chunked chunk size is negative.")
        chunk_hash = hashlib.sha256()
        left = size
        while left:
            data = source.read(min(left, SLICE))
            if not data:
                raise IncompleteBody("The request body terminated unexpectedly")
            left -= len(data)
            chunk_hash.update(data)
            digests.update(data)
            out.write(data)
        if signer is not None:
            name, _, claimed = extension.partition("=")
            if name.strip() != "chunk-signature":
                raise InvalidChunkedBody("An aws-chunked chunk has no chunk-signature.")
            expected = sigv4.chunk_signature(
                signer.key, signer.timestamp, signer.scope, previous, chunk_hash.hexdigest()
            )
            if not hmac.compare_digest(expected, claimed.strip()):
                raise InvalidSignature(sigv4.MISMATCH_MESSAGE)
            previous = expected
        if size == 0:
            return _trailers(source)
        if _line(source) != b"":
            raise InvalidChunkedBody("An aws-chunked chunk is longer than its size says.")


def _trailers(source: BinaryIO) -> dict[str, str]:
    trailers: dict[str, str] = {}
    while True:
        line = source.readline(_LINE)
        if line in (b"", b"\r\n", b"\n"):
            return trailers
        name, sep, value = line.decode("latin-1").rstrip("\r\n").partition(":")
        if not sep:
            raise InvalidChunkedBody("An aws-chunked trailer is malformed.")
        trailers[name.strip().lower()] = value.strip()


def fsync_file(path: Path) -> None:
    """Flushes `path`'s bytes to the disk (before it is renamed into place)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
