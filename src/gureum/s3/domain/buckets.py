"""Buckets: their names (S3's naming rules) and what a bucket is."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gureum.s3.domain.errors import InvalidBucketName

_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
# Prefixes and suffixes S3 keeps for its own kinds of bucket.
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def check_bucket_name(name: str) -> str:
    """`name` if S3 would create a bucket of that name (general purpose buckets' rules:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html)."""
    if (
        _NAME.fullmatch(name) is None
        or ".." in name
        or ".-" in name
        or "-." in name
        or _IP.fullmatch(name) is not None
        or name.startswith(_RESERVED_PREFIXES)
        or name.endswith(_RESERVED_SUFFIXES)
    ):
        raise InvalidBucketName(name)
    return name


def bucket_arn(name: str) -> str:
    return f"arn:aws:s3:::{name}"


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    account: str
    region: str
    created: float  # epoch seconds
