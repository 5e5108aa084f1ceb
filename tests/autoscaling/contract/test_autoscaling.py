"""Application Auto Scaling against a real server, scaling real functions' provisioned
concurrency, driven by boto3's `application-autoscaling` client and the AWS CLI: every
operation, AWS's errors, the target tracking alarms in CloudWatch, scheduled actions firing under
--time-scale, and durability across a restart."""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import aws_error
from tests.support.cli import run_aws
from tests.support.functions import WAIT, create
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

OPTIONS = ("--isolation", "none", "--time-scale", "0.01")
DIMENSION = "lambda:function:ProvisionedConcurrency"
METRIC = {"PredefinedMetricType": "LambdaProvisionedConcurrencyUtilization"}
_numbers = itertools.count()
HANDLER = "def handler(event, context):\n    return 'ok'\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path_factory.mktemp("gureum-aas") / "data", *OPTIONS).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def scaling(server: GureumProcess) -> Any:
    return server.client("application-autoscaling")


@pytest.fixture(scope="module")
def cloudwatch(server: GureumProcess) -> Any:
    return server.client("cloudwatch")


@pytest.fixture(scope="module")
def functions(server: GureumProcess) -> Any:
    return server.client("lambda")


def published(functions: Any, name: str, *aliases: str) -> None:
    """A function with version 1 published and `aliases` pointing to it: what provisioned
    concurrency, and so a scalable target, is for."""
    create(functions, name, Code={"ZipFile": zip_of({"index.py": HANDLER})})
    version = functions.publish_version(FunctionName=name)["Version"]
    functions.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier=version, WaiterConfig=WAIT
    )
    for alias in aliases:
        functions.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)


@pytest.fixture
def resource(functions: Any) -> str:
    name = f"fn-{next(_numbers)}-{os.getpid()}"
    published(functions, name, "prod")
    return f"function:{name}:prod"


def target(resource: str) -> dict[str, str]:
    return {"ServiceNamespace": "lambda", "ResourceId": resource, "ScalableDimension": DIMENSION}


def track(value: float = 0.7, **config: Any) -> dict[str, Any]:
    return {
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": value,
            "PredefinedMetricSpecification": METRIC,
            **config,
        },
    }


def eventually(check: Callable[[], bool], deadline: float = 20.0) -> None:
    """Polls until `check` holds, or fails at the deadline."""
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError("not within the deadline")
        time.sleep(0.1)


# --- scalable targets ----------------------------------------------------------------------------


def test_register_describe_and_deregister(scaling: Any, resource: str) -> None:
    arn = scaling.register_scalable_target(**target(resource), MinCapacity=2, MaxCapacity=10)[
        "ScalableTargetARN"
    ]
    assert re.fullmatch(
        r"arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/[0-9a-f]{32}",
        arn,
    )
    (described,) = scaling.describe_scalable_targets(
        ServiceNamespace="lambda", ResourceIds=[resource]
    )["ScalableTargets"]
    assert described["MinCapacity"] == 2
    assert described["MaxCapacity"] == 10
    assert described["ScalableTargetARN"] == arn
    assert described["RoleARN"] == (
        "arn:aws:iam::000000000000:role/aws-service-role/lambda.application-autoscaling."
        "amazonaws.com/AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency"
    )
    assert described["SuspendedState"] == {
        "DynamicScalingInSuspended": False,
        "DynamicScalingOutSuspended": False,
        "ScheduledScalingSuspended": False,
    }
    # registering again updates what it names
    scaling.register_scalable_target(**target(resource), MaxCapacity=20)
    (described,) = scaling.describe_scalable_targets(
        ServiceNamespace="lambda", ResourceIds=[resource]
    )["ScalableTargets"]
    assert (described["MinCapacity"], described["MaxCapacity"]) == (2, 20)
    # the minimum was allocated, and that is an activity
    (activity,) = scaling.describe_scaling_activities(
        ServiceNamespace="lambda", ResourceId=resource
    )["ScalingActivities"]
    assert activity["Description"] == "Setting desired concurrency to 2."
    assert activity["Cause"] == "minimum capacity was set to 2"
    assert activity["StatusCode"] == "Successful"
    assert activity["StatusMessage"] == (
        "Successfully set desired concurrency to 2. Change successfully fulfilled by lambda."
    )
    scaling.deregister_scalable_target(**target(resource))
    assert (
        scaling.describe_scalable_targets(ServiceNamespace="lambda", ResourceIds=[resource])[
            "ScalableTargets"
        ]
        == []
    )
    with aws_error(
        "ObjectNotFoundException",
        400,
        f"No scalable target registered for service namespace: lambda, resource ID: {resource}, "
        f"scalable dimension: {DIMENSION}",
    ):
        scaling.deregister_scalable_target(**target(resource))


