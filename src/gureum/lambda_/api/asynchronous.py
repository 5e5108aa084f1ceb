"""Lambda's asynchronous-invocation operations: event invoke configs and the legacy InvokeAsync."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gureum.aws.frontend import CallContext, Handler
from gureum.lambda_.api.handlers import Params, Result, caller, function_ref
from gureum.lambda_.domain.event_configs import EventInvokeConfig
from gureum.lambda_.domain.functions import Function
from gureum.lambda_.services.event_configs import EventConfigService
from gureum.lambda_.services.invoker import Invoker, check_invocable

LEGACY_ASYNC_LIMIT = 262_144
_MEMBERS = {
    "MaximumRetryAttempts": "max_retries",
    "MaximumEventAgeInSeconds": "max_age",
}


def config_from(params: Params) -> tuple[EventInvokeConfig, set[str]]:
    """The config a request describes, and which of its fields the request named."""
    values: dict[str, Any] = {}
    for member, field in _MEMBERS.items():
        if member in params:
            values[field] = params[member]
    destinations = params.get("DestinationConfig")
    if destinations is not None:
        values["on_success"] = destinations.get("OnSuccess", {}).get("Destination") or None
        values["on_failure"] = destinations.get("OnFailure", {}).get("Destination") or None
    return EventInvokeConfig(**values), set(values)


def render(function: Function, qualifier: str, config: EventInvokeConfig) -> Result:
    document: Result = {
        "LastModified": config.last_modified,
        "FunctionArn": function.version_arn(qualifier),
        "DestinationConfig": {
            "OnSuccess": {"Destination": config.on_success} if config.on_success else {},
            "OnFailure": {"Destination": config.on_failure} if config.on_failure else {},
        },
    }
    if config.max_retries is not None:
        document["MaximumRetryAttempts"] = config.max_retries
    if config.max_age is not None:
        document["MaximumEventAgeInSeconds"] = config.max_age
    return document


class AsyncApi:
    def __init__(self, configs: EventConfigService, invoker: Invoker) -> None:
        self._configs = configs
        self._invoker = invoker

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "PutFunctionEventInvokeConfig": self.put,
            "UpdateFunctionEventInvokeConfig": self.update,
            "GetFunctionEventInvokeConfig": self.get,
            "DeleteFunctionEventInvokeConfig": self.delete,
            "ListFunctionEventInvokeConfigs": self.list_configs,
            "InvokeAsync": self.invoke_async,
        }

    def put(self, ctx: CallContext, params: Params) -> Result:
        config, given = config_from(params)
        found = self._configs.put(caller(ctx), function_ref(ctx, params), config, given)
        return render(*found)

    def update(self, ctx: CallContext, params: Params) -> Result:
        config, given = config_from(params)
        found = self._configs.update(caller(ctx), function_ref(ctx, params), config, given)
        return render(*found)

    def get(self, ctx: CallContext, params: Params) -> Result:
        return render(*self._configs.get(caller(ctx), function_ref(ctx, params)))

    def delete(self, ctx: CallContext, params: Params) -> Result:
        self._configs.delete(caller(ctx), function_ref(ctx, params))
        return {}

    def list_configs(self, ctx: CallContext, params: Params) -> Result:
        ref = function_ref(ctx, params, qualifier=False)
        function, configs = self._configs.list_configs(caller(ctx), ref)
        start = int(params["Marker"]) if str(params.get("Marker", "")).isdigit() else 0
        limit = min(params.get("MaxItems") or 50, 50)
        page = configs[start : start + limit]
        result: Result = {"FunctionEventInvokeConfigs": [render(function, q, c) for q, c in page]}
        if start + limit < len(configs):
            result["NextMarker"] = str(start + limit)
        return result

    async def invoke_async(self, ctx: CallContext, params: Params) -> Result:
        """The deprecated InvokeAsync: an Event invocation with the old 256 KB limit."""
        ref = function_ref(ctx, params)
        payload = params.get("InvokeArgs", b"")
        if not isinstance(payload, bytes):
            payload = payload.read() if hasattr(payload, "read") else bytes(payload)
        target = self._invoker.target(caller(ctx), ref)
        check_invocable(target.version)
        await self._invoker.accept(target, ref, payload, ctx.request_id, LEGACY_ASYNC_LIMIT)
        return {"Status": 202}
