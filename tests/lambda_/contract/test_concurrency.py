"""Concurrency and throttling over the wire (spec 4, issue 4).

The reserved-concurrency API with AWS's exact messages, then real parallel load against private
servers with small limits: 429s with the right `Reason`, the noisy neighbour, the scaling rate,
and every lease given back (the metrics at `/_gureum/metrics` say 0 in flight) however an
invocation ends. Parallel calls start together behind a `threading.Barrier`.
"""

from __future__ import annotations

import functools
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from prometheus_client.parser import text_string_to_metric_families

from tests.support.functions import (
    ACCOUNT,
    REGION,
    WAIT,
    Invoked,
    create,
    error_of,
    function_arn,
)
from tests.support.functions import invoke as invoke_once
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

SLEEPER = """\
import os
import time

def handler(event, context):
    mode = event.get("mode", "sleep")
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "exit":
        os._exit(1)
    time.sleep(event.get("sleep", 0))
    return {"slept": event.get("sleep", 0)}
"""

RESERVED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"
# Spec 4.4.3: the Reason of a scaling-rate 429 is undocumented (inferred: one of these).
SCALING_REASONS = {ACCOUNT_LIMIT, "FunctionInvocationRateLimitExceeded"}
QUALIFIED = (
    "This operation is permitted on Lambda functions only. Aliases and versions do not support "
    "this operation. Please specify either a function name or an unqualified function ARN."
)
BELOW_MINIMUM = (
    "Specified ReservedConcurrentExecutions for function decreases account's "
    "UnreservedConcurrentExecution below its minimum value of [{}]."
)
# Every server here runs with `--isolation none`. Admission and leases sit above the sandbox, so
# nothing under test depends on it, and a sandboxing server sweeps every other server's memory
# cgroups at start and stop (the SHARED_CGROUPS bug, xfailed in test_sandbox.py): these servers
# would break the session server's next cold start, and other servers on the machine theirs.
UNSANDBOXED = ("--isolation", "none")
SMALL = ("--account-concurrency", "5", "--unreserved-minimum", "1")
THREADED = Config(retries={"total_max_attempts": 1}, max_pool_connections=50)


@dataclass(frozen=True, slots=True)
class Refused:
    """An invocation the server refused: boto3's view of the error (`ClientError.response`)."""

    response: dict[str, Any]


Outcome = Invoked | Refused
T = TypeVar("T")


# --- helpers ---------------------------------------------------------------------------------


class Metrics:
    """One scrape of `/_gureum/metrics`, looked up by sample name and labels."""

    def __init__(self, server: GureumProcess) -> None:
        with urllib.request.urlopen(f"{server.url}/_gureum/metrics", timeout=5) as reply:
            assert reply.status == 200
            assert reply.headers["Content-Type"].startswith("text/plain")
            text = reply.read().decode("utf-8")
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        """A sample's value; a counter never incremented has no sample, which reads as 0."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def running(self, function: str = "") -> float:
        """ConcurrentExecutions: account-wide (no name) or of one function."""
        return self.value(
            "aws_lambda_ConcurrentExecutions",
            Account=ACCOUNT,
            Region=REGION,
            FunctionName=function,
        )

    def unreserved_running(self) -> float:
        return self.value(
            "aws_lambda_UnreservedConcurrentExecutions", Account=ACCOUNT, Region=REGION
        )

    def invocations(self, function: str) -> float:
        return self.value("aws_lambda_Invocations_total", Region=REGION, FunctionName=function)

    def throttles(self, function: str) -> float:
        return self.value("aws_lambda_Throttles_total", Region=REGION, FunctionName=function)

    def errors(self, function: str) -> float:
        return self.value("aws_lambda_Errors_total", Region=REGION, FunctionName=function)

    def concurrency_samples(self) -> dict[str, float]:
        """Every ConcurrentExecutions / UnreservedConcurrentExecutions sample, by label text."""
        gauges = ("aws_lambda_ConcurrentExecutions", "aws_lambda_UnreservedConcurrentExecutions")
        return {
            f"{name}{dict(sorted(labels))}": value
            for (name, labels), value in self.samples.items()
            if name in gauges
        }


def assert_leases_back(server: GureumProcess, *functions: str) -> Metrics:
    """Nothing runs: every concurrency gauge, account-wide and per function, reads 0."""
    metrics = Metrics(server)
    samples = metrics.concurrency_samples()
    assert samples, "no concurrency gauges exported"
    assert {key: value for key, value in samples.items() if value != 0} == {}
    for function in functions:
        key = (
            "aws_lambda_ConcurrentExecutions",
            frozenset({("Account", ACCOUNT), ("Region", REGION), ("FunctionName", function)}),
        )
        assert key in metrics.samples, f"no ConcurrentExecutions gauge for {function}"
    return metrics


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Polls a condition the server makes visible (metrics), failing after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.02)


def attempt(client: Any, name: str, event: dict[str, Any]) -> Outcome:
    try:
        return invoke_once(client, name, event)
    except ClientError as error:
        return Refused(error.response)


def start_together(pool: ThreadPoolExecutor, calls: Sequence[Callable[[], T]]) -> list[Future[T]]:
    """Starts every call at the same moment, each on its own thread of `pool`."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait(timeout=10)
        return call()

    return [pool.submit(run, call) for call in calls]