def test_describe_pages(scaling: Any, functions: Any) -> None:
    name = f"paged-{os.getpid()}"
    published(functions, name, "v0", "v1", "v2")
    resources = [f"function:{name}:v{i}" for i in range(3)]
    for resource in resources:
        scaling.register_scalable_target(**target(resource), MinCapacity=0, MaxCapacity=1)
    first = scaling.describe_scalable_targets(
        ServiceNamespace="lambda", ResourceIds=resources, MaxResults=2
    )
    second = scaling.describe_scalable_targets(
        ServiceNamespace="lambda", ResourceIds=resources, NextToken=first["NextToken"]
    )
    found = [t["ResourceId"] for t in first["ScalableTargets"] + second["ScalableTargets"]]
    assert found == sorted(resources)
    assert "NextToken" not in second


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            {
                "ServiceNamespace": "ecs",
                "ResourceId": "service/default/web",
                "ScalableDimension": "ecs:service:DesiredCount",
            },
            "Unsupported service namespace, resource type or scalable dimension",
        ),
        (
            {
                "ServiceNamespace": "lambda",
                "ResourceId": "function:f",
                "ScalableDimension": DIMENSION,
            },
            "Unsupported service namespace, resource type or scalable dimension",
        ),
        (
            {
                "ServiceNamespace": "lambda",
                "ResourceId": "function:f:$LATEST",
                "ScalableDimension": DIMENSION,
            },
            "Invalid ResourceId: function:f:$LATEST. Provisioned concurrency can be scaled only "
            "for an alias or a published version, not $LATEST.",
        ),
    ],
)
def test_register_refuses_what_is_not_lambda_provisioned_concurrency(
    scaling: Any, request_: dict[str, str], message: str
) -> None:
    with aws_error("ValidationException", 400, message):
        scaling.register_scalable_target(**request_, MinCapacity=1, MaxCapacity=2)


def test_register_refuses_tags_it_would_not_keep(scaling: Any, resource: str) -> None:
    with aws_error(
        "ValidationException", 400, "gureum does not support tags on scalable targets yet."
    ):
        scaling.register_scalable_target(
            **target(resource), MinCapacity=0, MaxCapacity=1, Tags={"team": "a"}
        )


def test_register_capacity_rules(scaling: Any, resource: str) -> None:
    with aws_error(
        "ValidationException",
        400,
        "MinCapacity and MaxCapacity are required when you register a new scalable target",
    ):
        scaling.register_scalable_target(**target(resource), MinCapacity=1)
    with aws_error(
        "ValidationException", 400, "Minimum capacity cannot be greater than maximum capacity"
    ):
        scaling.register_scalable_target(**target(resource), MinCapacity=5, MaxCapacity=2)
    assert (
        scaling.describe_scalable_targets(ServiceNamespace="lambda", ResourceIds=[resource])[
            "ScalableTargets"
        ]
        == []
    )


# --- scaling policies ----------------------------------------------------------------------------


