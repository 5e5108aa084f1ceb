"""Lambda's provisioned-concurrency operations (spec 6.3): parse, call the service, render."""

from __future__ import annotations

from collections.abc import Mapping

from gureum.aws.frontend import CallContext, Handler
from gureum.lambda_.api.handlers import Params, Result, caller, function_ref
from gureum.lambda_.services.provisioned import ProvisionedConcurrencyService, ProvisionedView


def render(view: ProvisionedView, listed: bool = False) -> Result:
    config = view.config
    document: Result = {
        "RequestedProvisionedConcurrentExecutions": config.requested,
        # Every allocated environment is available: none is handed out before all are up.
        "AvailableProvisionedConcurrentExecutions": config.allocated,
        "AllocatedProvisionedConcurrentExecutions": config.allocated,
        "Status": config.status.value,
        "LastModified": config.last_modified,
    }
    if config.reason is not None:
        document["StatusReason"] = config.reason
    if listed:
        document = {"FunctionArn": view.function.version_arn(config.qualifier), **document}
    return document


class ProvisionedApi:
    def __init__(self, configs: ProvisionedConcurrencyService) -> None:
        self._configs = configs

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "PutProvisionedConcurrencyConfig": self.put,
            "GetProvisionedConcurrencyConfig": self.get,
            "DeleteProvisionedConcurrencyConfig": self.delete,
            "ListProvisionedConcurrencyConfigs": self.list_configs,
        }

    def put(self, ctx: CallContext, params: Params) -> Result:
        requested = params["ProvisionedConcurrentExecutions"]
        return render(self._configs.put(caller(ctx), function_ref(ctx, params), requested))

    def get(self, ctx: CallContext, params: Params) -> Result:
        return render(self._configs.get(caller(ctx), function_ref(ctx, params)))

    def delete(self, ctx: CallContext, params: Params) -> Result:
        self._configs.delete(caller(ctx), function_ref(ctx, params))
        return {}

    def list_configs(self, ctx: CallContext, params: Params) -> Result:
        ref = function_ref(ctx, params, qualifier=False)
        page = self._configs.list_configs(
            caller(ctx), ref, params.get("Marker"), params.get("MaxItems")
        )
        return {
            "ProvisionedConcurrencyConfigs": [render(v, listed=True) for v in page.items],
            "NextMarker": page.next_marker,
        }
