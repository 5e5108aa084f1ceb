"""`--iam enforce`: every request authorized against its caller's identity policies before it
runs, with AWS's AccessDeniedException.

The account's root user may do anything in its account. Any other caller needs an identity
policy (inline or attached, of the user or of the role a session belongs to) that allows the
request's action on its resource and no explicit deny. Decisions are cached per principal,
action and resource until IAM's store changes, so a warm request costs a dictionary lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from gureum.aws.authorization import ResourcePolicies, ResourcePolicy, account_of, authorize
from gureum.aws.errors import AccessDenied, UnauthorizedOperation
from gureum.aws.frontend import CallContext
from gureum.aws.policy import (
    ContextValue,
    Decision,
    Policy,
    PolicyRequest,
    parse_policy,
    role_of_session,
)
from gureum.iam.domain.resources import UNCHECKED, action_of, resource_of
from gureum.iam.services.principals import Principals
from gureum.iam.store.records import IamStore

# Past this many cached decisions the cache starts again (a bound, not an LRU: it refills fast).
_CACHE_LIMIT = 50_000


def denial(
    service: str, principal: str, action: str, resource: str, decision: Decision
) -> AccessDenied:
    """AWS's message, which says why: no allow, or an explicit deny. EC2 names the error
    UnauthorizedOperation and prefixes its own sentence."""
    if decision is Decision.EXPLICIT_DENY:
        reason = "with an explicit deny in an identity-based policy"
    else:
        reason = f"because no identity-based policy allows the {action} action"
    on = f" on resource: {resource}"
    if service == "ec2":
        on = "" if resource == "*" else on
        return UnauthorizedOperation(
            "You are not authorized to perform this operation. User: "
            f"{principal} is not authorized to perform: {action}{on} {reason}"
        )
    return AccessDenied(f"User: {principal} is not authorized to perform: {action}{on} {reason}")


class Authorizer:
    """The front door's `Authorizer` over IAM's principals."""

    def __init__(self, store: IamStore, principals: Principals) -> None:
        self._store = store
        self._principals = principals
        self._lock = threading.Lock()
        self._generation = -1
        self._policies: dict[str, list[Policy]] = {}
        self._decisions: dict[tuple[str, str, str, str, str], Decision] = {}
        # Resource policies by signing name (a Lambda function's), filled by the root.
        self._resources: dict[str, ResourcePolicies] = {}

    def add_resource_policies(self, service: str, source: ResourcePolicies) -> None:
        """Where the resource policies of `service`'s resources are: a request to one in the
        caller's own account is allowed by an identity policy or by that resource policy
        (IAM's same-account rule). Another account's resource policy is the service's own
        check (Lambda's gate), which words its refusal as IAM does."""
        self._resources[service] = source

    def authorize(
        self, service: str, operation: str, context: CallContext, params: Mapping[str, Any]
    ) -> None:
        principal = context.principal
        if (service, operation) in UNCHECKED or principal.endswith(":root"):
            return
        action = action_of(service, operation)
        resource = resource_of(service, context.region, context.account_id, params)
        found = self.resource_policy(service, resource, context.account_id)
        decision = self.decide(principal, action, resource, context, found)
        if decision is not Decision.ALLOW:
            raise denial(service, principal, action, resource, decision)

    def resource_policy(self, service: str, resource: str, account: str) -> ResourcePolicy | None:
        """The policy of a resource of `service` in the caller's `account`, if it has one."""
        source = self._resources.get(service)
        if source is None or account_of(resource) != account:
            return None
        return source.resource_policy(resource)

    def decide(
        self,
        principal: str,
        action: str,
        resource: str,
        context: CallContext,
        resource_policy: ResourcePolicy | None = None,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> Decision:
        """IAM's decision, cached per principal, request and policy revision (IAM's store
        generation for identity policies, the resource policy's revision for it). `keys`: the
        request's own condition keys, which must follow from its action and resource (the
        cache does not tell them apart), such as a function URL's lambda:FunctionUrlAuthType."""
        revision = resource_policy.revision if resource_policy is not None else ""
        key = (principal, action, resource, context.session_policy or "", revision)
        with self._lock:
            if self._generation != self._store.generation:
                self._generation = self._store.generation
                self._policies.clear()
                self._decisions.clear()
            cached = self._decisions.get(key)
            policies = self._policies.get(principal)
            generation = self._generation
        if cached is not None:
            return cached
        if policies is None:
            policies = self._principals.identity_policies(principal)
        request = PolicyRequest(
            action, resource, principal, {**_keys(principal, context), **(keys or {})}
        )
        # A session policy bounds the role's: both must allow (IAM's session policy rule).
        bounds = None if context.session_policy is None else [parse_policy(context.session_policy)]
        decision = authorize(
            request,
            identity=policies,
            resource=[resource_policy.policy] if resource_policy is not None else [],
            boundaries=bounds,
            resource_account=context.account_id,
        )
        with self._lock:
            if generation != self._store.generation:
                return decision  # IAM changed while deciding: keep nothing that may be stale
            if len(self._decisions) >= _CACHE_LIMIT:
                self._decisions.clear()
            self._decisions[key] = decision
            self._policies[principal] = policies
        return decision


def _keys(principal: str, context: CallContext) -> dict[str, ContextValue]:
    """The global condition keys a decision may depend on and still be cached: who is asking.
    (Time and source address are not supplied yet: they would make every request unique.)"""
    keys: dict[str, ContextValue] = {
        # A session's aws:PrincipalArn is its role's ARN, as IAM documents.
        "aws:PrincipalArn": role_of_session(principal) or principal,
        "aws:PrincipalAccount": context.account_id,
        "aws:userid": context.user_id,
    }
    if ":user/" in principal:
        keys["aws:username"] = principal.rsplit("/", 1)[-1]
    return keys
