"""`--iam enforce` against a real server: every service refuses a caller whose identity policies
do not allow the request, with AWS's AccessDeniedException and message; the account's root user
may do anything; policies take effect on the next request; sessions act as their role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.aws import aws_error
from tests.support.server import GureumProcess

A, REGION = "000000000000", "us-east-1"
DEV = f"arn:aws:iam::{A}:user/dev"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    data = tmp_path_factory.mktemp("gureum-enforce") / "data"
    process = GureumProcess(data, "--isolation", "none", "--iam", "enforce").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def dev(server: GureumProcess) -> dict[str, str]:
    iam = server.client("iam")
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def policy(effect: str, action: str, resource: str = "*") -> str:
    statement = {"Effect": effect, "Action": action, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def refusal(action: str, resource: str = "*", principal: str = DEV) -> str:
    return (
        f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


# (service, call, params, action, resource, code, status): one entry point of every service.
# CloudWatch Logs answers its AccessDeniedException with 400, as its model and AWS do.
EVERY_SERVICE = [
    ("lambda", "list_functions", {}, "lambda:ListFunctions", "*", "AccessDeniedException", 403),
    (
        "lambda",
        "get_function",
        {"FunctionName": "f"},
        "lambda:GetFunction",
        f"arn:aws:lambda:{REGION}:{A}:function:f",
        "AccessDeniedException",
        403,
    ),
    ("sqs", "list_queues", {}, "sqs:ListQueues", "*", "AccessDeniedException", 403),
    ("kms", "list_keys", {}, "kms:ListKeys", "*", "AccessDeniedException", 403),
    (
        "logs",
        "describe_log_groups",
        {},
        "logs:DescribeLogGroups",
        "*",
        "AccessDeniedException",
        400,
    ),
    (
        "efs",
        "describe_file_systems",
        {},
        "elasticfilesystem:DescribeFileSystems",
        "*",
        "AccessDeniedException",
        403,
    ),
    ("ec2", "describe_vpcs", {}, "ec2:DescribeVpcs", "*", "UnauthorizedOperation", 403),
    ("cloudwatch", "list_metrics", {}, "cloudwatch:ListMetrics", "*", "AccessDeniedException", 403),
    (
        "application-autoscaling",
        "describe_scalable_targets",
        {"ServiceNamespace": "lambda"},
        "application-autoscaling:DescribeScalableTargets",
        "*",
        "AccessDeniedException",
        403,
    ),
    ("iam", "list_roles", {}, "iam:ListRoles", "*", "AccessDenied", 403),
]


@pytest.mark.parametrize(
    ("service", "call", "params", "action", "resource", "code", "status"),
    EVERY_SERVICE,
    ids=[f"{row[0]}.{row[1]}" for row in EVERY_SERVICE],
)
def test_every_service_refuses_a_caller_without_policies(
    server: GureumProcess,
    dev: dict[str, str],
    service: str,
    call: str,
    params: dict[str, Any],
    action: str,
    resource: str,
    code: str,
    status: int,
) -> None:
    client = server.client(service, **dev)
    message = refusal(action, resource)
    if service == "ec2":  # EC2 says it its own way, naming no resource for `*`
        message = "You are not authorized to perform this operation. " + message.replace(
            " on resource: *", ""
        )
    with aws_error(code, status, message):
        getattr(client, call)(**params)
    # The account's root user is never refused in its own account.
    root = server.client(service)
    try:
        getattr(root, call)(**params)
    except root.exceptions.ClientError as error:
        refused = error.response["Error"]["Code"]
    else:
        refused = ""
    assert refused not in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")


def test_policies_take_effect_at_once(server: GureumProcess, dev: dict[str, str]) -> None:
    iam = server.client("iam")
    lam = server.client("lambda", **dev)
    iam.put_user_policy(
        UserName="dev", PolicyName="list", PolicyDocument=policy("Allow", "lambda:List*")
    )
    assert "Functions" in lam.list_functions()
    iam.put_user_policy(
        UserName="dev", PolicyName="no", PolicyDocument=policy("Deny", "lambda:ListFunctions")
    )
    explicit = (
        f"User: {DEV} is not authorized to perform: lambda:ListFunctions on resource: * "
        "with an explicit deny in an identity-based policy"
    )
    with aws_error("AccessDeniedException", 403, explicit):
        lam.list_functions()
    iam.delete_user_policy(UserName="dev", PolicyName="no")
    iam.delete_user_policy(UserName="dev", PolicyName="list")
    with aws_error("AccessDeniedException", 403):
        lam.list_functions()


def test_managed_policies_attached_allow(server: GureumProcess, dev: dict[str, str]) -> None:
    iam = server.client("iam")
    sqs = server.client("sqs", **dev)
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    iam.attach_user_policy(UserName="dev", PolicyArn=admin)
    try:
        assert sqs.list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        iam.detach_user_policy(UserName="dev", PolicyArn=admin)
    with aws_error("AccessDeniedException", 403):
        sqs.list_queues()


def test_sessions_act_as_their_role(server: GureumProcess, dev: dict[str, str]) -> None:
    iam = server.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": DEV}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="reader", PolicyName="kms", PolicyDocument=policy("Allow", "kms:ListKeys")
    )
    sts = server.client("sts", **dev)
    # GetCallerIdentity needs no permission; a trust policy naming the user suffices.
    assert sts.get_caller_identity()["Arn"] == DEV
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{A}:role/reader", RoleSessionName="read")[
        "Credentials"
    ]
    session = {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }
    assert "Keys" in server.client("kms", **session).list_keys()
    arn = f"arn:aws:sts::{A}:assumed-role/reader/read"
    with aws_error("AccessDeniedException", 403, refusal("sqs:ListQueues", principal=arn)):
        server.client("sqs", **session).list_queues()


def test_a_trust_policy_naming_the_account_needs_an_identity_allow(
    server: GureumProcess, dev: dict[str, str]
) -> None:
    iam = server.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": A}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="delegated", AssumeRolePolicyDocument=json.dumps(trust))
    sts = server.client("sts", **dev)
    with aws_error("AccessDenied", 403):
        sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="try")
    iam.put_user_policy(
        UserName="dev", PolicyName="assume", PolicyDocument=policy("Allow", "sts:AssumeRole")
    )
    try:
        sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="try")
    finally:
        iam.delete_user_policy(UserName="dev", PolicyName="assume")


def test_a_session_policy_bounds_the_role(server: GureumProcess, dev: dict[str, str]) -> None:
    iam = server.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": DEV}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="broad", AssumeRolePolicyDocument=json.dumps(trust))
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    iam.attach_role_policy(RoleName="broad", PolicyArn=admin)
    sts = server.client("sts", **dev)
    role = f"arn:aws:iam::{A}:role/broad"
    with aws_error("MalformedPolicyDocument", 400, "Syntax errors in policy."):
        sts.assume_role(RoleArn=role, RoleSessionName="bounded", Policy="{")
    assumed = sts.assume_role(
        RoleArn=role, RoleSessionName="bounded", Policy=policy("Allow", "kms:List*")
    )
    assert 0 < assumed["PackedPolicySize"] <= 100
    credentials = assumed["Credentials"]
    session = {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }
    assert "Keys" in server.client("kms", **session).list_keys()
    with aws_error("AccessDeniedException", 403):
        server.client("sqs", **session).list_queues()
    # The same role without a session policy may do anything.
    unbounded = sts.assume_role(RoleArn=role, RoleSessionName="bounded")["Credentials"]
    sqs = server.client(
        "sqs",
        aws_access_key_id=unbounded["AccessKeyId"],
        aws_secret_access_key=unbounded["SecretAccessKey"],
        aws_session_token=unbounded["SessionToken"],
    )
    assert sqs.list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