def test_a_target_tracking_policy_and_its_alarms(
    scaling: Any, cloudwatch: Any, resource: str
) -> None:
    scaling.register_scalable_target(**target(resource), MinCapacity=1, MaxCapacity=10)
    answer = scaling.put_scaling_policy(
        **target(resource), PolicyName="my-policy", **track(0.7, ScaleInCooldown=120)
    )
    assert re.fullmatch(
        r"arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:[0-9a-f-]{36}:"
        rf"resource/lambda/{re.escape(resource)}:policyName/my-policy",
        answer["PolicyARN"],
    )
    names = [a["AlarmName"] for a in answer["Alarms"]]
    assert re.fullmatch(
        rf"TargetTracking-{re.escape(resource)}-AlarmHigh-[0-9a-f-]{{36}}", names[0]
    )
    assert re.fullmatch(rf"TargetTracking-{re.escape(resource)}-AlarmLow-[0-9a-f-]{{36}}", names[1])
    assert (
        answer["Alarms"][0]["AlarmARN"]
        == f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{names[0]}"
    )
    alarms = {
        a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    }
    high, low = alarms[names[0]], alarms[names[1]]
    function, qualifier = resource.split(":")[1:]
    for alarm in (high, low):
        assert alarm["MetricName"] == "ProvisionedConcurrencyUtilization"
        assert alarm["Namespace"] == "AWS/Lambda"
        assert alarm["Statistic"] == "Average"
        assert alarm["Period"] == 60
        assert alarm["AlarmActions"] == [answer["PolicyARN"]]
        assert sorted((d["Name"], d["Value"]) for d in alarm["Dimensions"]) == [
            ("FunctionName", function),
            ("Resource", f"{function}:{qualifier}"),
        ]
    assert (high["Threshold"], high["EvaluationPeriods"], high["ComparisonOperator"]) == (
        0.7,
        3,
        "GreaterThanThreshold",
    )
    assert (low["Threshold"], low["EvaluationPeriods"], low["ComparisonOperator"]) == (
        0.63,
        15,
        "LessThanThreshold",
    )
    (policy,) = scaling.describe_scaling_policies(ServiceNamespace="lambda", ResourceId=resource)[
        "ScalingPolicies"
    ]
    assert policy["PolicyARN"] == answer["PolicyARN"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == {
        "TargetValue": 0.7,
        "PredefinedMetricSpecification": METRIC,
        "ScaleOutCooldown": 0,
        "ScaleInCooldown": 120,
        "DisableScaleIn": False,
    }
    # putting it again keeps its ARN and alarms, and changes the thresholds
    again = scaling.put_scaling_policy(**target(resource), PolicyName="my-policy", **track(0.5))
    assert again["PolicyARN"] == answer["PolicyARN"]
    (high,) = cloudwatch.describe_alarms(AlarmNames=[names[0]])["MetricAlarms"]
    assert high["Threshold"] == 0.5
    scaling.delete_scaling_policy(**target(resource), PolicyName="my-policy")
    assert cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"] == []
    with aws_error(
        "ObjectNotFoundException",
        400,
        f"No scaling policy found for service namespace: lambda, resource ID: {resource}, "
        f"scalable dimension: {DIMENSION}, policy name: my-policy",
    ):
        scaling.delete_scaling_policy(**target(resource), PolicyName="my-policy")


def test_deregistering_deletes_policies_and_alarms(
    scaling: Any, cloudwatch: Any, resource: str
) -> None:
    scaling.register_scalable_target(**target(resource), MinCapacity=1, MaxCapacity=10)
    answer = scaling.put_scaling_policy(**target(resource), PolicyName="p", **track())
    scaling.deregister_scalable_target(**target(resource))
    names = [a["AlarmName"] for a in answer["Alarms"]]
    assert cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"] == []


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"PolicyType": "StepScaling"}, "Policy type StepScaling is not supported by gureum"),
        (
            {"PolicyType": "PredictiveScaling"},
            "Policy type PredictiveScaling is not supported by gureum",
        ),
        (
            {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 0.7,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                    },
                },
            },
            "Unsupported predefined metric type ECSServiceAverageCPUUtilization",
        ),
    ],
)
def test_refused_policies(
    scaling: Any, resource: str, policy: dict[str, Any], message: str
) -> None:
    scaling.register_scalable_target(**target(resource), MinCapacity=1, MaxCapacity=10)
    with aws_error("ValidationException", 400) as caught:
        scaling.put_scaling_policy(**target(resource), PolicyName="p", **policy)
    assert caught.value.response["Error"]["Message"].startswith(message)
    assert (
        scaling.describe_scaling_policies(ServiceNamespace="lambda", ResourceId=resource)[
            "ScalingPolicies"
        ]
        == []
    )


def test_a_policy_needs_a_registered_target(scaling: Any, resource: str) -> None:
    with aws_error(
        "ObjectNotFoundException",
        400,
        f"No scalable target registered for service namespace: lambda, resource ID: {resource}, "
        f"scalable dimension: {DIMENSION}",
    ):
        scaling.put_scaling_policy(**target(resource), PolicyName="p", **track())


# --- scheduled actions ---------------------------------------------------------------------------


