"""The cluster tests' one deployment: PostgreSQL, Redis and a shared directory, with agents and
front doors started on demand (`tests.cluster.deployment`) and all stopped after the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.deployment import Deployment, options
from tests.support.postgres import PostgresCluster
from tests.support.redis import RedisServer


@pytest.fixture
def deployment(
    tmp_path: Path, postgres: PostgresCluster, own_redis: RedisServer
) -> Iterator[Deployment]:
    own_redis.start()
    made = Deployment(tmp_path, options(tmp_path, postgres.database(), own_redis.url))
    try:
        yield made
    finally:
        made.stop()
