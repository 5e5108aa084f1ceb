"""Application Auto Scaling on a server whose stores are in PostgreSQL (`--store`): a Lambda
alias's provisioned concurrency registered as a scalable target, described, given a policy and
deregistered as on the embedded default, its rows in PostgreSQL."""

from __future__ import annotations

import os
from typing import Any

import psycopg

from tests.support.functions import WAIT, create
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

HANDLER = "def handler(event, context):\n    return 'ok'\n"
DIMENSION = "lambda:function:ProvisionedConcurrency"


def test_a_scalable_target_is_registered_and_described(postgres_server: GureumProcess) -> None:
    functions, scaling = (postgres_server.client(s) for s in ("lambda", "application-autoscaling"))
    name = f"scaled-{os.getpid()}"
    create(functions, name, Code={"ZipFile": zip_of({"index.py": HANDLER})})
    version = functions.publish_version(FunctionName=name)["Version"]
    functions.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier=version, WaiterConfig=WAIT
    )
    functions.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    resource = f"function:{name}:live"
    target = {"ServiceNamespace": "lambda", "ResourceId": resource, "ScalableDimension": DIMENSION}
    arn = scaling.register_scalable_target(**target, MinCapacity=0, MaxCapacity=3)[
        "ScalableTargetARN"
    ]
    scaling.put_scaling_policy(
        **target,
        PolicyName="track",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 0.7,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "LambdaProvisionedConcurrencyUtilization"
            },
        },
    )
    described: Any = scaling.describe_scalable_targets(
        ServiceNamespace="lambda", ResourceIds=[resource]
    )["ScalableTargets"]
    assert [(t["ScalableTargetARN"], t["MinCapacity"], t["MaxCapacity"]) for t in described] == [
        (arn, 0, 3)
    ]
    policies = scaling.describe_scaling_policies(ServiceNamespace="lambda", ResourceId=resource)
    assert [p["PolicyName"] for p in policies["ScalingPolicies"]] == ["track"]
    url = postgres_server.extra[postgres_server.extra.index("--store") + 1]
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT t.resource_id, count(p.name) FROM targets t LEFT JOIN policies p "
            "USING (account, region, resource_id) WHERE t.resource_id = %s "
            "GROUP BY t.resource_id",
            (resource,),
        ).fetchall()
    assert rows == [(resource, 1)]
    scaling.deregister_scalable_target(**target)
    assert (
        scaling.describe_scalable_targets(ServiceNamespace="lambda", ResourceIds=[resource])[
            "ScalableTargets"
        ]
        == []
    )
