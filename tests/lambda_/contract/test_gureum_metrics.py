"""What Lambda publishes into gureum's own CloudWatch namespace (Gureum/Lambda) for the console:
figures AWS keeps in logs or nowhere (cold and warm starts with Init Duration, throttles by
Reason, dead-letter deliveries, the async queue's depth), read back with CloudWatch's API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.packages import zip_of
from tests.support.server import GureumProcess

NAMESPACE = "Gureum/Lambda"


def statistic(cloudwatch: Any, metric: str, dimensions: dict[str, str], stat: str = "Sum") -> float:
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=[stat],
    )["Datapoints"]
    return float(sum(p[stat] for p in points))


def eventually(probe: Callable[[], float], wanted: float, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while (value := probe()) != wanted:
        assert time.monotonic() < deadline, f"{value} != {wanted}"
        time.sleep(0.2)


def test_a_cold_then_a_warm_start(
    server: GureumProcess, lambda_client: Any, make_function: Callable[..., Any], function_name: str
) -> None:
    make_function()
    for _ in range(2):
        lambda_client.invoke(FunctionName=function_name, Payload=b"{}")
    cloudwatch = server.client("cloudwatch")
    dims = {"FunctionName": function_name}
    assert statistic(cloudwatch, "ColdStarts", dims) == 1
    assert statistic(cloudwatch, "WarmStarts", dims) == 1
    assert statistic(cloudwatch, "InitDuration", dims, "SampleCount") == 1
    assert statistic(cloudwatch, "InitDuration", dims, "Maximum") > 0


def test_a_throttle_is_counted_by_its_reason(
    server: GureumProcess, lambda_client: Any, make_function: Callable[..., Any], function_name: str
) -> None:
    make_function()
    lambda_client.put_function_concurrency(
        FunctionName=function_name, ReservedConcurrentExecutions=0
    )
    with pytest.raises(ClientError) as refused:
        lambda_client.invoke(FunctionName=function_name, Payload=b"{}")
    reason = refused.value.response["Reason"]
    assert reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    cloudwatch = server.client("cloudwatch")
    by_reason = {"FunctionName": function_name, "Reason": reason}
    assert statistic(cloudwatch, "Throttles", by_reason) == 1


def test_a_dead_letter_delivery_is_counted(
    server: GureumProcess, lambda_client: Any, make_function: Callable[..., Any], function_name: str
) -> None:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=f"{function_name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    failing = "def handler(event, context):\n    raise RuntimeError('no')\n"
    make_function(
        Code={"ZipFile": zip_of({"index.py": failing})}, DeadLetterConfig={"TargetArn": arn}
    )
    lambda_client.put_function_event_invoke_config(
        FunctionName=function_name, MaximumRetryAttempts=0
    )
    lambda_client.invoke(FunctionName=function_name, InvocationType="Event", Payload=b"{}")
    cloudwatch = server.client("cloudwatch")
    dims = {"FunctionName": function_name}
    eventually(lambda: statistic(cloudwatch, "DeadLetterDeliveries", dims), 1.0)
    message = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert json.loads(message["Body"]) == {}
    # The account's queue depth went back to 0 once the event was delivered.
    eventually(lambda: statistic(cloudwatch, "AsyncQueueDepth", {}, "Minimum"), 0.0)