def together(calls: Sequence[Callable[[], T]]) -> list[T]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result(timeout=30) for future in start_together(pool, calls)]


def invocations(
    client: Any, calls: Sequence[tuple[str, dict[str, Any]]]
) -> list[Callable[[], Outcome]]:
    return [functools.partial(attempt, client, name, event) for name, event in calls]


def launch(
    pool: ThreadPoolExecutor, client: Any, calls: Sequence[tuple[str, dict[str, Any]]]
) -> list[Future[Outcome]]:
    """Starts every (function, event) invocation at the same moment, in the background."""
    return start_together(pool, invocations(client, calls))


def at_once(client: Any, calls: Sequence[tuple[str, dict[str, Any]]]) -> list[Outcome]:
    """Runs every (function, event) invocation at the same moment; their outcomes in order."""
    return together(invocations(client, calls))


def succeeded(outcomes: Sequence[Outcome]) -> list[Invoked]:
    return [outcome for outcome in outcomes if isinstance(outcome, Invoked)]


def refused(outcomes: Sequence[Outcome]) -> list[Refused]:
    return [outcome for outcome in outcomes if isinstance(outcome, Refused)]


def reason_of(error: Refused) -> str:
    """AWS's throttle, checked whole (spec 4.4); returns its Reason."""
    response = error.response
    metadata = response["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == 429, response
    assert response["Error"]["Code"] == "TooManyRequestsException"
    assert response["Error"]["Message"] == "Rate Exceeded."
    assert response["message"] == "Rate Exceeded."
    assert response["Type"] == "User"
    assert metadata["HTTPHeaders"]["x-amzn-errortype"].startswith("TooManyRequestsException")
    reason: str = response["Reason"]
    return reason


def assert_ran(invoked: Invoked, slept: float) -> None:
    assert (invoked.status, invoked.function_error) == (200, None), invoked.payload
    assert invoked.json() == {"slept": slept}


def sleeper(client: Any, name: str, **params: Any) -> None:
    create(client, name, Code={"ZipFile": zip_of({"index.py": SLEEPER})}, **params)


def account_limit(client: Any) -> dict[str, int]:
    limit: dict[str, int] = client.get_account_settings()["AccountLimit"]
    return limit


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


class Deployment:
    """A private server, a thread-safe client, and the functions a test made (deleted after)."""

    def __init__(self, server: GureumProcess) -> None:
        self.server = server
        self.client: Any = server.client("lambda", config=THREADED)
        self.names: list[str] = []

    def sleeper(self, name: str, reserved: int | None = None, **params: Any) -> str:
        sleeper(self.client, name, **params)
        self.names.append(name)
        if reserved is not None:
            self.client.put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=reserved
            )
        return name

    def cleanup(self) -> None:
        for name in self.names:
            self.client.delete_function(FunctionName=name)
        self.names.clear()


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    """AWS's numbers: account concurrency 1000, unreserved minimum 100."""
    process = GureumProcess(tmp_path_factory.mktemp("concurrency-default") / "d", *UNSANDBOXED)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    """An account of 5 concurrent executions, of which 1 must stay unreserved."""
    data = tmp_path_factory.mktemp("concurrency-small") / "d"
    process = GureumProcess(data, *SMALL, *UNSANDBOXED).start()
    yield process
    process.stop()


