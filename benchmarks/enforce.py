"""The `--iam enforce` rows: warm invoke latency signed as an IAM user (so every request is
authorized against identity policies, not waved through as the account's root), beside the
default run's warm row, and the authorizer's own cost measured in process."""

from __future__ import annotations

import json
from collections.abc import Mapping

import boto3
from botocore.config import Config

from benchmarks import authorization, sequential
from benchmarks.plan import Plan
from benchmarks.results import Results
from benchmarks.sigv4 import Credentials, Signer
from benchmarks.targets import HOST, ROLE, Gureum


def _policy(statement: Mapping[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def warm_enforced(target: Gureum, results: Results, plan: Plan) -> None:
    """On a server started with `--iam enforce`: the functions' role (which must trust Lambda),
    a no-op function, and an IAM user allowed to invoke; then the warm workload as that user."""
    iam = boto3.client(
        "iam",
        endpoint_url=target.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    iam.create_role(RoleName=ROLE.rsplit("/", 1)[-1], AssumeRolePolicyDocument=_policy(trust))
    function = target.noop()
    iam.create_user(UserName="bench")
    allow = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}
    iam.put_user_policy(UserName="bench", PolicyName="invoke", PolicyDocument=_policy(allow))
    key = iam.create_access_key(UserName="bench")["AccessKey"]
    signer = Signer(
        f"{HOST}:{target.port}", Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    )
    sequential.warm_latency(
        target, function, results, plan, signer, ("enforce_warm_p50", "enforce_warm_p99")
    )
    measured = authorization.measure(5_000 if plan.mode == "quick" else 50_000)
    results.set(
        "authorize_p50",
        target.name,
        measured["warm_p50"],
        f"p99 {measured['warm_p99']:.1f} us; evaluated afresh (IAM changed) "
        f"p50 {measured['cold_p50']:.0f} us",
    )
