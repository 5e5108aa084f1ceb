"""Put/GetFunctionRecursionConfig's wire adapter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gureum.aws.frontend import CallContext, Handler
from gureum.lambda_.api.handlers import caller, function_ref
from gureum.lambda_.services.recursion import RecursionConfigService


class RecursionApi:
    def __init__(self, service: RecursionConfigService) -> None:
        self._service = service

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "PutFunctionRecursionConfig": self.put_function_recursion_config,
            "GetFunctionRecursionConfig": self.get_function_recursion_config,
        }

    def put_function_recursion_config(
        self, ctx: CallContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        ref = function_ref(ctx, params, qualifier=False)
        value = self._service.put(caller(ctx), ref, params["RecursiveLoop"])
        return {"RecursiveLoop": value}

    def get_function_recursion_config(
        self, ctx: CallContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        ref = function_ref(ctx, params, qualifier=False)
        return {"RecursiveLoop": self._service.get(caller(ctx), ref)}
