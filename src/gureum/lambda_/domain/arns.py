"""Function names, ARNs and qualifiers (spec 0.4).

Lambda accepts a function as `name`, `name:qualifier`, `account:function:name[:qualifier]` or a
full ARN. The model's pattern has already been enforced by the wire layer when these run, so
parsing here only splits; the rules that AWS applies after the pattern (a qualifier that disagrees
with the `Qualifier` parameter, an ARN from another region) live here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gureum.lambda_.domain.errors import AccessDenied, InvalidParameterValue, ResourceNotFound

LATEST = "$LATEST"

_FUNCTION = re.compile(
    r"(?:arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:(?P<region>(?:eusc-)?[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?"
    r"(?:function:)?"
    r"(?P<name>[a-zA-Z0-9-_.]+)"
    r"(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9-_$]+))?"
)
_VERSION_NUMBER = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """A function as the caller named it."""

    name: str
    qualifier: str | None = None
    region: str | None = None
    account: str | None = None


def parse_function_name(value: str) -> FunctionRef:
    match = _FUNCTION.fullmatch(value)
    if match is None:
        # The wire layer's pattern check normally catches this first.
        raise InvalidParameterValue(f"Invalid function name: {value}")
    return FunctionRef(
        name=match["name"],
        qualifier=match["qualifier"],
        region=match["region"],
        account=match["account"],
    )


def resolve_function(
    value: str, qualifier: str | None, *, region: str, account: str, operation: str = ""
) -> FunctionRef:
    """Parses `value`, merges the `Qualifier` parameter and checks the ARN's region and account.

    `operation` is the Lambda operation asked for: it words AWS's 403 for another account's ARN.
    """
    ref = parse_function_name(value)
    if qualifier is not None and ref.qualifier is not None and qualifier != ref.qualifier:
        raise InvalidParameterValue(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    if ref.region is not None and ref.region != region:
        raise ResourceNotFound(
            f"Functions from '{ref.region}' are not reachable in this region ('{region}')"
        )
    if ref.account is not None and ref.account != account:
        resource = function_arn(region, ref.account, ref.name, qualifier or ref.qualifier)
        raise access_denied(operation, account, resource)
    return FunctionRef(ref.name, qualifier or ref.qualifier, region, account)


# The operations a function's resource-based policy can grant another account (the list LocalStack
# keeps in services/lambda_/api_utils.py, `_supported_resource_based_operations`). IAM names
# Invoke's action lambda:InvokeFunction; the others are named as their operation.
_POLICY_OPERATIONS = frozenset(
    {
        "CreateAlias", "DeleteAlias", "DeleteFunction", "DeleteFunctionConcurrency",
        "DeleteFunctionEventInvokeConfig", "DeleteProvisionedConcurrencyConfig", "GetAlias",
        "GetFunction", "GetFunctionConcurrency", "GetFunctionConfiguration",
        "GetFunctionEventInvokeConfig", "GetPolicy", "GetProvisionedConcurrencyConfig", "Invoke",
        "ListAliases", "ListFunctionEventInvokeConfigs", "ListProvisionedConcurrencyConfigs",
        "ListTags", "ListVersionsByFunction", "PublishVersion", "PutFunctionConcurrency",
        "PutFunctionEventInvokeConfig", "PutProvisionedConcurrencyConfig", "TagResource",
        "UntagResource", "UpdateAlias", "UpdateFunctionCode", "UpdateFunctionEventInvokeConfig",
    }
)  # fmt: skip
_IAM_ACTIONS = {"Invoke": "InvokeFunction"}


def policy_action(operation: str) -> str | None:
    """The IAM action of an operation a function's policy can grant another account, or None
    for one it cannot."""
    if operation not in _POLICY_OPERATIONS:
        return None
    return f"lambda:{_IAM_ACTIONS.get(operation, operation)}"


def access_denied(operation: str, account: str, resource: str) -> AccessDenied:
    """AWS's 403 for a function of another account, which no policy in gureum can grant.

    An operation a function policy could allow fails IAM's cross-account check, worded as IAM
    words it (e.g. "... because no resource-based policy allows the lambda:InvokeFunction action",
    quoted from AWS in aws-samples/sample-serverless-mcp-servers#7 and
    awslabs/aws-automated-incident-response-and-forensics#13). gureum's access keys act as their
    account's root user. Any other operation (CreateFunction with another account's ARN) gets
    AWS's 403 with no message at all: boto3 reads the message as None (recorded against AWS:
    LocalStack's test_lambda_api.snapshot.json, test_function_arns, function_arn_other_account_exc).
    """
    if operation not in _POLICY_OPERATIONS:
        return AccessDenied("")
    action = f"lambda:{_IAM_ACTIONS.get(operation, operation)}"
    return AccessDenied(
        f"User: arn:aws:iam::{account}:root is not authorized to perform: {action} on resource: "
        f"{resource} because no resource-based policy allows the {action} action"
    )


def check_new_name(name: str) -> None:
    """A new function's name: the ARN-wide pattern passed, but names themselves stop at 64."""
    if len(name) > 64:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
            "constraint: Member must have length less than or equal to 64"
        )


def is_version_number(qualifier: str) -> bool:
    return _VERSION_NUMBER.fullmatch(qualifier) is not None


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def layer_arn(region: str, account: str, name: str, version: int | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:layer:{name}"
    return f"{arn}:{version}" if version is not None else arn


_LAYER_VERSION = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:"
    r"(?P<name>[a-zA-Z0-9-_]+):(?P<version>[0-9]+)"
)


@dataclass(frozen=True, slots=True)
class LayerVersionRef:
    region: str
    account: str
    name: str
    version: int


def parse_layer_version_arn(arn: str) -> LayerVersionRef | None:
    match = _LAYER_VERSION.fullmatch(arn)
    if match is None:
        return None
    return LayerVersionRef(match["region"], match["account"], match["name"], int(match["version"]))


def parse_layer_name(value: str) -> tuple[str, str | None, str | None]:
    """A `LayerName` parameter is a name or a layer ARN: (name, region, account)."""
    if value.startswith("arn:"):
        parts = value.split(":")
        return parts[6], parts[3], parts[4]
    return value, None, None
