"""Lambda's function URL operations: parse, call the service, render."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gureum.aws.frontend import CallContext, Handler
from gureum.lambda_.api.handlers import Params, Result, caller, function_ref
from gureum.lambda_.domain.function_urls import Cors, FunctionUrlConfig
from gureum.lambda_.services.function_urls import FunctionUrlService


def cors_from(params: Params) -> Cors | None:
    given: dict[str, Any] | None = params.get("Cors")
    if given is None:
        return None
    return Cors(
        given.get("AllowCredentials"),
        tuple(given.get("AllowHeaders") or ()),
        tuple(given.get("AllowMethods") or ()),
        tuple(given.get("AllowOrigins") or ()),
        tuple(given.get("ExposeHeaders") or ()),
        given.get("MaxAge"),
    )


def render_cors(cors: Cors) -> Result:
    document: Result = {}
    if cors.allow_credentials is not None:
        document["AllowCredentials"] = cors.allow_credentials
    for member, values in (
        ("AllowHeaders", cors.allow_headers),
        ("AllowMethods", cors.allow_methods),
        ("AllowOrigins", cors.allow_origins),
        ("ExposeHeaders", cors.expose_headers),
    ):
        if values:
            document[member] = list(values)
    if cors.max_age is not None:
        document["MaxAge"] = cors.max_age
    return document


def render(config: FunctionUrlConfig, endpoint: str, modified: bool = True) -> Result:
    document: Result = {
        "FunctionUrl": config.url(endpoint),
        "FunctionArn": config.function_arn,
        "AuthType": config.auth_type,
        "CreationTime": config.created,
        "InvokeMode": config.invoke_mode,
    }
    if config.cors is not None:
        document["Cors"] = render_cors(config.cors)
    if modified:
        document["LastModifiedTime"] = config.modified
    return document


class FunctionUrlApi:
    def __init__(self, urls: FunctionUrlService) -> None:
        self._urls = urls

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "CreateFunctionUrlConfig": self.create,
            "GetFunctionUrlConfig": self.get,
            "UpdateFunctionUrlConfig": self.update,
            "DeleteFunctionUrlConfig": self.delete,
            "ListFunctionUrlConfigs": self.list_configs,
        }

    def create(self, ctx: CallContext, params: Params) -> Result:
        config = self._urls.create(
            caller(ctx),
            function_ref(ctx, params),
            params["AuthType"],
            cors_from(params),
            params.get("InvokeMode"),
        )
        return render(config, ctx.endpoint, modified=False)

    def get(self, ctx: CallContext, params: Params) -> Result:
        return render(self._urls.get(caller(ctx), function_ref(ctx, params)), ctx.endpoint)

    def update(self, ctx: CallContext, params: Params) -> Result:
        config = self._urls.update(
            caller(ctx),
            function_ref(ctx, params),
            params.get("AuthType"),
            cors_from(params),
            params.get("InvokeMode"),
        )
        return render(config, ctx.endpoint)

    def delete(self, ctx: CallContext, params: Params) -> Result:
        self._urls.delete(caller(ctx), function_ref(ctx, params))
        return {}

    def list_configs(self, ctx: CallContext, params: Params) -> Result:
        page = self._urls.list_configs(
            caller(ctx),
            function_ref(ctx, params, qualifier=False),
            params.get("Marker"),
            params.get("MaxItems"),
        )
        result: Result = {"FunctionUrlConfigs": [render(c, ctx.endpoint) for c in page.items]}
        if page.next_marker is not None:
            result["NextMarker"] = page.next_marker
        return result