@pytest.fixture
def default(default_server: GureumProcess) -> Iterator[Deployment]:
    deployment = Deployment(default_server)
    yield deployment
    deployment.cleanup()
    deployment.client.close()


@pytest.fixture
def small(small_server: GureumProcess) -> Iterator[Deployment]:
    deployment = Deployment(small_server)
    yield deployment
    deployment.cleanup()
    deployment.client.close()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=16) as executor:
        yield executor


# --- the reserved concurrency API (spec 4.2, 4.3) --------------------------------------------


def test_put_get_delete_function_concurrency(default: Deployment, function_name: str) -> None:
    client = default.client
    default.sleeper(function_name)
    unset = client.get_function_concurrency(FunctionName=function_name)
    assert unset["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert body_of(unset) == {}
    assert "Concurrency" not in client.get_function(FunctionName=function_name)

    put = client.put_function_concurrency(
        FunctionName=function_name, ReservedConcurrentExecutions=7
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert body_of(put) == {"ReservedConcurrentExecutions": 7}
    got = client.get_function_concurrency(FunctionName=function_name)
    assert body_of(got) == {"ReservedConcurrentExecutions": 7}
    described = client.get_function(FunctionName=function_name)
    assert described["Concurrency"] == {"ReservedConcurrentExecutions": 7}

    deleted = client.delete_function_concurrency(FunctionName=function_name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert body_of(deleted) == {}
    assert body_of(client.get_function_concurrency(FunctionName=function_name)) == {}
    assert "Concurrency" not in client.get_function(FunctionName=function_name)


def test_zero_is_a_reservation(default: Deployment, function_name: str) -> None:
    client = default.client
    default.sleeper(function_name)
    put = client.put_function_concurrency(
        FunctionName=function_name, ReservedConcurrentExecutions=0
    )
    assert body_of(put) == {"ReservedConcurrentExecutions": 0}
    got = client.get_function_concurrency(FunctionName=function_name)
    assert body_of(got) == {"ReservedConcurrentExecutions": 0}
    described = client.get_function(FunctionName=function_name)
    assert described["Concurrency"] == {"ReservedConcurrentExecutions": 0}


def test_an_unqualified_arn_names_the_function(default: Deployment, function_name: str) -> None:
    client = default.client
    default.sleeper(function_name)
    arn = function_arn(function_name)
    put = client.put_function_concurrency(FunctionName=arn, ReservedConcurrentExecutions=3)
    assert body_of(put) == {"ReservedConcurrentExecutions": 3}
    got = client.get_function_concurrency(FunctionName=function_name)
    assert body_of(got) == {"ReservedConcurrentExecutions": 3}
    client.delete_function_concurrency(FunctionName=arn)
    assert body_of(client.get_function_concurrency(FunctionName=arn)) == {}


def test_qualified_names_are_refused(default: Deployment, function_name: str) -> None:
    client = default.client
    default.sleeper(function_name)
    version = client.publish_version(FunctionName=function_name)["Version"]
    qualified = [
        f"{function_name}:{version}",
        f"{function_name}:$LATEST",
        function_arn(function_name, version),
        function_arn(function_name, "$LATEST"),
    ]
    for name in qualified:
        failures = [
            error_of(
                client.put_function_concurrency, FunctionName=name, ReservedConcurrentExecutions=1
            ),
            error_of(client.get_function_concurrency, FunctionName=name),
            error_of(client.delete_function_concurrency, FunctionName=name),
        ]
        for failure in failures:
            assert failure == (400, "InvalidParameterValueException", QUALIFIED), name
    # Nothing was reserved on the way.
    assert body_of(client.get_function_concurrency(FunctionName=function_name)) == {}


def test_missing_function(default: Deployment, function_name: str) -> None:
    client = default.client
    latest = f"Function not found: {function_arn(function_name, '$LATEST')}"
    put = client.put_function_concurrency
    assert error_of(put, FunctionName=function_name, ReservedConcurrentExecutions=1) == (
        404,
        "ResourceNotFoundException",
        latest,
    )
    # The function check comes before the value's (5000 would break the minimum).
    assert error_of(put, FunctionName=function_name, ReservedConcurrentExecutions=5000) == (
        404,
        "ResourceNotFoundException",
        latest,
    )
    for call in (client.get_function_concurrency, client.delete_function_concurrency):
        status, code, message = error_of(call, FunctionName=function_name)
        assert (status, code) == (404, "ResourceNotFoundException")
        assert message.startswith(f"Function not found: {function_arn(function_name)}")


def test_the_unreserved_minimum_and_account_settings(
    default: Deployment, function_name: str
) -> None:
    client = default.client
    first = default.sleeper(f"{function_name}-a")
    second = default.sleeper(f"{function_name}-b")
    put = client.put_function_concurrency
    below = (400, "InvalidParameterValueException", BELOW_MINIMUM.format(100))
    assert account_limit(client)["ConcurrentExecutions"] == 1000
    assert account_limit(client)["UnreservedConcurrentExecutions"] == 1000

    for too_many in (901, 1000, 1001):
        assert error_of(put, FunctionName=first, ReservedConcurrentExecutions=too_many) == below
    assert body_of(client.get_function_concurrency(FunctionName=first)) == {}
    assert account_limit(client)["UnreservedConcurrentExecutions"] == 1000

    assert body_of(put(FunctionName=first, ReservedConcurrentExecutions=900)) == {
        "ReservedConcurrentExecutions": 900
    }
    limit = account_limit(client)
    assert (limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]) == (1000, 100)
    assert error_of(put, FunctionName=second, ReservedConcurrentExecutions=1) == below
    # A function's new value replaces its own reservation rather than adding to it.
    assert body_of(put(FunctionName=first, ReservedConcurrentExecutions=900)) == {
        "ReservedConcurrentExecutions": 900
    }
    put(FunctionName=first, ReservedConcurrentExecutions=899)
    put(FunctionName=second, ReservedConcurrentExecutions=1)
    assert account_limit(client)["UnreservedConcurrentExecutions"] == 100
    put(FunctionName=second, ReservedConcurrentExecutions=0)
    assert account_limit(client)["UnreservedConcurrentExecutions"] == 101

    client.delete_function_concurrency(FunctionName=first)
    assert account_limit(client)["UnreservedConcurrentExecutions"] == 1000
    put(FunctionName=first, ReservedConcurrentExecutions=900)
    # Deleting the function gives its reservation back.
    client.delete_function(FunctionName=first)
    default.names.remove(first)
    assert account_limit(client)["UnreservedConcurrentExecutions"] == 1000
    put(FunctionName=second, ReservedConcurrentExecutions=900)
    assert account_limit(client)["UnreservedConcurrentExecutions"] == 100
    assert account_limit(client)["ConcurrentExecutions"] == 1000


def test_parallel_reservations_keep_the_minimum(default: Deployment, function_name: str) -> None:
    """Four reservations of 300 racing for the 900 there are: three win, one gets the 400."""
    client = default.client
    names = [default.sleeper(f"{function_name}-{n}") for n in range(4)]

    def reserve(name: str) -> tuple[int, str]:
        try:
            client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=300)
        except ClientError as error:
            return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"][
                "Message"
            ]
        return 200, ""

    outcomes = together([functools.partial(reserve, name) for name in names])
    assert sorted(outcomes) == [(200, "")] * 3 + [(400, BELOW_MINIMUM.format(100))]
    assert account_limit(client)["UnreservedConcurrentExecutions"] == 100


