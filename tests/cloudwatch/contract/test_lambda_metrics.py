"""Lambda's metrics in CloudWatch (`AWS/Lambda`), from real invocations on a real server: AWS's
dimension sets (FunctionName; FunctionName + Resource; + ExecutedVersion; none), visible within
a few seconds, and one-minute points that are one scaled minute under `--time-scale`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import ROLE
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

CODE = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("boom")
    return event
"""
VISIBLE_WITHIN = 10.0


def statistic(
    cloudwatch: Any,
    metric: str,
    dimensions: dict[str, str],
    stat: str = "Sum",
    minutes: int = 10,
) -> float | None:
    """`stat` of `metric` over the last minutes, one period covering them all."""
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - timedelta(minutes=minutes),
        EndTime=now + timedelta(minutes=1),
        Period=60 * (minutes + 1),
        Statistics=[stat],
    )["Datapoints"]
    values = [point[stat] for point in points]
    return max(values) if values else None


def eventually(read: Callable[[], float | None], expected: float) -> None:
    deadline = time.monotonic() + VISIBLE_WITHIN
    seen = read()
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        seen = read()
    assert seen == expected


@pytest.fixture(scope="module")
def cloudwatch(server: GureumProcess) -> Any:
    return server.client("cloudwatch")


def test_invocations_errors_and_duration_by_dimension(
    lambda_client: Any,
    cloudwatch: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
) -> None:
    make_function(Code={"ZipFile": zip_of({"index.py": CODE})})
    version = lambda_client.publish_version(FunctionName=function_name)["Version"]
    lambda_client.create_alias(FunctionName=function_name, Name="live", FunctionVersion=version)
    lambda_client.invoke(FunctionName=function_name, Payload=b"{}")
    lambda_client.invoke(FunctionName=function_name, Payload=b'{"fail": true}')
    lambda_client.invoke(FunctionName=function_name, Qualifier=version, Payload=b"{}")
    lambda_client.invoke(FunctionName=function_name, Qualifier="live", Payload=b"{}")

    name = {"FunctionName": function_name}
    eventually(lambda: statistic(cloudwatch, "Invocations", name), 4.0)
    eventually(lambda: statistic(cloudwatch, "Errors", name), 1.0)
    eventually(lambda: statistic(cloudwatch, "Duration", name, "SampleCount"), 4.0)
    by_version = {**name, "Resource": f"{function_name}:{version}"}
    eventually(lambda: statistic(cloudwatch, "Invocations", by_version), 1.0)
    by_alias = {**name, "Resource": f"{function_name}:live"}
    eventually(lambda: statistic(cloudwatch, "Invocations", by_alias), 1.0)
    executed = {**by_alias, "ExecutedVersion": version}
    eventually(lambda: statistic(cloudwatch, "Invocations", executed), 1.0)
    account = statistic(cloudwatch, "Invocations", {})
    assert account is not None
    assert account >= 4.0

    listed = cloudwatch.list_metrics(
        Namespace="AWS/Lambda", Dimensions=[{"Name": "FunctionName", "Value": function_name}]
    )["Metrics"]
    names = {metric["MetricName"] for metric in listed}
    assert {"Invocations", "Errors", "Duration"} <= names


def test_throttles_and_async_events(
    lambda_client: Any,
    cloudwatch: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
) -> None:
    make_function(Code={"ZipFile": zip_of({"index.py": CODE})})
    lambda_client.invoke(FunctionName=function_name, InvocationType="Event", Payload=b"{}")
    name = {"FunctionName": function_name}
    eventually(lambda: statistic(cloudwatch, "AsyncEventsReceived", name), 1.0)
    eventually(lambda: statistic(cloudwatch, "Invocations", name), 1.0)
    lambda_client.put_function_concurrency(
        FunctionName=function_name, ReservedConcurrentExecutions=0
    )
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException):
        lambda_client.invoke(FunctionName=function_name, Payload=b"{}")
    eventually(lambda: statistic(cloudwatch, "Throttles", name), 1.0)


def test_concurrent_executions_are_sampled(
    lambda_client: Any,
    cloudwatch: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
) -> None:
    make_function(Code={"ZipFile": zip_of({"index.py": CODE})})
    calls = [
        threading.Thread(
            target=lambda_client.invoke,
            kwargs={"FunctionName": function_name, "Payload": b'{"sleep": 2.5}'},
        )
        for _ in range(2)
    ]
    for call in calls:
        call.start()
    for call in calls:
        call.join()
    name = {"FunctionName": function_name}
    eventually(lambda: statistic(cloudwatch, "ConcurrentExecutions", name, "Maximum"), 2.0)
    account = statistic(cloudwatch, "UnreservedConcurrentExecutions", {}, "Maximum")
    assert account is not None
    assert account >= 2.0


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    """A server whose minute is 1.2 seconds (`--time-scale 0.02`)."""
    data: Path = tmp_path_factory.mktemp("gureum-scaled") / "data"
    process = GureumProcess(data, "--time-scale", "0.02").start()
    yield process
    process.stop()


def test_under_time_scale_a_point_is_a_scaled_minute(scaled: GureumProcess) -> None:
    lambda_client, cloudwatch = scaled.client(), scaled.client("cloudwatch")
    name = "scaled-points"
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": CODE})},
    )
    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1}
    )
    start = datetime.now(UTC) - timedelta(seconds=5)
    lambda_client.invoke(FunctionName=name, Payload=b"{}")
    time.sleep(1.5)  # past the first point's 1.2 seconds
    lambda_client.invoke(FunctionName=name, Payload=b"{}")
    time.sleep(1.0)  # the buffer is written within a second; reads flush it anyway

    def points() -> list[float]:
        answer = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="Invocations",
            Dimensions=[{"Name": "FunctionName", "Value": name}],
            StartTime=start,
            EndTime=datetime.now(UTC) + timedelta(seconds=5),
            Period=60,  # one scaled minute: 1.2 seconds
            Statistics=["Sum"],
        )
        return [point["Sum"] for point in answer["Datapoints"]]

    assert points() == [1.0, 1.0]
