"""Which Host names a bucket (virtual-hosted) and which are path-style."""

from __future__ import annotations

import pytest

from gureum.aws.sigv4 import HttpRequest
from gureum.s3.api.addressing import bucket_in_host


def with_host(host: str) -> HttpRequest:
    return HttpRequest("GET", "/", "", [("Host", host)], b"")


@pytest.mark.parametrize(
    ("host", "bucket"),
    [
        ("photos.localhost:4566", "photos"),
        ("photos.s3.localhost:4566", "photos"),
        ("my.dotted.bucket.s3.localhost.localstack.cloud:4566", "my.dotted.bucket"),
        ("photos.s3.us-east-1.localhost.localstack.cloud", "photos"),
        ("photos.s3.amazonaws.com", "photos"),
        ("photos.s3.eu-west-1.amazonaws.com", "photos"),
        ("127.0.0.1:4566", None),
        ("localhost:4566", None),
        ("s3.localhost.localstack.cloud:4566", None),
        ("s3.localhost:4566", None),
        ("[::1]:4566", None),
        ("abc123.lambda-url.us-east-1.localhost:4566", None),
        ("Bad_Name.localhost", None),
    ],
)
def test_bucket_in_host(host: str, bucket: str | None) -> None:
    assert bucket_in_host(with_host(host)) == bucket
