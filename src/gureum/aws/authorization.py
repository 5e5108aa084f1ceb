"""IAM's decision when several kinds of policy meet one request: identity policies (inline and
managed), the resource's policy (a trust policy is one) and boundaries, in the resource's account
or from another, as IAM documents it (https://docs.aws.amazon.com/IAM/latest/UserGuide/
reference_policies_evaluation-logic-cross-account.html). Pure, over `gureum.aws.policy`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gureum.aws.policy import Decision, Effect, Policy, PolicyRequest, Statement, evaluate

_ACCOUNT = re.compile(r"\d{12}")


def account_of(arn: str) -> str:
    """The account of an IAM or STS ARN (or of a bare account id); "" when it names none."""
    if _ACCOUNT.fullmatch(arn):
        return arn
    parts = arn.split(":")
    return parts[4] if len(parts) >= 6 else ""


def _account_wide(pattern: str) -> bool:
    return bool(_ACCOUNT.fullmatch(pattern)) or (
        pattern.endswith(":root") and pattern.count(":") == 5
    )


def _naming_principals(policy: Policy) -> Policy:
    """`policy` with only the Allow statements whose Principal names principals themselves (a
    user, a role, a session, a service or `*`), not whole accounts."""
    kept = []
    for statement in policy.statements:
        if statement.effect is not Effect.ALLOW or statement.principals is None:
            continue
        if statement.not_principals:
            kept.append(statement)
            continue
        principals = tuple(p for p in statement.principals if not _account_wide(p))
        if principals:
            kept.append(
                Statement(
                    statement.effect,
                    statement.actions,
                    statement.not_actions,
                    statement.resources,
                    statement.not_resources,
                    principals,
                    statement.not_principals,
                    statement.conditions,
                    statement.sid,
                    statement.variables,
                )
            )
    return Policy(policy.version, tuple(kept))


def authorize(
    request: PolicyRequest,
    *,
    identity: Sequence[Policy] = (),
    resource: Sequence[Policy] = (),
    resource_account: str,
    boundaries: Sequence[Policy] | None = None,
) -> Decision:
    """IAM's decision on `request` (its `principal` set) given the principal's identity policies
    (inline and managed together), the resource's policy and the account that owns the resource.

    - An explicit Deny in either kind wins.
    - The account's root user needs no identity policy in its own account.
    - In the resource's account, an Allow from either kind allows (a resource policy's Allow must
      name the principal, which its Principal element does).
    - From another account, the identity policies and the resource policy must both allow.
    - `boundaries` (a permissions boundary or a session policy), when given, must also allow.
    """
    principal = request.principal or ""
    from_identity = evaluate(identity, request)
    from_resource = evaluate(resource, request)
    if Decision.EXPLICIT_DENY in (from_identity, from_resource):
        return Decision.EXPLICIT_DENY
    is_root = principal.endswith(":root") and principal.count(":") == 5
    if is_root:
        from_identity = Decision.ALLOW
    if boundaries is not None:
        bounded = evaluate(boundaries, request)
        if bounded is Decision.EXPLICIT_DENY:
            return Decision.EXPLICIT_DENY
        if bounded is not Decision.ALLOW and not is_root:
            from_identity = Decision.IMPLICIT_DENY
    same_account = account_of(principal) == resource_account
    if same_account:
        # A resource policy that names only the account (`123456789012` or its `:root`)
        # delegates to the account's identity policies: it allows nobody by itself.
        named = evaluate([_naming_principals(p) for p in resource], request)
        allowed = from_identity is Decision.ALLOW or named is Decision.ALLOW
    else:
        allowed = from_identity is Decision.ALLOW and from_resource is Decision.ALLOW
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


@dataclass(frozen=True, slots=True)
class ResourcePolicy:
    """A resource's policy and its revision (which changes with every write to it), so that a
    decision may be cached per principal and policy revision."""

    revision: str
    policy: Policy


class ResourcePolicies(Protocol):
    """Where the resource policies of one service's resources are found (a Lambda function's
    policy, per qualifier); the composition root fills it in."""

    def resource_policy(self, resource: str) -> ResourcePolicy | None:
        """The policy of the resource `resource` names (an ARN), or None when it has none."""
        ...


def resource_allows(request: PolicyRequest, resource: Sequence[Policy]) -> Decision:
    """`--iam off`: identity policies are not consulted, but a resource policy that exists still
    decides for a caller from another account (its Allow must name the caller)."""
    return evaluate(resource, request)


def not_allowed_by_resource(principal: str, action: str, resource: str) -> str:
    """IAM's message for a cross-account request no resource-based policy allows."""
    return (
        f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
        f"because no resource-based policy allows the {action} action"
    )