def test_reservations_are_per_region(default: Deployment, function_name: str) -> None:
    """Concurrency is a per-Region quota: reserving in one Region takes nothing from another."""
    client = default.client
    here = default.sleeper(function_name)
    client.put_function_concurrency(FunctionName=here, ReservedConcurrentExecutions=900)
    elsewhere = default.server.client("lambda", region_name="eu-west-1")
    try:
        limit = account_limit(elsewhere)
        assert (limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]) == (
            1000,
            1000,
        )
        sleeper(elsewhere, here)  # the same name, another Region
        put = elsewhere.put_function_concurrency(
            FunctionName=here, ReservedConcurrentExecutions=900
        )
        assert body_of(put) == {"ReservedConcurrentExecutions": 900}
        assert account_limit(elsewhere)["UnreservedConcurrentExecutions"] == 100
        assert account_limit(client)["UnreservedConcurrentExecutions"] == 100
        elsewhere.delete_function(FunctionName=here)
        assert account_limit(elsewhere)["UnreservedConcurrentExecutions"] == 1000
        assert account_limit(client)["UnreservedConcurrentExecutions"] == 100
    finally:
        elsewhere.close()


# --- throttling under parallel load (spec 4.4) -----------------------------------------------


def test_reserved_concurrency_of_two_runs_two_of_six(small: Deployment, function_name: str) -> None:
    name = small.sleeper(function_name, reserved=2)
    outcomes = at_once(small.client, [(name, {"sleep": 1.5})] * 6)
    ran, throttled = succeeded(outcomes), refused(outcomes)
    assert (len(ran), len(throttled)) == (2, 4)
    for invoked in ran:
        assert_ran(invoked, 1.5)
    assert [reason_of(error) for error in throttled] == [RESERVED] * 4

    metrics = assert_leases_back(small.server, name)
    assert metrics.throttles(name) == 4
    assert metrics.invocations(name) == 2
    assert metrics.errors(name) == 0


