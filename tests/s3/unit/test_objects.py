"""The pure rules of objects: keys, ranges, conditions, ETags, Content-MD5, bucket names."""

from __future__ import annotations

import base64
import hashlib

import pytest

from gureum.s3.domain.buckets import check_bucket_name
from gureum.s3.domain.errors import (
    EntityTooSmall,
    InvalidArgument,
    InvalidBucketName,
    InvalidDigest,
    InvalidPart,
    InvalidPartOrder,
    InvalidRange,
    KeyTooLong,
    NotModified,
    PreconditionFailed,
)
from gureum.s3.domain.multipart import MIN_PART_SIZE, Part, assemble
from gureum.s3.domain.objects import (
    ByteRange,
    Conditions,
    byte_range,
    check_conditions,
    check_content_md5,
    check_key,
    multipart_etag,
)


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, ByteRange(0, 0)),
        ("bytes=2-5", 10, ByteRange(2, 5)),
        ("bytes=5-", 10, ByteRange(5, 9)),
        ("bytes=-3", 10, ByteRange(7, 9)),
        ("bytes=-30", 10, ByteRange(0, 9)),
        ("bytes=8-100", 10, ByteRange(8, 9)),
        ("bytes=5-2", 10, None),  # invalid: the whole object, as S3 answers
        ("items=0-1", 10, None),
        ("bytes=0-1,3-4", 10, None),  # several ranges: S3 sends the whole object
    ],
)
def test_byte_ranges(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert byte_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=10-", 10), ("bytes=-0", 10), ("bytes=0-", 0)])
def test_unsatisfiable_ranges_are_416(header: str, size: int) -> None:
    with pytest.raises(InvalidRange):
        byte_range(header, size)


def test_content_range_names_the_whole_size() -> None:
    assert ByteRange(2, 5).content_range(10) == "bytes 2-5/10"
    assert ByteRange(2, 5).length == 4


@pytest.mark.parametrize(
    "key", ["..", "../../etc/passwd", "a/../../b", "/abs", "é", "e\u0301", "日本/語", "x" * 1024]
)
def test_hostile_looking_keys_are_plain_keys(key: str) -> None:
    assert check_key(key) == key


def test_keys_past_1024_utf8_bytes_are_too_long() -> None:
    check_key("é" * 512)  # 1,024 bytes
    with pytest.raises(KeyTooLong):
        check_key("é" * 513)


@pytest.mark.parametrize("key", ["", "nul\x00byte", "bell\x07"])
def test_keys_xml_cannot_carry_are_refused(key: str) -> None:
    with pytest.raises(InvalidArgument):
        check_key(key)


ETAG = '"abc"'


@pytest.mark.parametrize(
    ("conditions", "read", "error"),
    [
        (Conditions(if_match=ETAG), True, None),
        (Conditions(if_match="*"), True, None),
        (Conditions(if_match='"other"'), True, PreconditionFailed),
        (Conditions(if_none_match=ETAG), True, NotModified),
        (Conditions(if_none_match=ETAG), False, PreconditionFailed),
        (Conditions(if_none_match='"other"'), True, None),
        (Conditions(if_modified_since=100.0), True, NotModified),
        (Conditions(if_modified_since=99.0), True, None),
        (Conditions(if_unmodified_since=99.0), True, PreconditionFailed),
        (Conditions(if_match=ETAG, if_unmodified_since=99.0), True, None),  # If-Match wins
    ],
)
def test_conditions(conditions: Conditions, read: bool, error: type[Exception] | None) -> None:
    if error is None:
        check_conditions(conditions, ETAG, 100.4, read)
    else:
        with pytest.raises(error):
            check_conditions(conditions, ETAG, 100.4, read)


def test_content_md5() -> None:
    digest = hashlib.md5(b"data").digest()
    assert check_content_md5(None, digest)
    assert check_content_md5(base64.b64encode(digest).decode(), digest)
    assert not check_content_md5(base64.b64encode(b"\0" * 16).decode(), digest)
    for bad in ("###", base64.b64encode(b"short").decode()):
        with pytest.raises(InvalidDigest):
            check_content_md5(bad, digest)


def test_multipart_etag_is_the_md5_of_the_md5s_and_the_count() -> None:
    md5s = [hashlib.md5(b"a").digest(), hashlib.md5(b"b").digest()]
    assert multipart_etag(md5s) == f'"{hashlib.md5(b"".join(md5s)).hexdigest()}-2"'


def part(number: int, size: int = MIN_PART_SIZE) -> Part:
    return Part(number, f"{number:032x}", size, f'"e{number}"', b"", 0.0)


def test_parts_are_assembled_in_order_with_their_etags() -> None:
    uploaded = {1: part(1), 2: part(2), 3: part(3, 1)}
    assert [p.number for p in assemble([(1, '"e1"'), (3, "e3")], uploaded)] == [1, 3]
    with pytest.raises(InvalidPartOrder):
        assemble([(2, '"e2"'), (1, '"e1"')], uploaded)
    with pytest.raises(InvalidPartOrder):
        assemble([(1, '"e1"'), (1, '"e1"')], uploaded)
    with pytest.raises(InvalidPart):
        assemble([(1, '"wrong"')], uploaded)
    with pytest.raises(InvalidPart):
        assemble([(4, '"e4"')], uploaded)
    with pytest.raises(EntityTooSmall):
        assemble([(3, '"e3"'), (4, '"e4"')], {**uploaded, 4: part(4)})


@pytest.mark.parametrize("name", ["abc", "my.bucket-1", "a" * 63, "0-9"])
def test_valid_bucket_names(name: str) -> None:
    assert check_bucket_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "Upper",
        "under_score",
        "-lead",
        "trail-",
        "a..b",
        "a.-b",
        "192.168.1.1",
        "xn--bucket",
        "bucket-s3alias",
        "sp ace",
    ],
)
def test_invalid_bucket_names(name: str) -> None:
    with pytest.raises(InvalidBucketName):
        check_bucket_name(name)
