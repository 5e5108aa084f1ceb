"""Lambda's control-plane operations: parse the member dict, call one service, render.

The wire layer has already routed, parsed and validated the request against the model; each
handler only names the function, calls a service and shapes the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

from gureum.aws.frontend import CallContext, Handler
from gureum.clock import Clock
from gureum.lambda_.api import render
from gureum.lambda_.api.requests import settings_changes
from gureum.lambda_.domain.arns import FunctionRef, parse_function_name, resolve_function
from gureum.lambda_.domain.concurrency import Limits
from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.functions import Code, FunctionSettings
from gureum.lambda_.domain.packages import UNZIPPED_LIMIT, ZIPPED_LIMIT
from gureum.lambda_.services.aliases import AliasService
from gureum.lambda_.services.code_links import CodeLinks
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.functions import FunctionService
from gureum.lambda_.services.hot_reload import HotReload
from gureum.lambda_.services.invoker import InvocationType, Invoker
from gureum.lambda_.services.layers import LayerService
from gureum.lambda_.services.packages import s3_location

Params = dict[str, Any]
Result = dict[str, Any]
TOTAL_CODE_SIZE = 80_530_636_800


def caller(ctx: CallContext) -> Caller:
    return Caller(ctx.account_id, ctx.region)


def function_ref(ctx: CallContext, params: Params, qualifier: bool = True) -> FunctionRef:
    return resolve_function(
        params["FunctionName"],
        params.get("Qualifier") if qualifier else None,
        region=ctx.region,
        account=ctx.account_id,
        operation=ctx.operation,
    )


def _weights(params: Params) -> Mapping[str, float] | None:
    routing = params.get("RoutingConfig")
    if routing is None:
        return None
    return dict(routing.get("AdditionalVersionWeights") or {})


class LambdaApi:
    def __init__(
        self,
        functions: FunctionService,
        aliases: AliasService,
        layers: LayerService,
        links: CodeLinks,
        clock: Clock,
        limits: Limits,
        invoker: Invoker,
        executor: Executor,
        hot_reload: HotReload | None = None,
    ) -> None:
        self.hot_reload = hot_reload
        self._functions = functions
        self._aliases = aliases
        self._layers = layers
        self._links = links
        self._clock = clock
        self._limits = limits
        self._invoker = invoker
        self._executor = executor  # the store's reads and writes block: off the event loop

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "CreateFunction": self.create_function,
            "GetFunction": self.get_function,
            "GetFunctionConfiguration": self.get_function_configuration,
            "ListFunctions": self.list_functions,
            "UpdateFunctionCode": self.update_function_code,
            "UpdateFunctionConfiguration": self.update_function_configuration,
            "DeleteFunction": self.delete_function,
            "PublishVersion": self.publish_version,
            "ListVersionsByFunction": self.list_versions_by_function,
            "CreateAlias": self.create_alias,
            "GetAlias": self.get_alias,
            "UpdateAlias": self.update_alias,
            "DeleteAlias": self.delete_alias,
            "ListAliases": self.list_aliases,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTags": self.list_tags,
            "PublishLayerVersion": self.publish_layer_version,
            "GetLayerVersion": self.get_layer_version,
            "GetLayerVersionByArn": self.get_layer_version_by_arn,
            "ListLayers": self.list_layers,
            "ListLayerVersions": self.list_layer_versions,
            "DeleteLayerVersion": self.delete_layer_version,
            "GetAccountSettings": self.get_account_settings,
            "Invoke": self.invoke,
            "PutFunctionConcurrency": self.put_function_concurrency,
            "GetFunctionConcurrency": self.get_function_concurrency,
            "DeleteFunctionConcurrency": self.delete_function_concurrency,
        }

    # --- functions --------------------------------------------------------------------------

    def create_function(self, ctx: CallContext, params: Params) -> Result:
        ref = function_ref(ctx, params, qualifier=False)
        if ref.qualifier is not None:
            raise InvalidParameterValue("Unsupported function name format: a qualifier is set.")
        changes = settings_changes(params)
        code_params = params.get("Code", {})
        if "ImageUri" in code_params:
            raise InvalidParameterValue("gureum runs .zip deployment packages only.")
        code = self._package(code_params, ctx)
        settings = replace(FunctionSettings(role=params["Role"]), **changes)
        view = self._functions.create(
            caller(ctx), ref, settings, code, params.get("Tags", {}), params.get("Publish", False)
        )
        self._committed(code)
        return render.configuration(view)

    async def get_function(self, ctx: CallContext, params: Params) -> Result:
        who, ref = caller(ctx), function_ref(ctx, params)
        view = self._functions.cached(who, ref) or self._functions.read_on_loop(who, ref)
        if view is None:
            loop = asyncio.get_running_loop()
            view = await loop.run_in_executor(self._executor, self._functions.get, who, ref)
        location = self._links.url(ctx.endpoint, view.version.code.blob, self._clock.now())
        result: Result = {
            "Configuration": render.configuration(view),
            "Code": {"RepositoryType": "S3", "Location": location},
        }
        if view.function.tags:
            result["Tags"] = dict(view.function.tags)
        if view.function.reserved_concurrency is not None:
            result["Concurrency"] = {
                "ReservedConcurrentExecutions": view.function.reserved_concurrency
            }
        return result

    def _package(self, source: Params, ctx: CallContext) -> Code:
        """The code a request names: a hot-reload directory, an object in gureum's S3, or an
        uploaded package."""
        hot = self.hot_reload
        if hot is not None:
            code = hot.package(source.get("S3Bucket"), source.get("S3Key"))
            if code is not None:
                return code
        return self._functions.store_package(
            source.get("ZipFile"), s3_location(source), caller(ctx)
        )

    def _committed(self, code: Code) -> None:
        if self.hot_reload is not None:
            self.hot_reload.committed(code)

    def get_function_configuration(self, ctx: CallContext, params: Params) -> Result:
        return render.configuration(self._functions.get(caller(ctx), function_ref(ctx, params)))

    def list_functions(self, ctx: CallContext, params: Params) -> Result:
        page = self._functions.list_functions(
            caller(ctx),
            params.get("Marker"),
            params.get("MaxItems"),
            params.get("FunctionVersion") == "ALL",
        )
        return {
            "Functions": [render.configuration(v, listed=True) for v in page.items],
            "NextMarker": page.next_marker,
        }

    def update_function_code(self, ctx: CallContext, params: Params) -> Result:
        ref = function_ref(ctx, params, qualifier=False)
        if "ImageUri" in params:
            raise InvalidParameterValue("gureum runs .zip deployment packages only.")
        if params.get("DryRun"):
            raise InvalidParameterValue("gureum does not support DryRun for UpdateFunctionCode.")
        code = self._package(params, ctx)
        architectures = params.get("Architectures")
        view = self._functions.update_code(
            caller(ctx),
            ref,
            code,
            tuple(architectures) if architectures else None,
            params.get("RevisionId"),
            params.get("Publish", False),
        )
        self._committed(code)
        return render.configuration(view)

    def update_function_configuration(self, ctx: CallContext, params: Params) -> Result:
        ref = function_ref(ctx, params, qualifier=False)
        view = self._functions.update_configuration(
            caller(ctx), ref, settings_changes(params), params.get("RevisionId")
        )
        return render.configuration(view)

    def delete_function(self, ctx: CallContext, params: Params) -> Result:
        self._functions.delete(caller(ctx), function_ref(ctx, params))
        return {"StatusCode": 204}

    def publish_version(self, ctx: CallContext, params: Params) -> Result:
        view = self._functions.publish(
            caller(ctx),
            function_ref(ctx, params, qualifier=False),
            params.get("Description"),
            params.get("CodeSha256"),
            params.get("RevisionId"),
        )
        return render.configuration(view)

    def list_versions_by_function(self, ctx: CallContext, params: Params) -> Result:
        page = self._functions.list_versions(
            caller(ctx),
            function_ref(ctx, params, qualifier=False),
            params.get("Marker"),
            params.get("MaxItems"),
        )
        return {
            "Versions": [render.configuration(v, listed=True) for v in page.items],
            "NextMarker": page.next_marker,
        }

    # --- aliases ----------------------------------------------------------------------------

    def create_alias(self, ctx: CallContext, params: Params) -> Result:
        function, alias = self._aliases.create(
            caller(ctx),
            function_ref(ctx, params, qualifier=False),
            params["Name"],
            params["FunctionVersion"],
            params.get("Description", ""),
            _weights(params) or {},
        )
        return render.alias(function, alias)

    def get_alias(self, ctx: CallContext, params: Params) -> Result:
        ref = function_ref(ctx, params, qualifier=False)
        function, alias = self._aliases.get(caller(ctx), ref, params["Name"])
        return render.alias(function, alias)

    def update_alias(self, ctx: CallContext, params: Params) -> Result:
        function, alias = self._aliases.update(
            caller(ctx),
            function_ref(ctx, params, qualifier=False),
            params["Name"],
            params.get("FunctionVersion"),
            params.get("Description"),
            _weights(params),
            params.get("RevisionId"),
        )
        return render.alias(function, alias)

    def delete_alias(self, ctx: CallContext, params: Params) -> Result:
        ref = function_ref(ctx, params, qualifier=False)
        self._aliases.delete(caller(ctx), ref, params["Name"])
        return {}

    def list_aliases(self, ctx: CallContext, params: Params) -> Result:
        function, page = self._aliases.list_aliases(
            caller(ctx),
            function_ref(ctx, params, qualifier=False),
            params.get("FunctionVersion"),
            params.get("Marker"),
            params.get("MaxItems"),
        )
        return {
            "Aliases": [render.alias(function, a) for a in page.items],
            "NextMarker": page.next_marker,
        }

    # --- tags -------------------------------------------------------------------------------

    def _tag_target(self, ctx: CallContext, resource: str) -> FunctionRef:
        ref = parse_function_name(resource)
        if ref.qualifier is not None:
            raise InvalidParameterValue(
                "Tags on function aliases and versions are not supported. "
                "Please specify a function ARN."
            )
        return resolve_function(
            resource, None, region=ctx.region, account=ctx.account_id, operation=ctx.operation
        )

    def tag_resource(self, ctx: CallContext, params: Params) -> Result:
        ref = self._tag_target(ctx, params["Resource"])
        if not params["Tags"]:
            raise InvalidParameterValue("An error occurred and the request cannot be processed.")
        self._functions.change_tags(caller(ctx), ref, params["Tags"], [])
        return {}

    def untag_resource(self, ctx: CallContext, params: Params) -> Result:
        ref = self._tag_target(ctx, params["Resource"])
        self._functions.change_tags(caller(ctx), ref, {}, params["TagKeys"])
        return {}

    def list_tags(self, ctx: CallContext, params: Params) -> Result:
        ref = self._tag_target(ctx, params["Resource"])
        return {"Tags": dict(self._functions.tags(caller(ctx), ref))}

    # --- layers -----------------------------------------------------------------------------

    def _layer_result(self, ctx: CallContext, layer: Any) -> Result:
        location = self._links.url(ctx.endpoint, layer.code.blob, self._clock.now())
        return render.layer_version(layer, location)

    def publish_layer_version(self, ctx: CallContext, params: Params) -> Result:
        content = params["Content"]
        code = self._package(content, ctx)
        layer = self._layers.publish(
            caller(ctx),
            params["LayerName"],
            code,
            params.get("Description", ""),
            tuple(params.get("CompatibleRuntimes", ())),
            tuple(params.get("CompatibleArchitectures", ())),
            params.get("LicenseInfo"),
        )
        self._committed(code)
        return self._layer_result(ctx, layer)

    def get_layer_version(self, ctx: CallContext, params: Params) -> Result:
        layer = self._layers.get(caller(ctx), params["LayerName"], params["VersionNumber"])
        return self._layer_result(ctx, layer)

    def get_layer_version_by_arn(self, ctx: CallContext, params: Params) -> Result:
        return self._layer_result(ctx, self._layers.get_by_arn(caller(ctx), params["Arn"]))

    def list_layers(self, ctx: CallContext, params: Params) -> Result:
        page = self._layers.list_layers(
            caller(ctx),
            params.get("CompatibleRuntime"),
            params.get("CompatibleArchitecture"),
            params.get("Marker"),
            params.get("MaxItems"),
        )
        layers = [
            {
                "LayerName": layer.name,
                "LayerArn": layer.layer_arn,
                "LatestMatchingVersion": render.layer_version(layer, None),
            }
            for layer in page.items
        ]
        return {"Layers": layers, "NextMarker": page.next_marker}

    def list_layer_versions(self, ctx: CallContext, params: Params) -> Result:
        page = self._layers.list_versions(
            caller(ctx),
            params["LayerName"],
            params.get("CompatibleRuntime"),
            params.get("CompatibleArchitecture"),
            params.get("Marker"),
            params.get("MaxItems"),
        )
        versions = [render.layer_version(layer, None) for layer in page.items]
        return {"LayerVersions": versions, "NextMarker": page.next_marker}

    def delete_layer_version(self, ctx: CallContext, params: Params) -> Result:
        self._layers.delete(caller(ctx), params["LayerName"], params["VersionNumber"])
        return {}

    # --- invoke -----------------------------------------------------------------------------

    async def invoke(self, ctx: CallContext, params: Params) -> Result:
        result = await self._invoker.invoke(
            caller(ctx),
            function_ref(ctx, params),
            params.get("Payload", b""),
            InvocationType(params.get("InvocationType", "RequestResponse")),
            params.get("LogType") == "Tail",
            params.get("ClientContext"),
            ctx.request_id,
            ctx.trace_header,
        )
        return {
            "StatusCode": result.status,
            "Payload": result.payload,
            "ExecutedVersion": result.executed_version,
            "FunctionError": result.function_error,
            "LogResult": result.log_result,
        }

    # --- reserved concurrency ---------------------------------------------------------------

    def put_function_concurrency(self, ctx: CallContext, params: Params) -> Result:
        value = self._functions.put_concurrency(
            caller(ctx),
            function_ref(ctx, params, qualifier=False),
            params["ReservedConcurrentExecutions"],
            self._limits,
        )
        return {"ReservedConcurrentExecutions": value}

    def get_function_concurrency(self, ctx: CallContext, params: Params) -> Result:
        ref = function_ref(ctx, params, qualifier=False)
        value = self._functions.get_concurrency(caller(ctx), ref)
        return {} if value is None else {"ReservedConcurrentExecutions": value}

    def delete_function_concurrency(self, ctx: CallContext, params: Params) -> Result:
        ref = function_ref(ctx, params, qualifier=False)
        self._functions.delete_concurrency(caller(ctx), ref)
        return {}

    # --- account ----------------------------------------------------------------------------

    def get_account_settings(self, ctx: CallContext, params: Params) -> Result:
        code_size, function_count = self._functions.usage(caller(ctx))
        reserved = self._functions.claimed_total(caller(ctx))
        return {
            "AccountLimit": {
                "TotalCodeSize": TOTAL_CODE_SIZE,
                "CodeSizeUnzipped": UNZIPPED_LIMIT,
                "CodeSizeZipped": ZIPPED_LIMIT,
                "ConcurrentExecutions": self._limits.account,
                "UnreservedConcurrentExecutions": max(self._limits.account - reserved, 0),
            },
            "AccountUsage": {"TotalCodeSize": code_size, "FunctionCount": function_count},
        }