def test_reserved_zero_never_runs_the_function(small: Deployment, function_name: str) -> None:
    name = small.sleeper(function_name, reserved=0)
    outcomes = at_once(small.client, [(name, {})] * 3)
    outcomes.append(attempt(small.client, name, {}))
    assert succeeded(outcomes) == []
    assert [reason_of(error) for error in refused(outcomes)] == [RESERVED] * 4

    metrics = assert_leases_back(small.server, name)
    assert (metrics.throttles(name), metrics.invocations(name)) == (4, 0)
    logs = small.server.client("logs")
    group = f"/aws/lambda/{name}"
    try:
        groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        streams = []
        if any(found["logGroupName"] == group for found in groups):
            streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    finally:
        logs.close()
    assert streams == [], "a throttled request started an environment"

    # Removing the limit lets events through again.
    small.client.delete_function_concurrency(FunctionName=name)
    assert_ran(invoke_once(small.client, name, {}), 0)
    assert Metrics(small.server).invocations(name) == 1


def test_the_account_limit_throttles_every_unreserved_function(
    small: Deployment, pool: ThreadPoolExecutor, function_name: str
) -> None:
    first = small.sleeper(f"{function_name}-a")
    second = small.sleeper(f"{function_name}-b")
    assert account_limit(small.client)["ConcurrentExecutions"] == 5
    assert account_limit(small.client)["UnreservedConcurrentExecutions"] == 5
    running = launch(pool, small.client, [(first, {"sleep": 2})] * 3 + [(second, {"sleep": 2})] * 2)
    wait_until(lambda: Metrics(small.server).running() == 5)
    metrics = Metrics(small.server)
    assert (metrics.running(first), metrics.running(second)) == (3, 2)
    assert metrics.unreserved_running() == 5

    for name in (first, second):
        sixth = attempt(small.client, name, {})
        assert isinstance(sixth, Refused), f"a sixth execution of {name} ran"
        assert reason_of(sixth) == ACCOUNT_LIMIT

    for future in running:
        outcome = future.result(timeout=30)
        assert isinstance(outcome, Invoked), outcome
        assert_ran(outcome, 2)
    metrics = assert_leases_back(small.server, first, second)
    assert (metrics.invocations(first), metrics.throttles(first)) == (3, 1)
    assert (metrics.invocations(second), metrics.throttles(second)) == (2, 1)


