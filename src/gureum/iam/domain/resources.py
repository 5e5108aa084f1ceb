"""What each request acts on, as IAM names it: the action (`<service prefix>:<Operation>`) and
the resource ARN an identity policy's Resource is matched against, from the request's members.

A small table per service, in AWS's ARN formats (the Service Authorization Reference); a request
this table does not place acts on `*`, which only a policy with `"Resource": "*"` allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# Signing names whose IAM prefix differs.
_PREFIXES = {"monitoring": "cloudwatch"}
# Operations whose IAM action is named differently from the operation.
_ACTIONS = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "InvokeFunction",
}
# Operations the front door does not authorize: GetCallerIdentity needs no permission (AWS:
# "No permissions are required to perform this operation"), and AssumeRole is decided by STS
# itself, which weighs the role's trust policy (a resource policy) with the identity policies.
UNCHECKED = frozenset({("sts", "GetCallerIdentity"), ("sts", "AssumeRole")})


def action_of(service: str, operation: str) -> str:
    prefix = _PREFIXES.get(service, service)
    return f"{prefix}:{_ACTIONS.get((service, operation), operation)}"


Params = Mapping[str, Any]
Placer = Callable[[str, str, Params], str | None]


def _lambda(region: str, account: str, params: Params) -> str | None:
    name = params.get("FunctionName")
    if isinstance(name, str):
        if name.startswith("arn:"):
            return name
        base = f"arn:aws:lambda:{region}:{account}:function:{name}"
        qualifier = params.get("Qualifier")
        return f"{base}:{qualifier}" if isinstance(qualifier, str) else base
    layer = params.get("LayerName")
    if isinstance(layer, str):
        return (
            layer
            if layer.startswith("arn:")
            else f"arn:aws:lambda:{region}:{account}:layer:{layer}"
        )
    return None


def _sqs(region: str, account: str, params: Params) -> str | None:
    url = params.get("QueueUrl")
    name = url.rstrip("/").rsplit("/", 1)[-1] if isinstance(url, str) else params.get("QueueName")
    return f"arn:aws:sqs:{region}:{account}:{name}" if isinstance(name, str) else None


def _kms(region: str, account: str, params: Params) -> str | None:
    key = params.get("KeyId") or params.get("TargetKeyId") or params.get("AliasName")
    if not isinstance(key, str):
        return None
    if key.startswith("arn:"):
        return key
    kind = "" if key.startswith("alias/") else "key/"
    return f"arn:aws:kms:{region}:{account}:{kind}{key}"


def _logs(region: str, account: str, params: Params) -> str | None:
    group = params.get("logGroupName")
    if not isinstance(group, str):
        return None
    base = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    stream = params.get("logStreamName")
    return f"{base}:log-stream:{stream}" if isinstance(stream, str) else f"{base}:*"


def _efs(region: str, account: str, params: Params) -> str | None:
    base = f"arn:aws:elasticfilesystem:{region}:{account}"
    point = params.get("AccessPointId")
    if isinstance(point, str):
        return f"{base}:access-point/{point}"
    system = params.get("FileSystemId")
    return f"{base}:file-system/{system}" if isinstance(system, str) else None


def _ec2(region: str, account: str, params: Params) -> str | None:
    for member, kind in (("GroupId", "security-group"), ("SubnetId", "subnet"), ("VpcId", "vpc")):
        value = params.get(member)
        if isinstance(value, str):
            return f"arn:aws:ec2:{region}:{account}:{kind}/{value}"
    return None


def _cloudwatch(region: str, account: str, params: Params) -> str | None:
    alarm = params.get("AlarmName")
    return (
        f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm}" if isinstance(alarm, str) else None
    )


def _iam(region: str, account: str, params: Params) -> str | None:
    policy = params.get("PolicyArn")
    if isinstance(policy, str):
        return policy
    for member, kind in (("RoleName", "role"), ("UserName", "user"), ("PolicyName", "policy")):
        value = params.get(member)
        if isinstance(value, str):
            return f"arn:aws:iam::{account}:{kind}/{value}"
    return None


def _sts(region: str, account: str, params: Params) -> str | None:
    role = params.get("RoleArn")
    return role if isinstance(role, str) else None


_PLACERS: Mapping[str, Placer] = {
    "lambda": _lambda,
    "sqs": _sqs,
    "kms": _kms,
    "logs": _logs,
    "elasticfilesystem": _efs,
    "ec2": _ec2,
    "monitoring": _cloudwatch,
    "iam": _iam,
    "sts": _sts,
}


def resource_of(service: str, region: str, account: str, params: Params) -> str:
    """The ARN the request acts on, or `*` when the table cannot place it."""
    placer = _PLACERS.get(service)
    found = placer(region, account, params) if placer is not None else None
    return found or "*"
