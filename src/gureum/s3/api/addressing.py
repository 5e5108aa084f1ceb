"""Virtual-hosted addressing: a bucket named in the Host instead of the path.

S3's SDKs put the bucket in the host name when they can (`photos.s3.amazonaws.com/cat.jpg`);
against gureum that is `photos.s3.localhost.localstack.cloud:4566` (the name LocalStack's
users already have set up), `photos.s3.localhost:4566` or `photos.localhost:4566` (`*.localhost`
resolves to 127.0.0.1 with no DNS set-up). Any other Host (`127.0.0.1:4566`, `localhost:4566`,
`s3.localhost.localstack.cloud:4566`) is path-style: the bucket is the path's first segment.
"""

from __future__ import annotations

import re

from gureum.aws.http import header
from gureum.aws.sigv4 import HttpRequest

_SUFFIXES = (
    re.compile(r"\.s3(?:[.-][a-z0-9-]+)?\.localhost\.localstack\.cloud"),
    re.compile(r"\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com"),
    re.compile(r"\.s3\.localhost"),
    re.compile(r"\.localhost"),
)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_NOT_BUCKETS = frozenset({"s3", "localhost"})


def bucket_in_host(request: HttpRequest) -> str | None:
    """The bucket a virtual-hosted request's Host names, or None for path-style."""
    host = (header(request.headers, "host") or "").strip().lower()
    if host.startswith("["):  # an IPv6 literal: path-style
        return None
    name = host.rsplit(":", 1)[0] if ":" in host else host
    for suffix in _SUFFIXES:
        match = suffix.search(name)
        if match is not None and match.end() == len(name):
            bucket = name[: match.start()]
            if bucket in _NOT_BUCKETS or ".lambda-url." in name:
                return None
            return bucket if _BUCKET.fullmatch(bucket) else None
    return None