def test_a_noisy_neighbour_cannot_starve_a_reserved_function(
    small: Deployment, pool: ThreadPoolExecutor, function_name: str
) -> None:
    noisy = small.sleeper(f"{function_name}-noisy")
    quiet = small.sleeper(f"{function_name}-quiet", reserved=2)
    assert account_limit(small.client)["UnreservedConcurrentExecutions"] == 3
    saturating = launch(pool, small.client, [(noisy, {"sleep": 2})] * 3)
    wait_until(lambda: Metrics(small.server).unreserved_running() == 3)

    outcomes = at_once(
        small.client, [(noisy, {}), (quiet, {"sleep": 0.2}), (quiet, {"sleep": 0.2})]
    )
    extra, *reserved = outcomes
    assert isinstance(extra, Refused), "the noisy function ran past the unreserved pool"
    assert reason_of(extra) == ACCOUNT_LIMIT
    for invoked in reserved:
        assert isinstance(invoked, Invoked), invoked
        assert_ran(invoked, 0.2)
    # The noisy function was still saturating the pool while the reserved one ran.
    assert Metrics(small.server).running(noisy) == 3

    for future in saturating:
        outcome = future.result(timeout=30)
        assert isinstance(outcome, Invoked), outcome
        assert_ran(outcome, 2)
    metrics = assert_leases_back(small.server, noisy, quiet)
    assert (metrics.invocations(noisy), metrics.throttles(noisy)) == (3, 1)
    assert (metrics.invocations(quiet), metrics.throttles(quiet)) == (2, 0)


def test_a_reservation_covers_every_version_and_survives_a_restart(
    tmp_path: Path, function_name: str
) -> None:
    """The reservation is the function's: $LATEST, versions, updates and a restart share it."""
    server = GureumProcess(tmp_path / "d", *SMALL, *UNSANDBOXED).start()
    deployment = Deployment(server)
    try:
        name = deployment.sleeper(function_name, reserved=1)
        client = deployment.client
        version = client.publish_version(FunctionName=name)["Version"]
        client.update_function_configuration(FunctionName=name, Timeout=10)
        client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
        assert body_of(client.get_function_concurrency(FunctionName=name)) == {
            "ReservedConcurrentExecutions": 1
        }
        deployment.client.close()
        server.stop()
        server.start()
        deployment.client = server.client("lambda", config=THREADED)
        assert body_of(deployment.client.get_function_concurrency(FunctionName=name)) == {
            "ReservedConcurrentExecutions": 1
        }
        assert account_limit(deployment.client)["UnreservedConcurrentExecutions"] == 4
        outcomes = at_once(
            deployment.client, [(name, {"sleep": 0.5}), (f"{name}:{version}", {"sleep": 0.5})]
        )
        assert len(succeeded(outcomes)) == 1, outcomes
        assert [reason_of(error) for error in refused(outcomes)] == [RESERVED]
        assert_leases_back(server, name)
    finally:
        deployment.client.close()
        server.stop()


OVERCOMMIT = (
    "spec 4.4.2 counts in-use concurrency as Σ reserved + on-demand executions of unreserved "
    "functions, but the ledger counts the unreserved pool by the pool each lease was drawn from "
    "(Lease.pool): once a function's reservation is deleted (DeleteFunctionConcurrency, "
    "DeleteFunction) its still-running reserved executions count nowhere, so unreserved "
    "functions get the whole account again and more than --account-concurrency executions run "
    "at once (domain/concurrency.py choose_pool / ConcurrencyLedger.acquire)"
)


