"""Scalable targets: which resources may be scaled, and the target as DescribeScalableTargets
shows it.

gureum scales one thing, Lambda's provisioned concurrency: ServiceNamespace `lambda`, dimension
`lambda:function:ProvisionedConcurrency`, ResourceId `function:NAME:QUALIFIER` where the
qualifier is an alias or a published version, never `$LATEST` (spec 6.4). Times are epoch
seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gureum.autoscaling.domain.errors import Invalid, ObjectNotFound

NAMESPACE = "lambda"
DIMENSION = "lambda:function:ProvisionedConcurrency"
UNSUPPORTED = "Unsupported service namespace, resource type or scalable dimension"
# Lambda's function names and qualifiers (aliases: letters, digits, - and _; versions: digits).
_RESOURCE = re.compile(r"function:([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_$-]{1,128})")
SUSPENSIONS = (
    "DynamicScalingInSuspended",
    "DynamicScalingOutSuspended",
    "ScheduledScalingSuspended",
)
SERVICE_ROLE = (
    "arn:aws:iam::{account}:role/aws-service-role/lambda.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency"
)


@dataclass(frozen=True, slots=True, order=True)
class TargetKey:
    """One scalable target: a function's alias or version in one account and Region."""

    account: str
    region: str
    resource_id: str

    @property
    def function(self) -> str:
        return self.resource_id.split(":")[1]

    @property
    def qualifier(self) -> str:
        return self.resource_id.split(":")[2]

    def describe(self) -> str:
        """How AWS's messages name a target."""
        return (
            f"service namespace: {NAMESPACE}, resource ID: {self.resource_id}, "
            f"scalable dimension: {DIMENSION}"
        )


def target_key(
    account: str, region: str, namespace: str, resource_id: str, dimension: str
) -> TargetKey:
    """The target a request names, or AWS's refusal of a namespace, dimension or resource it
    does not scale."""
    if namespace != NAMESPACE or dimension != DIMENSION:
        raise Invalid(UNSUPPORTED)
    match = _RESOURCE.fullmatch(resource_id)
    if match is None:
        raise Invalid(UNSUPPORTED)
    if match.group(2) == "$LATEST":
        raise Invalid(
            f"Invalid ResourceId: {resource_id}. Provisioned concurrency can be scaled only for "
            "an alias or a published version, not $LATEST."
        )
    return TargetKey(account, region, resource_id)


def no_target(key: TargetKey) -> ObjectNotFound:
    return ObjectNotFound(f"No scalable target registered for {key.describe()}")


@dataclass(frozen=True, slots=True)
class ScalableTarget:
    """A registered target. Invariant: 0 <= min_capacity <= max_capacity."""

    key: TargetKey
    target_id: str
    min_capacity: int
    max_capacity: int
    role_arn: str
    created: float
    suspended: dict[str, bool] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return (
            f"arn:aws:application-autoscaling:{self.key.region}:{self.key.account}:"
            f"scalable-target/{self.target_id}"
        )

    def is_suspended(self, what: str) -> bool:
        return self.suspended.get(what, False)

    def clamp(self, capacity: int) -> int:
        return max(self.min_capacity, min(self.max_capacity, capacity))

    def wire(self) -> dict[str, Any]:
        return {
            "ServiceNamespace": NAMESPACE,
            "ResourceId": self.key.resource_id,
            "ScalableDimension": DIMENSION,
            "MinCapacity": self.min_capacity,
            "MaxCapacity": self.max_capacity,
            "RoleARN": self.role_arn,
            "CreationTime": self.created,
            "SuspendedState": {name: self.is_suspended(name) for name in SUSPENSIONS},
            "ScalableTargetARN": self.arn,
        }


def registered(
    key: TargetKey,
    existing: ScalableTarget | None,
    params: dict[str, Any],
    target_id: str,
    now: float,
) -> ScalableTarget:
    """RegisterScalableTarget: a new target needs both capacities; an existing one keeps what
    the request leaves out (AWS: "update a scalable target")."""
    low = params.get("MinCapacity")
    high = params.get("MaxCapacity")
    suspended = dict(params.get("SuspendedState") or {})
    if existing is None:
        if low is None or high is None:
            raise Invalid(
                "MinCapacity and MaxCapacity are required when you register a new scalable target"
            )
        role = params.get("RoleARN") or SERVICE_ROLE.format(account=key.account)
        target = ScalableTarget(key, target_id, low, high, role, now, suspended)
    else:
        target = ScalableTarget(
            key,
            existing.target_id,
            existing.min_capacity if low is None else low,
            existing.max_capacity if high is None else high,
            existing.role_arn,
            existing.created,
            {**existing.suspended, **suspended},
        )
    if target.min_capacity < 0:
        raise Invalid("Minimum capacity cannot be less than 0")
    if target.min_capacity > target.max_capacity:
        raise Invalid("Minimum capacity cannot be greater than maximum capacity")
    return target
