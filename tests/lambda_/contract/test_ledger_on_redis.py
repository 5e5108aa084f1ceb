"""`gureum serve --ledger redis://...` end to end (issue #24): boto3 against a real server whose
concurrency ledger is the test run's redis-server.

The limits as on the in-process ledger (reserved concurrency, every lease back); Redis going away
under a running server: Invoke answers 500 ServiceException (nothing ran; SDKs retry it) and the
server recovers when Redis is back, its reservations restored from the store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_.contract.test_concurrency import (
    RESERVED,
    SMALL,
    UNSANDBOXED,
    Deployment,
    Metrics,
    Refused,
    assert_ran,
    at_once,
    attempt,
    reason_of,
    refused,
    succeeded,
    wait_until,
)
from tests.lambda_.contract.test_provisioned import RESERVED_REASON, new_function, wait_status
from tests.support.functions import invoke
from tests.support.redis import RedisServer
from tests.support.server import GureumProcess


@pytest.fixture(scope="module")
def redis_deployment(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[Deployment]:
    data = tmp_path_factory.mktemp("ledger-redis") / "d"
    process = GureumProcess(data, *SMALL, *UNSANDBOXED, "--ledger", redis_server.url).start()
    deployment = Deployment(process)
    yield deployment
    deployment.cleanup()
    process.stop()


@pytest.fixture
def on_redis(redis_deployment: Deployment) -> Iterator[Deployment]:
    yield redis_deployment
    redis_deployment.cleanup()


def nothing_runs(metrics: Metrics) -> bool:
    return metrics.running() == 0 and metrics.unreserved_running() == 0


def test_reserved_concurrency_of_two_runs_two_of_six(
    on_redis: Deployment, function_name: str
) -> None:
    name = on_redis.sleeper(function_name, reserved=2)
    outcomes = at_once(on_redis.client, [(name, {"sleep": 1.5})] * 6)
    ran, throttled = succeeded(outcomes), refused(outcomes)
    assert (len(ran), len(throttled)) == (2, 4)
    for invoked in ran:
        assert_ran(invoked, 1.5)
    assert [reason_of(error) for error in throttled] == [RESERVED] * 4
    # The gauges are read from Redis at the ledger's next keep (every second).
    wait_until(lambda: nothing_runs(Metrics(on_redis.server)))
    assert Metrics(on_redis.server).throttles(name) == 4


def test_the_account_pool_is_shared_by_unreserved_functions(
    on_redis: Deployment, function_name: str
) -> None:
    first = on_redis.sleeper(function_name)
    second = on_redis.sleeper(f"{function_name}-2")
    outcomes = at_once(
        on_redis.client, [(first, {"sleep": 1.5})] * 4 + [(second, {"sleep": 1.5})] * 3
    )
    # An account of 5, one function holding none: five run, two are throttled.
    assert (len(succeeded(outcomes)), len(refused(outcomes))) == (5, 2)
    assert {reason_of(error) for error in refused(outcomes)} == {
        "ConcurrentInvocationLimitExceeded"
    }


def test_provisioned_concurrency_is_claimed_in_redis(
    on_redis: Deployment, function_name: str
) -> None:
    """The provisioner tells the Redis ledger the provisioned total; executions on provisioned
    environments take provisioned leases, the rest of the reservation runs on demand."""
    client = on_redis.client
    version = new_function(client, function_name)
    on_redis.names.append(function_name)
    client.put_function_concurrency(FunctionName=function_name, ReservedConcurrentExecutions=2)
    client.put_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    wait_status(client, function_name, version, "READY")
    barrier = threading.Barrier(3)

    def call(_: int) -> str:
        barrier.wait()
        try:
            ran = invoke(client, function_name, {"sleep": 1.0}, Qualifier=version)
        except ClientError as error:
            reason: str = error.response["Reason"]
            return reason
        kind: str = ran.json()["type"]
        return kind

    with ThreadPoolExecutor(3) as pool:
        outcomes = sorted(pool.map(call, range(3)))
    # One provisioned, one on demand (reserved 2 - provisioned 1), the third refused.
    assert outcomes == sorted(["on-demand", "provisioned-concurrency", RESERVED_REASON])
    wait_until(lambda: nothing_runs(Metrics(on_redis.server)))


def test_redis_away_answers_service_exception_and_recovers(
    tmp_path: Path, own_redis: RedisServer, function_name: str
) -> None:
    own_redis.start()
    process = GureumProcess(tmp_path / "d", *SMALL, *UNSANDBOXED, "--ledger", own_redis.url).start()
    deployment = Deployment(process)
    try:
        name = deployment.sleeper(function_name, reserved=1)
        assert_ran(_invoked(deployment, name), 0)
        own_redis.stop()
        outcome = attempt(deployment.client, name, {"sleep": 0})
        assert isinstance(outcome, Refused)
        error = outcome.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert error["Error"]["Code"] == "ServiceException"
        assert process.health()  # no crash
        # Back without its data: the store's reservation of 1 is restored before any admission.
        own_redis.start()
        outcomes = at_once(deployment.client, [(name, {"sleep": 1.0})] * 3)
        assert (len(succeeded(outcomes)), len(refused(outcomes))) == (1, 2)
        assert [reason_of(error) for error in refused(outcomes)] == [RESERVED] * 2
        deployment.cleanup()
    finally:
        process.stop()
        own_redis.stop()


def _invoked(deployment: Deployment, name: str) -> Any:
    outcome = attempt(deployment.client, name, {"sleep": 0})
    assert not isinstance(outcome, Refused), outcome.response
    return outcome