def test_deleting_a_reservation_never_overcommits_the_account(
    small: Deployment, pool: ThreadPoolExecutor, function_name: str
) -> None:
    reserved = small.sleeper(f"{function_name}-r", reserved=2)
    other = small.sleeper(f"{function_name}-o")
    running = launch(pool, small.client, [(reserved, {"sleep": 2})] * 2)
    wait_until(lambda: Metrics(small.server).running(reserved) == 2)
    small.client.delete_function_concurrency(FunctionName=reserved)
    # Two executions still run, so the account (5) has room for three more, not five.
    outcomes = at_once(small.client, [(other, {"sleep": 0.5})] * 5)
    for future in running:
        assert isinstance(future.result(timeout=30), Invoked)
    assert len(succeeded(outcomes)) == 3, "more than 5 executions ran in an account of 5"
    assert [reason_of(error) for error in refused(outcomes)] == [ACCOUNT_LIMIT] * 2


DUPLICATE_SERIES = (
    "the metrics keep the name of every function id ever invoked (LambdaMetrics.known, never "
    "forgotten on DeleteFunction), so a function deleted and created again under the same name "
    "is exported twice with identical labels, e.g. two aws_lambda_ConcurrentExecutions"
    "{FunctionName=...} series, which Prometheus rejects as duplicates (services/metrics.py "
    "_LedgerCollector.collect)"
)


def test_a_recreated_function_is_one_series(small: Deployment, function_name: str) -> None:
    name = small.sleeper(function_name)
    assert_ran(invoke_once(small.client, name, {}), 0)
    small.client.delete_function(FunctionName=name)
    small.names.remove(name)
    small.sleeper(name)
    assert_ran(invoke_once(small.client, name, {}), 0)
    with urllib.request.urlopen(f"{small.server.url}/_gureum/metrics", timeout=5) as reply:
        lines = reply.read().decode("utf-8").splitlines()
    series = [
        line
        for line in lines
        if line.startswith("aws_lambda_ConcurrentExecutions{") and f'FunctionName="{name}"' in line
    ]
    assert len(series) == 1, series


# --- leases come back on every path (issue 4) ------------------------------------------------


def disconnect(deployment: Deployment, name: str) -> None:
    impatient = deployment.server.client(
        "lambda", config=Config(retries={"total_max_attempts": 1}, read_timeout=0.5)
    )
    try:
        with pytest.raises(ReadTimeoutError):
            impatient.invoke(FunctionName=name, Payload=b'{"sleep": 2}')
    finally:
        impatient.close()
    # The abandoned execution still holds its lease until it ends; then it comes back.
    assert Metrics(deployment.server).running(name) == 1
    wait_until(lambda: Metrics(deployment.server).running(name) == 0, timeout=6)


@pytest.mark.parametrize(
    ("how", "timeout", "event", "function_error"),
    [
        pytest.param("error", 3, {"mode": "raise"}, True, id="handler-exception"),
        pytest.param("timeout", 1, {"sleep": 3}, True, id="timeout"),
        pytest.param("crash", 3, {"mode": "exit"}, True, id="crash"),
        pytest.param("disconnect", 3, None, False, id="client-disconnect"),
    ],
)
def test_the_lease_comes_back(
    small: Deployment,
    function_name: str,
    how: str,
    timeout: int,
    event: dict[str, Any] | None,
    function_error: bool,
) -> None:
    name = small.sleeper(function_name, reserved=1, Timeout=timeout)
    if event is None:
        disconnect(small, name)
    else:
        invoked = invoke_once(small.client, name, event)
        assert (invoked.status, invoked.function_error) == (200, "Unhandled"), how
    assert_leases_back(small.server, name)

    # Exactly one lease is available again: one of two simultaneous calls runs, one is refused.
    outcomes = at_once(small.client, [(name, {"sleep": 0.5})] * 2)
    assert len(succeeded(outcomes)) == 1, outcomes
    assert [reason_of(error) for error in refused(outcomes)] == [RESERVED]
    assert_ran(invoke_once(small.client, name, {}), 0)

    metrics = assert_leases_back(small.server, name)
    assert metrics.invocations(name) == 3
    assert metrics.throttles(name) == 1
    assert metrics.errors(name) == (1 if function_error else 0)


