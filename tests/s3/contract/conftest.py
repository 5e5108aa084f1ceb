"""S3 clients on the session's server, and a fresh bucket per test."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config

from tests.support.server import GureumProcess

_buckets = itertools.count()


@pytest.fixture(scope="session")
def s3(server: GureumProcess) -> Any:
    return server.client("s3")


@pytest.fixture
def bucket(s3: Any, request: pytest.FixtureRequest) -> str:
    name = f"t{next(_buckets)}-{request.node.name[:40].lower().replace('_', '-')}".strip("-")
    name = "".join(c for c in name if c.isalnum() or c == "-")[:63].rstrip("-")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_with(server: GureumProcess) -> Callable[..., Any]:
    """An S3 client with other options (virtual-hosted addressing, SigV4 presigning)."""

    def make(**config: Any) -> Any:
        return server.client("s3", config=Config(retries={"total_max_attempts": 1}, **config))

    return make
