"""Functions' resource-based policies: AddPermission, RemovePermission, GetPolicy, and the
decision they give a caller from another account (in both `--iam` modes: resource policies that
exist always apply) and the front door's authorizer under `enforce`.

A policy belongs to one function record (by its id) and one qualifier ("" for the unqualified
function, else a version or alias); one whose function was deleted, or re-created under the same
name, is absent. Reads for decisions are cached until the trigger store or the function store
changes, so a warm decision costs a dictionary lookup. Every method that writes blocks on
SQLite: call it from worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace

from gureum.aws.authorization import (
    ResourcePolicy,
    not_allowed_by_resource,
    resource_allows,
)
from gureum.aws.policy import ContextValue, Decision, PolicyRequest, role_of_session
from gureum.lambda_.domain.arns import FunctionRef
from gureum.lambda_.domain.errors import AccessDenied, ResourceNotFound
from gureum.lambda_.domain.functions import Function
from gureum.lambda_.domain.permissions import (
    UNQUALIFIED,
    FunctionPolicy,
    Grant,
    added,
    check_revision,
    policy_not_found,
    removed,
)
from gureum.lambda_.services.context import Caller, new_revision_id
from gureum.lambda_.services.invoker import Invoker
from gureum.lambda_.store.event_sources import TriggerStore, TriggerTransaction

_CACHE_LIMIT = 8192
# arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
_ARN_PARTS = 7


def _current(tx: TriggerTransaction, function: Function, qualifier: str) -> FunctionPolicy | None:
    found = tx.function_policy(function.account, function.region, function.name, qualifier)
    if found is not None and found.function_id != function.id:
        # Left from a deleted function of the same name: the new one starts without it.
        tx.put_function_policy(replace(found, statements=()))
        return None
    return found


class PermissionService:
    """The control plane of function policies, and their decisions for other accounts."""

    def __init__(
        self,
        store: TriggerStore,
        invoker: Invoker,
        functions_generation: Callable[[], int],
        new_id: Callable[[], str] = new_revision_id,
    ) -> None:
        self._store = store
        self._invoker = invoker
        self._functions_generation = functions_generation
        self._new_id = new_id
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str, str], tuple[int, ResourcePolicy | None]] = {}

    def _function(self, caller: Caller, ref: FunctionRef) -> tuple[Function, str, str]:
        """The function, the policy's qualifier and the resource its statements name (404 when
        the function, version or alias is missing)."""
        target = self._invoker.fresh_target(caller, ref)
        function = target.function
        if ref.qualifier is None:
            return function, UNQUALIFIED, function.arn
        return function, ref.qualifier, function.version_arn(ref.qualifier)

    def add(self, caller: Caller, ref: FunctionRef, grant: Grant, revision_id: str | None) -> str:
        """AddPermission: the statement added, as JSON text."""
        function, qualifier, resource = self._function(caller, ref)
        base = FunctionPolicy(
            function.account, function.region, function.name, qualifier, function.id, "", ()
        )
        with self._store.transaction() as tx:
            policy = _current(tx, function, qualifier)
            check_revision(policy, revision_id)
            changed, statement = added(policy, base, grant, resource, self._new_id())
            tx.put_function_policy(changed)
        return statement

    def remove(
        self, caller: Caller, ref: FunctionRef, statement_id: str, revision_id: str | None
    ) -> None:
        function, qualifier, _ = self._function(caller, ref)
        with self._store.transaction() as tx:
            policy = _current(tx, function, qualifier)
            changed = removed(policy, statement_id, self._new_id())
            check_revision(policy, revision_id)
            tx.put_function_policy(changed)

    def get(self, caller: Caller, ref: FunctionRef) -> FunctionPolicy:
        function, qualifier, _ = self._function(caller, ref)
        with self._store.transaction() as tx:
            policy = _current(tx, function, qualifier)
        if policy is None:
            raise policy_not_found()
        return policy

    def forget(self, caller: Caller, ref: FunctionRef, qualifier: str) -> None:
        """An alias was deleted: its policy goes with it (an alias created again under the
        name starts without one, as on AWS)."""
        with self._store.transaction() as tx:
            found = tx.function_policy(caller.account, caller.region, ref.name, qualifier)
            if found is not None:
                tx.put_function_policy(replace(found, statements=()))

    # --- decisions -------------------------------------------------------------------------

    def policy_of(
        self, account: str, region: str, name: str, qualifier: str | None
    ) -> ResourcePolicy | None:
        """The policy a request to this function (and qualifier) meets; cached."""
        key = (account, region, name, qualifier or UNQUALIFIED)
        generation = self._store.generation + self._functions_generation()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        found = self._read(account, region, name, qualifier or UNQUALIFIED)
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = (generation, found)
        return found

    def _read(self, account: str, region: str, name: str, qualifier: str) -> ResourcePolicy | None:
        with self._store.transaction() as tx:
            policy = tx.function_policy(account, region, name, qualifier)
        if policy is None:
            return None
        try:
            function = self._invoker.target(Caller(account, region), FunctionRef(name))
        except ResourceNotFound:  # the function is gone, and its policy with it
            return None
        if function.function.id != policy.function_id:
            return None
        return ResourcePolicy(policy.revision_id, policy.policy())

    def resource_policy(self, resource: str) -> ResourcePolicy | None:
        """The kernel's `ResourcePolicies`: the policy of a function ARN, qualified or not."""
        parts = resource.split(":")
        if len(parts) not in (_ARN_PARTS, _ARN_PARTS + 1) or parts[5] != "function":
            return None
        qualifier = parts[7] if len(parts) > _ARN_PARTS else None
        return self.policy_of(parts[4], parts[3], parts[6], qualifier)

    def check_other_account(
        self,
        principal: str,
        action: str,
        resource: str,
        context: Mapping[str, ContextValue] | None = None,
    ) -> None:
        """A caller from another account may act on the function `resource` names only when
        the function's policy allows it (IAM's cross-account rule; identity policies are the
        front door's, under `enforce`). AccessDeniedException otherwise."""
        found = self.resource_policy(resource)
        if found is not None:
            keys: dict[str, ContextValue] = {
                "aws:PrincipalArn": role_of_session(principal) or principal,
                **(context or {}),
            }
            keys["aws:PrincipalAccount"] = principal.split(":")[4] if ":" in principal else ""
            request = PolicyRequest(action, resource, principal, keys)
            if resource_allows(request, [found.policy]) is Decision.ALLOW:
                return
        raise AccessDenied(not_allowed_by_resource(principal, action, resource))
