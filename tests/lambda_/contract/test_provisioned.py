"""Provisioned concurrency over the wire (spec 6.3, 4.4, 6.5; issue 12 items 1-3).

The API with AWS's exact codes and messages, then real allocation: environments initialised
ahead of any invocation (`AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`, INIT_START and
INIT_REPORT in their streams), READY only when all are up, FAILED when Init fails, routing to
them first and spilling over to on-demand, the ledger and the Prometheus counters. Waits for
READY poll with a deadline; nothing sleeps to assert.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from tests.support.functions import (
    ACCOUNT,
    WAIT,
    create,
    error_of,
    function_arn,
    invoke,
)
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

HANDLER = """\
import os
import time
import uuid

ENVIRONMENT = uuid.uuid4().hex
if os.environ.get("FAIL_INIT"):
    raise RuntimeError("init failed on purpose")
if os.path.exists(os.environ.get("FAIL_INIT_IF", "/nonexistent")):
    raise RuntimeError("init failed: the flag file is there")


def handler(event, context):
    if event.get("mode") == "exit":
        os._exit(1)
    time.sleep(event.get("sleep", 0))
    return {
        "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "environment": ENVIRONMENT,
        "version": context.function_version,
    }
"""
CODE = zip_of({"index.py": HANDLER})
READY_WITHIN = 60.0
UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
NOT_ALIAS_OR_VERSION = "The function resource provided must be an alias or a published version."
ALIAS_ON_PROVISIONED = (
    "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned "
    "version"
)
VERSION_UNDER_ALIAS = "Version is pointed by a Provisioned Concurrency alias"
ABOVE_RESERVED = (
    "Requested Provisioned Concurrency should not be greater than the "
    "reservedConcurrentExecution for function"
)
RESERVED_REASON = "ReservedFunctionConcurrentInvocationLimitExceeded"


def published(client: Any, name: str, variables: dict[str, str] | None = None) -> str:
    if variables is not None:
        client.update_function_configuration(
            FunctionName=name, Environment={"Variables": variables}
        )
        client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    version: str = client.publish_version(FunctionName=name)["Version"]
    client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier=version, WaiterConfig=WAIT
    )
    return version


def new_function(client: Any, name: str, **params: Any) -> str:
    """A function with one published version; returns the version."""
    create(client, name, Code={"ZipFile": CODE}, **params)
    return published(client, name)


def wait_status(
    client: Any, name: str, qualifier: str, want: str, within: float = READY_WITHIN
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        config: dict[str, Any] = client.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier
        )
        if config["Status"] == want:
            return config
        assert config["Status"] == "IN_PROGRESS", config
        assert time.monotonic() < deadline, f"still {config['Status']} after {within} s"
        time.sleep(0.1)


def metric(server: GureumProcess, name: str, **labels: str) -> float:
    with urllib.request.urlopen(f"{server.url}/_gureum/metrics", timeout=5) as reply:
        text = reply.read().decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != name:
                continue
            if all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def stream_lines(server: GureumProcess, name: str) -> list[list[str]]:
    logs = server.client("logs")
    group = f"/aws/lambda/{name}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    found = []
    for stream in streams:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
        )["events"]
        found.append([event["message"] for event in events])
    return found


# --- the API: every rule and message of spec 6.3 ---------------------------------------------


def test_latest_is_refused_with_two_messages(lambda_client: Any, function_name: str) -> None:
    new_function(lambda_client, function_name)
    put = lambda_client.put_provisioned_concurrency_config
    assert error_of(
        put, FunctionName=function_name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
    ) == (400, "InvalidParameterValueException", UNPUBLISHED)
    for call in (
        lambda_client.get_provisioned_concurrency_config,
        lambda_client.delete_provisioned_concurrency_config,
    ):
        assert error_of(call, FunctionName=function_name, Qualifier="$LATEST") == (
            400,
            "InvalidParameterValueException",
            NOT_ALIAS_OR_VERSION,
        )


def test_zero_is_a_validation_error(
    server: GureumProcess, lambda_client: Any, function_name: str
) -> None:
    version = new_function(lambda_client, function_name)
    unchecked = server.client(
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1})
    )
    assert error_of(
        unchecked.put_provisioned_concurrency_config,
        FunctionName=function_name,
        Qualifier=version,
        ProvisionedConcurrentExecutions=0,
    ) == (
        400,
        "ValidationException",
        "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to "
        "satisfy constraint: Member must have value greater than or equal to 1",
    )


def test_missing_version_alias_and_function(lambda_client: Any, function_name: str) -> None:
    new_function(lambda_client, function_name)
    put = lambda_client.put_provisioned_concurrency_config
    get = lambda_client.get_provisioned_concurrency_config
    cases = [
        (function_name, "10", f"Function not found: {function_arn(function_name, '10')}"),
        (
            function_name,
            "noalias",
            f"Cannot find alias arn: {function_arn(function_name, 'noalias')}",
        ),
        ("doesnotexist", "1", f"Function not found: {function_arn('doesnotexist', '1')}"),
        (
            "doesnotexist",
            "noalias",
            f"Cannot find alias arn: {function_arn('doesnotexist', 'noalias')}",
        ),
    ]
    for name, qualifier, message in cases:
        want = (404, "ResourceNotFoundException", message)
        assert (
            error_of(put, FunctionName=name, Qualifier=qualifier, ProvisionedConcurrentExecutions=1)
            == want
        )
        assert error_of(get, FunctionName=name, Qualifier=qualifier) == want
    assert error_of(
        lambda_client.list_provisioned_concurrency_configs, FunctionName="doesnotexist"
    ) == (404, "ResourceNotFoundException", f"Function not found: {function_arn('doesnotexist')}")


def test_no_config_get_list_delete(lambda_client: Any, function_name: str) -> None:
    version = new_function(lambda_client, function_name)
    assert error_of(
        lambda_client.get_provisioned_concurrency_config,
        FunctionName=function_name,
        Qualifier=version,
    ) == (
        404,
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    )
    listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=function_name)
    assert listed["ProvisionedConcurrencyConfigs"] == []
    deleted = lambda_client.delete_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier=version
    )
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_one_config_per_version(lambda_client: Any, function_name: str) -> None:
    version = new_function(lambda_client, function_name)
    for alias in ("live", "other"):
        lambda_client.create_alias(FunctionName=function_name, Name=alias, FunctionVersion=version)
    put = lambda_client.put_provisioned_concurrency_config
    put(FunctionName=function_name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    assert error_of(
        put, FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=1
    ) == (409, "ResourceConflictException", VERSION_UNDER_ALIAS)
    assert error_of(
        put, FunctionName=function_name, Qualifier="other", ProvisionedConcurrentExecutions=1
    ) == (409, "ResourceConflictException", ALIAS_ON_PROVISIONED)
    lambda_client.delete_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier="live"
    )
    put(FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    assert error_of(
        put, FunctionName=function_name, Qualifier="live", ProvisionedConcurrentExecutions=1
    ) == (409, "ResourceConflictException", ALIAS_ON_PROVISIONED)
    # A refused Put left nothing behind.
    listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=function_name)
    arns = [c["FunctionArn"] for c in listed["ProvisionedConcurrencyConfigs"]]
    assert arns == [function_arn(function_name, version)]
    lambda_client.delete_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier=version
    )


def test_list_is_paged(lambda_client: Any, function_name: str) -> None:
    create(lambda_client, function_name, Code={"ZipFile": CODE})
    versions = [published(lambda_client, function_name, {"NUMBER": str(n)}) for n in range(3)]
    for version in versions:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=1
        )
    first = lambda_client.list_provisioned_concurrency_configs(
        FunctionName=function_name, MaxItems=2
    )
    assert len(first["ProvisionedConcurrencyConfigs"]) == 2
    rest = lambda_client.list_provisioned_concurrency_configs(
        FunctionName=function_name, Marker=first["NextMarker"]
    )
    assert "NextMarker" not in rest
    paginator = lambda_client.get_paginator("list_provisioned_concurrency_configs")
    arns = [
        c["FunctionArn"]
        for page in paginator.paginate(FunctionName=function_name, PaginationConfig={"PageSize": 1})
        for c in page["ProvisionedConcurrencyConfigs"]
    ]
    assert arns == [function_arn(function_name, v) for v in versions]
    item = first["ProvisionedConcurrencyConfigs"][0]
    assert set(item) == {
        "FunctionArn",
        "RequestedProvisionedConcurrentExecutions",
        "AvailableProvisionedConcurrentExecutions",
        "AllocatedProvisionedConcurrentExecutions",
        "Status",
        "LastModified",
    }
    lambda_client.delete_function(FunctionName=function_name)


def test_reserved_concurrency_bounds_provisioned(lambda_client: Any, function_name: str) -> None:
    version = new_function(lambda_client, function_name)
    lambda_client.put_function_concurrency(
        FunctionName=function_name, ReservedConcurrentExecutions=1
    )
    put = lambda_client.put_provisioned_concurrency_config
    assert error_of(
        put, FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=2
    ) == (400, "InvalidParameterValueException", ABOVE_RESERVED)
    put(FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    assert error_of(
        lambda_client.put_function_concurrency,
        FunctionName=function_name,
        ReservedConcurrentExecutions=0,
    ) == (
        400,
        "InvalidParameterValueException",
        " ReservedConcurrentExecutions  0 should not be lower than function's total provisioned "
        "concurrency [1].",
    )
    wait_status(lambda_client, function_name, version, "READY")
    # Σ provisioned == reserved: $LATEST can never run, the provisioned version still does.
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName=function_name, Payload=b"{}")
    assert caught.value.response["Reason"] == RESERVED_REASON
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    ran = invoke(lambda_client, function_name, {}, Qualifier=version)
    assert ran.json()["type"] == "provisioned-concurrency"
    lambda_client.delete_function(FunctionName=function_name)


# --- real allocation -------------------------------------------------------------------------


def test_put_allocates_environments_initialised_ahead(
    server: GureumProcess, lambda_client: Any, function_name: str
) -> None:
    version = new_function(lambda_client, function_name)
    answer = lambda_client.put_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=2
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert answer["Status"] == "IN_PROGRESS"
    assert answer["AllocatedProvisionedConcurrentExecutions"] == 0
    assert answer["AvailableProvisionedConcurrentExecutions"] == 0
    assert answer["RequestedProvisionedConcurrentExecutions"] == 2
    config = wait_status(lambda_client, function_name, version, "READY")
    assert config["AllocatedProvisionedConcurrentExecutions"] == 2
    assert config["AvailableProvisionedConcurrentExecutions"] == 2
    assert "StatusReason" not in config
    # Both environments ran Init before anything invoked them.
    streams = stream_lines(server, function_name)
    assert len(streams) == 2
    for lines in streams:
        assert lines[0].startswith("INIT_START Runtime Version: python:3.12")
        assert lines[1].startswith("INIT_REPORT Init Duration: ")
        assert "\tPhase: init\tStatus: success" in lines[1]
    ran = invoke(lambda_client, function_name, {}, Qualifier=version, LogType="Tail")
    assert ran.json()["type"] == "provisioned-concurrency"
    assert ran.log is not None
    report = [line for line in ran.log.splitlines() if line.startswith("REPORT")]
    assert len(report) == 1
    assert "Init Duration" not in report[0]
    # $LATEST is not provisioned: on demand.
    assert invoke(lambda_client, function_name, {}).json()["type"] == "on-demand"
    lambda_client.delete_function(FunctionName=function_name)


def test_spillover_and_metrics(
    server: GureumProcess, lambda_client: Any, function_name: str
) -> None:
    version = new_function(lambda_client, function_name)
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    wait_status(lambda_client, function_name, version, "READY")
    resource = f"{function_name}:{version}"
    labels = {"FunctionName": function_name, "Resource": resource}
    barrier = threading.Barrier(3)

    def call(_: int) -> str:
        barrier.wait()
        kind: str = invoke(lambda_client, function_name, {"sleep": 1.0}, Qualifier=version).json()[
            "type"
        ]
        return kind

    with ThreadPoolExecutor(3) as pool:
        running = pool.map(call, range(3))
        # While the provisioned environment runs, the gauges say so.
        deadline = time.monotonic() + 5.0
        while metric(server, "aws_lambda_ProvisionedConcurrentExecutions", **labels) != 1:
            assert time.monotonic() < deadline, "the provisioned execution never showed"
            time.sleep(0.05)
        assert metric(server, "aws_lambda_ProvisionedConcurrencyUtilization", **labels) == 1.0
        kinds = sorted(running)
    assert kinds == ["on-demand", "on-demand", "provisioned-concurrency"]
    assert metric(server, "aws_lambda_ProvisionedConcurrencyInvocations_total", **labels) == 1
    assert (
        metric(server, "aws_lambda_ProvisionedConcurrencySpilloverInvocations_total", **labels) == 2
    )
    assert metric(server, "aws_lambda_ProvisionedConcurrencyUtilization", **labels) == 0
    assert metric(server, "aws_lambda_ProvisionedConcurrentExecutions", **labels) == 0
    lambda_client.delete_function(FunctionName=function_name)


def test_spillover_is_limited_by_reserved_minus_provisioned(
    lambda_client: Any, function_name: str
) -> None:
    version = new_function(lambda_client, function_name)
    lambda_client.put_function_concurrency(
        FunctionName=function_name, ReservedConcurrentExecutions=2
    )
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    wait_status(lambda_client, function_name, version, "READY")
    barrier = threading.Barrier(3)

    def call(_: int) -> str:
        barrier.wait()
        try:
            ran = invoke(lambda_client, function_name, {"sleep": 1.0}, Qualifier=version)
        except ClientError as error:
            reason: str = error.response["Reason"]
            return reason
        kind: str = ran.json()["type"]
        return kind

    with ThreadPoolExecutor(3) as pool:
        outcomes = sorted(pool.map(call, range(3)))
    # One provisioned, one on demand (reserved 2 - provisioned 1), the third refused.
    assert outcomes == sorted(["on-demand", "provisioned-concurrency", RESERVED_REASON])
    lambda_client.delete_function(FunctionName=function_name)


def test_json_platform_records_name_the_initialization_type(
    server: GureumProcess, lambda_client: Any, function_name: str
) -> None:
    version = new_function(lambda_client, function_name, LoggingConfig={"LogFormat": "JSON"})
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    wait_status(lambda_client, function_name, version, "READY")
    [lines] = stream_lines(server, function_name)
    start, report = (json.loads(line) for line in lines[:2])
    assert start["type"] == "platform.initStart"
    assert start["record"]["initializationType"] == "provisioned-concurrency"
    assert report["type"] == "platform.initReport"
    assert report["record"]["initializationType"] == "provisioned-concurrency"
    assert report["record"]["status"] == "success"
    lambda_client.delete_function(FunctionName=function_name)


def test_init_failure_fails_without_retrying(
    server: GureumProcess, lambda_client: Any, function_name: str
) -> None:
    create(lambda_client, function_name, Code={"ZipFile": CODE})
    version = published(lambda_client, function_name, {"FAIL_INIT": "1"})
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=2
    )
    config = wait_status(lambda_client, function_name, version, "FAILED")
    assert config["StatusReason"] == "FUNCTION_ERROR_INIT_FAILURE"
    assert config["AllocatedProvisionedConcurrentExecutions"] == 0
    inits = init_starts(server, function_name)
    # Another change to the store makes the provisioner look again: it must not retry.
    lambda_client.update_function_configuration(FunctionName=function_name, Description="x")
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig=WAIT
    )
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        now = init_starts(server, function_name)
        assert now == inits
        time.sleep(0.2)
    assert error_lines(server, function_name)
    lambda_client.delete_function(FunctionName=function_name)


def init_starts(server: GureumProcess, name: str) -> int:
    lines = [line for lines in stream_lines(server, name) for line in lines]
    return sum(1 for line in lines if line.startswith("INIT_START"))


def error_lines(server: GureumProcess, name: str) -> list[str]:
    return [
        line
        for lines in stream_lines(server, name)
        for line in lines
        if line.startswith("INIT_REPORT") and "Status: error" in line
    ]


# --- aliases ---------------------------------------------------------------------------------


def test_alias_config_follows_the_alias(lambda_client: Any, function_name: str) -> None:
    create(lambda_client, function_name, Code={"ZipFile": CODE})
    first = published(lambda_client, function_name, {"RELEASE": "1"})
    second = published(lambda_client, function_name, {"RELEASE": "2"})
    lambda_client.create_alias(FunctionName=function_name, Name="live", FunctionVersion=first)
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    wait_status(lambda_client, function_name, "live", "READY")
    ran = invoke(lambda_client, function_name, {}, Qualifier="live").json()
    assert (ran["type"], ran["version"]) == ("provisioned-concurrency", first)
    # The version itself is covered through the alias: its own invocations use it too.
    assert invoke(lambda_client, function_name, {}, Qualifier=first).json()["type"] == (
        "provisioned-concurrency"
    )
    # Moving the alias moves the environments: the new version's are initialised ahead.
    lambda_client.update_alias(FunctionName=function_name, Name="live", FunctionVersion=second)
    deadline = time.monotonic() + READY_WITHIN
    while True:
        ran = invoke(lambda_client, function_name, {}, Qualifier="live").json()
        status = lambda_client.get_provisioned_concurrency_config(
            FunctionName=function_name, Qualifier="live"
        )["Status"]
        if ran["type"] == "provisioned-concurrency" and status == "READY":
            break
        assert time.monotonic() < deadline, (ran, status)
        time.sleep(0.1)
    assert ran["version"] == second
    assert invoke(lambda_client, function_name, {}, Qualifier=first).json()["type"] == "on-demand"
    # Deleting the alias deletes its configuration.
    lambda_client.delete_alias(FunctionName=function_name, Name="live")
    assert error_of(
        lambda_client.get_provisioned_concurrency_config,
        FunctionName=function_name,
        Qualifier="live",
    ) == (
        404,
        "ResourceNotFoundException",
        f"Cannot find alias arn: {function_arn(function_name, 'live')}",
    )
    listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=function_name)
    assert listed["ProvisionedConcurrencyConfigs"] == []
    lambda_client.delete_function(FunctionName=function_name)


def test_an_alias_with_a_config_keeps_its_rules(lambda_client: Any, function_name: str) -> None:
    create(lambda_client, function_name, Code={"ZipFile": CODE})
    first = published(lambda_client, function_name, {"RELEASE": "1"})
    second = published(lambda_client, function_name, {"RELEASE": "2"})
    lambda_client.create_alias(FunctionName=function_name, Name="live", FunctionVersion=first)
    put = lambda_client.put_provisioned_concurrency_config
    put(FunctionName=function_name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    put(FunctionName=function_name, Qualifier=second, ProvisionedConcurrentExecutions=1)
    update = lambda_client.update_alias
    assert error_of(update, FunctionName=function_name, Name="live", FunctionVersion=second) == (
        409,
        "ResourceConflictException",
        ALIAS_ON_PROVISIONED,
    )
    assert error_of(update, FunctionName=function_name, Name="live", FunctionVersion="$LATEST") == (
        400,
        "InvalidParameterValueException",
        UNPUBLISHED,
    )
    alias = lambda_client.get_alias(FunctionName=function_name, Name="live")
    assert alias["FunctionVersion"] == first
    lambda_client.delete_function(FunctionName=function_name)


def test_weighted_alias_splits_environments(lambda_client: Any, function_name: str) -> None:
    create(lambda_client, function_name, Code={"ZipFile": CODE})
    first = published(lambda_client, function_name, {"RELEASE": "1"})
    second = published(lambda_client, function_name, {"RELEASE": "2"})
    lambda_client.create_alias(
        FunctionName=function_name,
        Name="canary",
        FunctionVersion=first,
        RoutingConfig={"AdditionalVersionWeights": {second: 0.5}},
    )
    # Either version may be the one a weighted alias runs: neither may take its own config.
    put = lambda_client.put_provisioned_concurrency_config
    put(FunctionName=function_name, Qualifier="canary", ProvisionedConcurrentExecutions=2)
    for version in (first, second):
        assert error_of(
            put, FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=1
        ) == (409, "ResourceConflictException", VERSION_UNDER_ALIAS)
    wait_status(lambda_client, function_name, "canary", "READY")
    # One environment each: sequential invocations of either version all run provisioned.
    for version in (first, second):
        ran = invoke(lambda_client, function_name, {}, Qualifier=version).json()
        assert (ran["type"], ran["version"]) == ("provisioned-concurrency", version)
    lambda_client.delete_function(FunctionName=function_name)


# --- environments that die are replaced ------------------------------------------------------


def test_crashed_environment_is_replaced(lambda_client: Any, function_name: str) -> None:
    version = new_function(lambda_client, function_name)
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    wait_status(lambda_client, function_name, version, "READY")
    before = invoke(lambda_client, function_name, {}, Qualifier=version).json()
    assert before["type"] == "provisioned-concurrency"
    crashed = invoke(lambda_client, function_name, {"mode": "exit"}, Qualifier=version)
    assert crashed.function_error == "Unhandled"
    deadline = time.monotonic() + READY_WITHIN
    while True:
        after = invoke(lambda_client, function_name, {}, Qualifier=version).json()
        if after["type"] == "provisioned-concurrency":
            break
        assert time.monotonic() < deadline, "the crashed environment was not replaced"
        time.sleep(0.1)
    assert after["environment"] != before["environment"]
    config = lambda_client.get_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier=version
    )
    assert (config["Status"], config["AllocatedProvisionedConcurrentExecutions"]) == ("READY", 1)
    lambda_client.delete_function(FunctionName=function_name)


def test_delete_deallocates(server: GureumProcess, lambda_client: Any, function_name: str) -> None:
    version = new_function(lambda_client, function_name)
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    wait_status(lambda_client, function_name, version, "READY")
    deleted = lambda_client.delete_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier=version
    )
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    deadline = time.monotonic() + READY_WITHIN
    while invoke(lambda_client, function_name, {}, Qualifier=version).json()["type"] != "on-demand":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    lambda_client.delete_function(FunctionName=function_name)


# --- the account: private servers with small limits ------------------------------------------

# Admission and the ledger sit above the sandbox: these servers need no isolation (and must not
# sweep the session server's cgroups, see test_concurrency.py).
UNSANDBOXED = ("--isolation", "none")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    data = tmp_path_factory.mktemp("provisioned-small") / "data"
    limits = ("--account-concurrency", "20", "--unreserved-minimum", "5")
    process = GureumProcess(data, *UNSANDBOXED, *limits).start()
    yield process
    process.stop()


def test_unreserved_pool_rules(small: GureumProcess) -> None:
    client = small.client()
    version = new_function(client, "pc-account")
    put = client.put_provisioned_concurrency_config
    assert error_of(
        put, FunctionName="pc-account", Qualifier=version, ProvisionedConcurrentExecutions=21
    ) == (
        400,
        "InvalidParameterValueException",
        "Specified ConcurrentExecutions for function is greater than account's unreserved "
        "concurrency [20].",
    )
    assert error_of(
        put, FunctionName="pc-account", Qualifier=version, ProvisionedConcurrentExecutions=16
    ) == (
        400,
        "InvalidParameterValueException",
        "Specified ConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [5].",
    )
    assert (
        client.list_provisioned_concurrency_configs(FunctionName="pc-account")[
            "ProvisionedConcurrencyConfigs"
        ]
        == []
    )
    put(FunctionName="pc-account", Qualifier=version, ProvisionedConcurrentExecutions=3)
    limit = client.get_account_settings()["AccountLimit"]
    assert (limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]) == (20, 17)
    # Another function may reserve only what the provisioned concurrency left.
    new_function(client, "pc-other")
    assert error_of(
        client.put_function_concurrency, FunctionName="pc-other", ReservedConcurrentExecutions=13
    ) == (
        400,
        "InvalidParameterValueException",
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [5].",
    )
    client.put_function_concurrency(FunctionName="pc-other", ReservedConcurrentExecutions=12)
    # A reservation holds its function's provisioned concurrency: 20 - 12 - 3 leaves 5.
    assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 5
    client.put_function_concurrency(FunctionName="pc-account", ReservedConcurrentExecutions=3)
    limit = client.get_account_settings()["AccountLimit"]
    assert limit["UnreservedConcurrentExecutions"] == 5
    # GetFunctionConcurrency shows the reservation alone, provisioned or not.
    got = client.get_function_concurrency(FunctionName="pc-account")
    got.pop("ResponseMetadata")
    assert got == {"ReservedConcurrentExecutions": 3}
    for name in ("pc-account", "pc-other"):
        client.delete_function(FunctionName=name)


# --- durable: a restart allocates again ------------------------------------------------------


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_configs_survive_a_restart(tmp_path: Path, how: str) -> None:
    process = GureumProcess(tmp_path / "data", *UNSANDBOXED).start()
    try:
        client = process.client()
        version = new_function(client, "durable")
        client.put_provisioned_concurrency_config(
            FunctionName="durable", Qualifier=version, ProvisionedConcurrentExecutions=2
        )
        wait_status(client, "durable", version, "READY")
        process.stop() if how == "stop" else process.kill()
        process.start()
        client = process.client()
        config = client.get_provisioned_concurrency_config(
            FunctionName="durable", Qualifier=version
        )
        assert config["RequestedProvisionedConcurrentExecutions"] == 2
        assert config["Status"] in {"IN_PROGRESS", "READY"}
        config = wait_status(client, "durable", version, "READY")
        assert config["AllocatedProvisionedConcurrentExecutions"] == 2
        ran = invoke(client, "durable", {}, Qualifier=version).json()
        assert ran["type"] == "provisioned-concurrency"
    finally:
        if process.process is not None:
            process.stop()


def test_environments_are_recycled_without_dropping_below(tmp_path: Path) -> None:
    """4 hours at --time-scale 0.0005 is 7.2 seconds: the environment is replaced by a new one,
    initialised first, and every invocation meanwhile runs provisioned."""
    process = GureumProcess(tmp_path / "data", *UNSANDBOXED, "--time-scale", "0.0005").start()
    try:
        client = process.client()
        version = new_function(client, "recycled")
        client.put_provisioned_concurrency_config(
            FunctionName="recycled", Qualifier=version, ProvisionedConcurrentExecutions=1
        )
        wait_status(client, "recycled", version, "READY")
        first = invoke(client, "recycled", {}, Qualifier=version).json()["environment"]
        deadline = time.monotonic() + READY_WITHIN
        while True:
            ran = invoke(client, "recycled", {}, Qualifier=version).json()
            assert ran["type"] == "provisioned-concurrency"
            if ran["environment"] != first:
                break
            assert time.monotonic() < deadline, "the environment was never recycled"
            time.sleep(0.2)
        config = client.get_provisioned_concurrency_config(
            FunctionName="recycled", Qualifier=version
        )
        assert (config["Status"], config["AllocatedProvisionedConcurrentExecutions"]) == (
            "READY",
            1,
        )
    finally:
        process.stop()


def test_a_pending_version_is_allocated_once_active(tmp_path: Path) -> None:
    """Settling gives a version a new revision: environments started before would never
    serve it. The configuration waits for the version, then its environments serve."""
    process = GureumProcess(tmp_path / "data", *UNSANDBOXED, "--settle-delay", "1").start()
    try:
        client = process.client()
        created = client.create_function(
            FunctionName="pending",
            Runtime="python3.12",
            Role=f"arn:aws:iam::{ACCOUNT}:role/lambda-role",
            Handler="index.handler",
            Code={"ZipFile": CODE},
            Publish=True,
        )
        version = created["Version"]
        assert (version, created["State"]) == ("1", "Pending")
        client.put_provisioned_concurrency_config(
            FunctionName="pending", Qualifier=version, ProvisionedConcurrentExecutions=1
        )
        wait_status(client, "pending", version, "READY")
        ran = invoke(client, "pending", {}, Qualifier=version).json()
        assert ran["type"] == "provisioned-concurrency"
    finally:
        process.stop()


def test_a_failing_replacement_keeps_ready_and_backs_off(tmp_path: Path) -> None:
    """The environment crashes and its replacement's Init fails (a flag file on the host: the
    server runs functions unsandboxed): the configuration stays READY, the replacement is tried
    again after a back-off (30 s scaled to 0.3 s), not in a loop, and succeeds once Init can.
    """
    flag = tmp_path / "fail-init"
    process = GureumProcess(tmp_path / "data", *UNSANDBOXED, "--time-scale", "0.01").start()
    try:
        client = process.client()
        create(client, "replaced", Code={"ZipFile": CODE})
        version = published(client, "replaced", {"FAIL_INIT_IF": str(flag)})
        client.put_provisioned_concurrency_config(
            FunctionName="replaced", Qualifier=version, ProvisionedConcurrentExecutions=1
        )
        wait_status(client, "replaced", version, "READY")
        flag.touch()
        crashed = invoke(client, "replaced", {"mode": "exit"}, Qualifier=version)
        assert crashed.function_error == "Unhandled"
        deadline = time.monotonic() + READY_WITHIN
        while not error_lines(process, "replaced"):
            assert time.monotonic() < deadline, "no replacement was tried"
            time.sleep(0.05)
        # Two more tries take at least two back-offs (a hot loop would take two Inits).
        began, tried = time.monotonic(), len(error_lines(process, "replaced"))
        while len(error_lines(process, "replaced")) < tried + 2:
            config = client.get_provisioned_concurrency_config(
                FunctionName="replaced", Qualifier=version
            )
            assert config["Status"] == "READY"
            assert time.monotonic() < deadline, "the replacement was not tried again"
            time.sleep(0.05)
        assert time.monotonic() - began >= 0.5  # 2 x 0.3 s, less the polling
        flag.unlink()
        deadline = time.monotonic() + READY_WITHIN
        while invoke(client, "replaced", {}, Qualifier=version).json()["type"] != (
            "provisioned-concurrency"
        ):
            assert time.monotonic() < deadline, "the replacement never came"
            time.sleep(0.1)
    finally:
        process.stop()