# --- the scaling rate (spec 4.1) -------------------------------------------------------------


@pytest.fixture
def scaling_server(tmp_path: Path) -> Iterator[GureumProcess]:
    """Two new execution environments per function per minute."""
    options = ("--scaling-limit", "2", "--scaling-period", "60")
    process = GureumProcess(tmp_path / "d", *options, *UNSANDBOXED).start()
    yield process
    process.stop()


def test_the_scaling_rate_limits_new_environments_only(
    scaling_server: GureumProcess, function_name: str
) -> None:
    deployment = Deployment(scaling_server)
    try:
        name = deployment.sleeper(function_name)
        client = deployment.client
        cold = at_once(client, [(name, {"sleep": 1})] * 3)
        assert len(succeeded(cold)) == 2
        throttles = refused(cold)
        assert len(throttles) == 1
        assert reason_of(throttles[0]) in SCALING_REASONS
        assert scaling_server.health()["environments"] == 2

        # Warm environments are reused: no new environment, no scaling limit.
        warm = at_once(client, [(name, {"sleep": 0.3})] * 2)
        assert len(succeeded(warm)) == 2, warm
        for _ in range(5):
            assert_ran(invoke_once(client, name, {}), 0)
        assert scaling_server.health()["environments"] == 2

        # A third environment still needs an allowance the minute has not given back yet.
        third = at_once(client, [(name, {"sleep": 0.3})] * 3)
        assert len(succeeded(third)) == 2
        assert [reason_of(error) in SCALING_REASONS for error in refused(third)] == [True]

        metrics = assert_leases_back(scaling_server, name)
        assert metrics.throttles(name) == 2
        assert metrics.invocations(name) == 2 + 2 + 5 + 2
    finally:
        deployment.client.close()


def test_time_scale_shortens_the_scaling_period(tmp_path: Path, function_name: str) -> None:
    """One environment per 60 s, at --time-scale 0.02: one per 1.2 s."""
    options = ("--scaling-limit", "1", "--scaling-period", "60", "--time-scale", "0.02")
    server = GureumProcess(tmp_path / "d", *options, *UNSANDBOXED).start()
    deployment = Deployment(server)
    try:
        name = deployment.sleeper(function_name)
        began = time.monotonic()
        first = at_once(deployment.client, [(name, {"sleep": 0.3})] * 2)
        assert len(succeeded(first)) == 1
        assert len(refused(first)) == 1
        # The allowance comes back within the scaled period, not the configured minute.
        time.sleep(max(0.0, began + 1.5 - time.monotonic()))
        second = at_once(deployment.client, [(name, {"sleep": 0.3})] * 2)
        assert len(succeeded(second)) == 2, second
        assert server.health()["environments"] == 2
        metrics = assert_leases_back(server, name)
        assert (metrics.invocations(name), metrics.throttles(name)) == (3, 1)
    finally:
        deployment.client.close()
        server.stop()


def test_a_reserved_function_is_held_to_ten_requests_per_second_per_unit(
    tmp_path: Path, function_name: str
) -> None:
    """Spec 4.1/4.4: 10 x concurrency per second. At --time-scale 100 the second lasts 100 s, so
    a reservation of 1 allows 10 sequential invokes and refuses the 11th, whatever the speed."""
    server = GureumProcess(tmp_path / "d", "--time-scale", "100", *UNSANDBOXED).start()
    deployment = Deployment(server)
    try:
        name = deployment.sleeper(function_name, reserved=1)
        outcomes = [together(invocations(deployment.client, [(name, {})]))[0] for _ in range(11)]
        assert len(succeeded(outcomes)) == 10
        (throttle,) = refused(outcomes)
        assert outcomes[-1] is throttle
        assert reason_of(throttle) == "ReservedFunctionInvocationRateLimitExceeded"
        metrics = assert_leases_back(server, name)
        assert (metrics.invocations(name), metrics.throttles(name)) == (10, 1)
    finally:
        deployment.client.close()
        server.stop()
