"""AddPermission, RemovePermission and GetPolicy, and the gate that lets another account's
caller reach a function its policy allows (FunctionName as the owner's ARN)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any, cast

from gureum.aws.frontend import CallContext, Handler
from gureum.lambda_.api.handlers import Params, Result, caller, function_ref
from gureum.lambda_.domain.arns import function_arn, parse_function_name, policy_action
from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.permissions import Grant
from gureum.lambda_.services.permissions import PermissionService


class PermissionApi:
    def __init__(self, permissions: PermissionService) -> None:
        self._permissions = permissions

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "AddPermission": self.add_permission,
            "RemovePermission": self.remove_permission,
            "GetPolicy": self.get_policy,
        }

    def add_permission(self, ctx: CallContext, params: Params) -> Result:
        grant = Grant(
            params["StatementId"],
            params["Action"],
            params["Principal"],
            params.get("SourceArn"),
            params.get("SourceAccount"),
            params.get("PrincipalOrgID"),
            params.get("EventSourceToken"),
            params.get("FunctionUrlAuthType"),
            params.get("InvokedViaFunctionUrl"),
        )
        statement = self._permissions.add(
            caller(ctx), function_ref(ctx, params), grant, params.get("RevisionId")
        )
        return {"Statement": statement}

    def remove_permission(self, ctx: CallContext, params: Params) -> Result:
        self._permissions.remove(
            caller(ctx), function_ref(ctx, params), params["StatementId"], params.get("RevisionId")
        )
        return {}

    def get_policy(self, ctx: CallContext, params: Params) -> Result:
        policy = self._permissions.get(caller(ctx), function_ref(ctx, params))
        return {"Policy": policy.text(), "RevisionId": policy.revision_id}


def dropping_alias_policies(
    handlers: Mapping[str, Handler], permissions: PermissionService
) -> dict[str, Handler]:
    """`handlers` with DeleteAlias also deleting the alias's policy, after the alias is gone."""
    delete_alias = cast(Callable[[CallContext, Params], Result], handlers["DeleteAlias"])

    def deleted(ctx: CallContext, params: dict[str, Any]) -> Result:
        result = delete_alias(ctx, params)
        ref = function_ref(ctx, params, qualifier=False)
        permissions.forget(caller(ctx), ref, params["Name"])
        return result

    return {**handlers, "DeleteAlias": deleted}


def _other_account(ctx: CallContext, params: Params) -> tuple[str, str] | None:
    """(the owner's account, the function's ARN) when FunctionName names another account's
    function in this region; None otherwise (the handler's own checks answer the rest)."""
    name = params.get("FunctionName")
    if not isinstance(name, str):
        return None
    try:
        ref = parse_function_name(name)
    except InvalidParameterValue:  # the handler refuses it with AWS's message
        return None
    if ref.account is None or ref.account == ctx.account_id:
        return None
    if ref.region is not None and ref.region != ctx.region:
        return None
    qualifier = params.get("Qualifier") or ref.qualifier
    return ref.account, function_arn(ctx.region, ref.account, ref.name, qualifier)


def across_accounts(
    handlers: Mapping[str, Handler], permissions: PermissionService, executor: Executor
) -> dict[str, Handler]:
    """`handlers` with those a function policy can grant another account gated: the policy of
    the function (and qualifier) named must allow the caller, who then acts in the owner's
    account. Other operations keep AWS's refusal of another account's function."""
    gated: dict[str, Handler] = dict(handlers)
    for operation, handler in handlers.items():
        action = policy_action(operation)
        if action is not None:
            gated[operation] = _gate(handler, action, permissions, executor)
    return gated


def _gate(
    handler: Handler, action: str, permissions: PermissionService, executor: Executor
) -> Handler:
    if inspect.iscoroutinefunction(handler):
        run_async = cast(Callable[[CallContext, Params], Awaitable[Result]], handler)

        async def gated_async(ctx: CallContext, params: dict[str, Any]) -> Result:
            other = _other_account(ctx, params)
            if other is not None:
                owner, resource = other
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(
                    executor, permissions.check_other_account, ctx.principal, action, resource
                )
                ctx = replace(ctx, account_id=owner)
            return await run_async(ctx, params)

        return gated_async
    run_sync = cast(Callable[[CallContext, Params], Result], handler)

    def gated(ctx: CallContext, params: dict[str, Any]) -> Result:
        other = _other_account(ctx, params)
        if other is not None:
            owner, resource = other
            permissions.check_other_account(ctx.principal, action, resource)
            ctx = replace(ctx, account_id=owner)
        return run_sync(ctx, params)

    return gated