def test_scheduled_actions_put_describe_delete(scaling: Any, resource: str) -> None:
    scaling.register_scalable_target(**target(resource), MinCapacity=1, MaxCapacity=10)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    scaling.put_scheduled_action(
        **target(resource),
        ScheduledActionName="mornings",
        Schedule="cron(0 9 ? * MON-FRI *)",
        Timezone="Asia/Seoul",
        StartTime=start,
        EndTime=start + timedelta(days=30),
        ScalableTargetAction={"MinCapacity": 5, "MaxCapacity": 20},
    )
    (action,) = scaling.describe_scheduled_actions(ServiceNamespace="lambda", ResourceId=resource)[
        "ScheduledActions"
    ]
    assert action["Schedule"] == "cron(0 9 ? * MON-FRI *)"
    assert action["Timezone"] == "Asia/Seoul"
    assert action["StartTime"] == start
    assert action["ScalableTargetAction"] == {"MinCapacity": 5, "MaxCapacity": 20}
    assert re.fullmatch(
        r"arn:aws:autoscaling:us-east-1:000000000000:scheduledAction:[0-9a-f-]{36}:"
        rf"resource/lambda/{re.escape(resource)}:scheduledActionName/mornings",
        action["ScheduledActionARN"],
    )
    scaling.delete_scheduled_action(**target(resource), ScheduledActionName="mornings")
    with aws_error(
        "ObjectNotFoundException",
        400,
        f"No scheduled action found for service namespace: lambda, resource ID: {resource}, "
        f"scalable dimension: {DIMENSION}, scheduled action name: mornings",
    ):
        scaling.delete_scheduled_action(**target(resource), ScheduledActionName="mornings")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"Schedule": "cron(0 9 * * MON *)"},
            "Unsupported or invalid schedule expression: cron(0 9 * * MON *)",
        ),
        (
            {"Schedule": "rate(5 weeks)"},
            "Unsupported or invalid schedule expression: rate(5 weeks)",
        ),
        (
            {"Schedule": "rate(1 day)", "Timezone": "Mars/Olympus"},
            "Unrecognized time zone: Mars/Olympus",
        ),
    ],
)
def test_refused_scheduled_actions(
    scaling: Any, resource: str, fields: dict[str, str], message: str
) -> None:
    scaling.register_scalable_target(**target(resource), MinCapacity=1, MaxCapacity=10)
    with aws_error("ValidationException", 400, message):
        scaling.put_scheduled_action(
            **target(resource),
            ScheduledActionName="a",
            ScalableTargetAction={"MinCapacity": 2},
            **fields,
        )
    assert (
        scaling.describe_scheduled_actions(ServiceNamespace="lambda", ResourceId=resource)[
            "ScheduledActions"
        ]
        == []
    )


def test_scheduled_actions_fire_under_the_time_scale(scaling: Any, resource: str) -> None:
    scaling.register_scalable_target(**target(resource), MinCapacity=1, MaxCapacity=10)
    # rate(1 minute) at --time-scale 0.01 fires every 0.6 s; at(...) in two seconds
    scaling.put_scheduled_action(
        **target(resource),
        ScheduledActionName="often",
        Schedule="rate(1 minute)",
        ScalableTargetAction={"MinCapacity": 3},
    )
    soon = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
    scaling.put_scheduled_action(
        **target(resource),
        ScheduledActionName="once",
        Schedule=f"at({soon})",
        ScalableTargetAction={"MinCapacity": 6, "MaxCapacity": 6},
    )

    def causes() -> list[str]:
        activities = scaling.describe_scaling_activities(
            ServiceNamespace="lambda", ResourceId=resource
        )["ScalingActivities"]
        return [f"{a['Description']} / {a['Cause']}" for a in activities]

    eventually(
        lambda: (
            "Setting desired concurrency to 3. / scheduled action name often was triggered"
            in causes()
        )
    )
    eventually(
        lambda: (
            "Setting desired concurrency to 6. / scheduled action name once was triggered"
            in causes()
        )
    )
    (described,) = scaling.describe_scalable_targets(
        ServiceNamespace="lambda", ResourceIds=[resource]
    )["ScalableTargets"]
    assert described["MaxCapacity"] == 6
    scaling.delete_scheduled_action(**target(resource), ScheduledActionName="often")


