"""aws-chunked payloads decoded, checked against AWS's own worked example of a signed
streaming upload (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html)."""

from __future__ import annotations

import base64
import hashlib
import zlib
from pathlib import Path

import pytest

from gureum.aws import sigv4
from gureum.aws.errors import InvalidSignature
from gureum.aws.http import BodyFile
from gureum.aws.payloads import (
    BadChecksum,
    ChunkSigner,
    IncompleteBody,
    InvalidChunkedBody,
    decode_chunked,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SCOPE = sigv4.CredentialScope("AKIAIOSFODNN7EXAMPLE", "20130524", "us-east-1", "s3")
TIMESTAMP = "20130524T000000Z"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
# AWS's signatures of its example's chunks: 64 KiB of 'a', 1 KiB of 'a', then the empty chunk.
SIGNATURES = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)
CHUNKS = (b"a" * 65536, b"a" * 1024, b"")


def signer() -> ChunkSigner:
    return ChunkSigner(sigv4.signing_key(SECRET, SCOPE), TIMESTAMP, SCOPE, SEED)


def spooled(tmp_path: Path, data: bytes) -> BodyFile:
    path = tmp_path / "raw.part"
    path.write_bytes(data)
    return BodyFile(path, len(data), "", b"", 0)


def signed_body(signatures: tuple[str, ...] = SIGNATURES) -> bytes:
    return b"".join(
        f"{len(c):x};chunk-signature={s}\r\n".encode() + c + b"\r\n"
        for c, s in zip(CHUNKS, signatures, strict=True)
    )


def test_awss_example_chunk_signatures() -> None:
    previous = SEED
    for chunk, expected in zip(CHUNKS, SIGNATURES, strict=True):
        digest = hashlib.sha256(chunk).hexdigest()
        previous = sigv4.chunk_signature(signer().key, TIMESTAMP, SCOPE, previous, digest)
        assert previous == expected


def test_a_signed_body_decodes_to_its_payload(tmp_path: Path) -> None:
    decoded = decode_chunked(spooled(tmp_path, signed_body()), signer(), 66560)
    assert decoded.path.read_bytes() == b"a" * 66560
    assert decoded.md5 == hashlib.md5(b"a" * 66560).digest()
    assert decoded.size == 66560
    assert not (tmp_path / "raw.part").exists()


def test_a_tampered_chunk_is_refused(tmp_path: Path) -> None:
    body = signed_body().replace(b"a" * 1024, b"b" + b"a" * 1023)
    with pytest.raises(InvalidSignature):
        decode_chunked(spooled(tmp_path, body), signer(), None)
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_reordered_signatures_are_refused(tmp_path: Path) -> None:
    swapped = (SIGNATURES[1], SIGNATURES[0], SIGNATURES[2])
    with pytest.raises(InvalidSignature):
        decode_chunked(spooled(tmp_path, signed_body(swapped)), signer(), None)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"zz\r\nabc\r\n0\r\n\r\n", InvalidChunkedBody),
        (b"5\r\nabc", IncompleteBody),
        (b"3\r\nabcdef\r\n0\r\n\r\n", InvalidChunkedBody),
        (b"3\r\nabc\r\n", IncompleteBody),
        (b"f" * 5000 + b"\r\n", InvalidChunkedBody),
    ],
)
def test_malformed_framing(tmp_path: Path, body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_chunked(spooled(tmp_path, body), None, None)


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_an_unsigned_body_with_a_trailer_checksum(tmp_path: Path) -> None:
    good = f"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:{crc32(b'abc')}\r\n\r\n".encode()
    assert decode_chunked(spooled(tmp_path, good), None, 3).path.read_bytes() == b"abc"
    bad = f"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:{crc32(b'abd')}\r\n\r\n".encode()
    with pytest.raises(BadChecksum):
        decode_chunked(spooled(tmp_path, bad), None, 3)
    with pytest.raises(IncompleteBody):
        decode_chunked(spooled(tmp_path, b"3\r\nabc\r\n0\r\n\r\n"), None, 4)
