"""Target tracking end to end: load on an alias raises its provisioned concurrency utilization
(published by Lambda into CloudWatch), the scaler scales it out, and the quiet after brings it
back to the minimum. Under --time-scale 0.01: a one-minute period is 0.6 s."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.functions import WAIT, create
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

SLOW = "import time\n\ndef handler(event, context):\n    time.sleep(0.05)\n    return 'ok'\n"
DIMENSION = "lambda:function:ProvisionedConcurrency"
TARGET = {
    "ServiceNamespace": "lambda",
    "ResourceId": "function:busy:prod",
    "ScalableDimension": DIMENSION,
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GureumProcess]:
    process = GureumProcess(
        tmp_path / "data", "--isolation", "none", "--time-scale", "0.01"
    ).start()
    yield process
    process.stop()


def eventually(check: Callable[[], bool], deadline: float) -> None:
    end = time.monotonic() + deadline
    while not check():
        assert time.monotonic() < end, "not within the deadline"
        time.sleep(0.2)


def requested(functions: Any) -> int:
    config = functions.get_provisioned_concurrency_config(FunctionName="busy", Qualifier="prod")
    return int(config["RequestedProvisionedConcurrentExecutions"])


def test_load_scales_provisioned_concurrency_out_and_quiet_scales_it_in(
    server: GureumProcess,
) -> None:
    functions = server.client("lambda")
    scaling = server.client("application-autoscaling")
    create(functions, "busy", Code={"ZipFile": zip_of({"index.py": SLOW})})
    version = functions.publish_version(FunctionName="busy")["Version"]
    functions.get_waiter("published_version_active").wait(
        FunctionName="busy", Qualifier=version, WaiterConfig=WAIT
    )
    functions.create_alias(FunctionName="busy", Name="prod", FunctionVersion=version)
    scaling.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=4)
    scaling.put_scaling_policy(
        **TARGET,
        PolicyName="seventy",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 0.7,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "LambdaProvisionedConcurrencyUtilization"
            },
        },
    )
    assert requested(functions) == 1

    # One caller invoking back to back keeps the one provisioned environment busy: 100%.
    stop = threading.Event()

    def load() -> None:
        caller = server.client("lambda")
        while not stop.is_set():
            caller.invoke(FunctionName="busy", Qualifier="prod", Payload=b"{}")

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        eventually(lambda: requested(functions) >= 2, deadline=30)
    finally:
        stop.set()
        worker.join(timeout=10)
    activities = scaling.describe_scaling_activities(ServiceNamespace="lambda")
    causes = [a["Cause"] for a in activities["ScalingActivities"]]
    assert any("AlarmHigh" in cause for cause in causes), causes

    # Quiet: 15 periods under 90% of the target bring it back to the minimum.
    eventually(lambda: requested(functions) == 1, deadline=40)
    cloudwatch = server.client("cloudwatch")
    now = time.time()
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="ProvisionedConcurrencyUtilization",
        Dimensions=[
            {"Name": "FunctionName", "Value": "busy"},
            {"Name": "Resource", "Value": "busy:prod"},
        ],
        StartTime=now - 3600,
        EndTime=now + 60,
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert max(p["Maximum"] for p in points) == 1.0