# --- durability ----------------------------------------------------------------------------------


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data", *OPTIONS).start()
    try:
        scaling = process.client("application-autoscaling")
        published(process.client("lambda"), "durable", "live")
        resource = "function:durable:live"
        scaling.register_scalable_target(**target(resource), MinCapacity=1, MaxCapacity=4)
        policy = scaling.put_scaling_policy(**target(resource), PolicyName="p", **track())
        scaling.put_scheduled_action(
            **target(resource),
            ScheduledActionName="yearly",
            Schedule="cron(0 0 1 JAN ? *)",
            ScalableTargetAction={"MaxCapacity": 8},
        )
        process.kill()
        process.start()
        scaling = process.client("application-autoscaling")
        cloudwatch = process.client("cloudwatch")
        (described,) = scaling.describe_scalable_targets(ServiceNamespace="lambda")[
            "ScalableTargets"
        ]
        assert (described["ResourceId"], described["MaxCapacity"]) == (resource, 4)
        (found,) = scaling.describe_scaling_policies(ServiceNamespace="lambda")["ScalingPolicies"]
        assert found["PolicyARN"] == policy["PolicyARN"]
        (action,) = scaling.describe_scheduled_actions(ServiceNamespace="lambda")[
            "ScheduledActions"
        ]
        assert action["ScheduledActionName"] == "yearly"
        activities = scaling.describe_scaling_activities(ServiceNamespace="lambda")
        assert [a["Cause"] for a in activities["ScalingActivities"]] == [
            "minimum capacity was set to 1"
        ]
        names = [a["AlarmName"] for a in policy["Alarms"]]
        assert len(cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]) == 2
    finally:
        process.stop()


# --- the AWS CLI ---------------------------------------------------------------------------------


def aws_cli(server: GureumProcess, home: Path, *args: str) -> Any:
    """`aws --endpoint-url <gureum> ...`, isolated from the host's configuration; its JSON."""
    done = run_aws(server, home, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_the_aws_cli_walkthrough(server: GureumProcess, tmp_path: Path, resource: str) -> None:
    """AWS's documented commands (spec 6.4), as a user pastes them."""
    common = ["--service-namespace", "lambda", "--resource-id", resource]
    dimension = ["--scalable-dimension", DIMENSION]
    aws_cli(
        server,
        tmp_path,
        "application-autoscaling",
        "register-scalable-target",
        *common,
        "--min-capacity",
        "1",
        "--max-capacity",
        "100",
        *dimension,
    )
    policy = aws_cli(
        server,
        tmp_path,
        "application-autoscaling",
        "put-scaling-policy",
        *common,
        *dimension,
        "--policy-name",
        "my-policy",
        "--policy-type",
        "TargetTrackingScaling",
        "--target-tracking-scaling-policy-configuration",
        json.dumps({"TargetValue": 0.7, "PredefinedMetricSpecification": METRIC}),
    )
    assert policy["PolicyARN"].endswith(f":resource/lambda/{resource}:policyName/my-policy")
    alarms = aws_cli(
        server,
        tmp_path,
        "cloudwatch",
        "describe-alarms",
        "--alarm-name-prefix",
        f"TargetTracking-{resource}-",
    )
    assert sorted(a["AlarmName"] for a in alarms["MetricAlarms"]) == sorted(
        a["AlarmName"] for a in policy["Alarms"]
    )
    aws_cli(
        server,
        tmp_path,
        "application-autoscaling",
        "put-scheduled-action",
        *common,
        *dimension,
        "--scheduled-action-name",
        "evening",
        "--schedule",
        "cron(0 18 * * ? *)",
        "--timezone",
        "Europe/Paris",
        "--scalable-target-action",
        "MinCapacity=2,MaxCapacity=50",
    )
    actions = aws_cli(
        server,
        tmp_path,
        "application-autoscaling",
        "describe-scheduled-actions",
        "--service-namespace",
        "lambda",
        "--resource-id",
        resource,
    )
    assert [a["Timezone"] for a in actions["ScheduledActions"]] == ["Europe/Paris"]
    activities = aws_cli(
        server,
        tmp_path,
        "application-autoscaling",
        "describe-scaling-activities",
        *common,
    )
    assert [a["Cause"] for a in activities["ScalingActivities"]] == [
        "minimum capacity was set to 1"
    ]
    policies = aws_cli(
        server,
        tmp_path,
        "application-autoscaling",
        "describe-scaling-policies",
        *common,
    )
    assert [p["PolicyName"] for p in policies["ScalingPolicies"]] == ["my-policy"]
    for command in (
        ["delete-scheduled-action", "--scheduled-action-name", "evening"],
        ["delete-scaling-policy", "--policy-name", "my-policy"],
        ["deregister-scalable-target"],
    ):
        aws_cli(server, tmp_path, "application-autoscaling", *command, *common, *dimension)
    targets = aws_cli(
        server,
        tmp_path,
        "application-autoscaling",
        "describe-scalable-targets",
        "--service-namespace",
        "lambda",
        "--resource-ids",
        resource,
    )
    assert targets["ScalableTargets"] == []
