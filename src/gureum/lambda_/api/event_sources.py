"""Lambda's event source mapping operations (SQS sources): parse, call the service, render."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gureum.aws.frontend import CallContext, Handler
from gureum.lambda_.api.handlers import Params, Result, caller, function_ref
from gureum.lambda_.domain.arns import FunctionRef
from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.event_sources import (
    REPORT_FAILURES,
    EventSourceMapping,
    MappingSettings,
)
from gureum.lambda_.services.event_sources import EventSourceService

# Members of other event sources (streams, Kafka, DocumentDB): refused for an SQS source.
_NOT_FOR_SQS = (
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "Topics",
    "Queues",
    "DestinationConfig",
    "SelfManagedEventSource",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
    "SourceAccessConfigurations",
)
# Settings AWS has for SQS mappings that gureum does not act on yet: refused, never stored and
# ignored.
_NOT_BUILT = ("MetricsConfig", "LoggingConfig", "KMSKeyArn", "ProvisionedPollerConfig")


def render(mapping: EventSourceMapping) -> Result:
    settings = mapping.settings
    document: Result = {
        "UUID": mapping.uuid,
        "BatchSize": settings.batch_size,
        "MaximumBatchingWindowInSeconds": settings.window,
        "EventSourceArn": mapping.source_arn,
        "FunctionArn": mapping.function_arn,
        "LastModified": mapping.last_modified,
        "LastProcessingResult": mapping.last_result,
        "State": mapping.state.value,
        "StateTransitionReason": mapping.reason,
        "FunctionResponseTypes": [REPORT_FAILURES] if settings.report_failures else [],
        "EventSourceMappingArn": mapping.arn,
    }
    if settings.filters:
        document["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in settings.filters]}
    if settings.max_concurrency is not None:
        document["ScalingConfig"] = {"MaximumConcurrency": settings.max_concurrency}
    return document


def setting_changes(params: Params) -> dict[str, Any]:
    """The settings a Create or Update names, by `MappingSettings` field."""
    for member in _NOT_FOR_SQS:
        if member in params:
            raise InvalidParameterValue(f"Unsupported parameter for SQS event source: {member}")
    for member in _NOT_BUILT:
        if member in params:
            raise InvalidParameterValue(
                f"gureum does not support {member} on event source mappings yet."
            )
    changes: dict[str, Any] = {}
    if "BatchSize" in params:
        changes["batch_size"] = params["BatchSize"]
    if "MaximumBatchingWindowInSeconds" in params:
        changes["window"] = params["MaximumBatchingWindowInSeconds"]
    if "Enabled" in params:
        changes["enabled"] = params["Enabled"]
    if "FilterCriteria" in params:
        filters = params["FilterCriteria"].get("Filters") or []
        changes["filters"] = tuple(f.get("Pattern", "") for f in filters)
    if "FunctionResponseTypes" in params:
        changes["report_failures"] = REPORT_FAILURES in params["FunctionResponseTypes"]
    if "ScalingConfig" in params:
        changes["max_concurrency"] = params["ScalingConfig"].get("MaximumConcurrency")
    return changes


class EventSourceApi:
    def __init__(self, mappings: EventSourceService) -> None:
        self._mappings = mappings

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "CreateEventSourceMapping": self.create,
            "GetEventSourceMapping": self.get,
            "ListEventSourceMappings": self.list_mappings,
            "UpdateEventSourceMapping": self.update,
            "DeleteEventSourceMapping": self.delete,
        }

    def create(self, ctx: CallContext, params: Params) -> Result:
        if "EventSourceArn" not in params:
            raise InvalidParameterValue("Unrecognized event source.")
        settings = MappingSettings(**setting_changes(params))
        mapping = self._mappings.create(
            caller(ctx),
            function_ref(ctx, params),
            params["EventSourceArn"],
            settings,
            dict(params.get("Tags") or {}),
        )
        return render(mapping)

    def get(self, ctx: CallContext, params: Params) -> Result:
        return render(self._mappings.get(caller(ctx), params["UUID"]))

    def list_mappings(self, ctx: CallContext, params: Params) -> Result:
        name = None
        if params.get("FunctionName"):
            name = function_ref(ctx, params, qualifier=False).name
        page = self._mappings.list_mappings(
            caller(ctx),
            name,
            params.get("EventSourceArn"),
            params.get("Marker"),
            params.get("MaxItems"),
        )
        result: Result = {"EventSourceMappings": [render(m) for m in page.items]}
        if page.next_marker is not None:
            result["NextMarker"] = page.next_marker
        return result

    def update(self, ctx: CallContext, params: Params) -> Result:
        ref: FunctionRef | None = None
        if params.get("FunctionName"):
            ref = function_ref(ctx, params)
        mapping = self._mappings.update(caller(ctx), params["UUID"], ref, setting_changes(params))
        return render(mapping)

    def delete(self, ctx: CallContext, params: Params) -> Result:
        return render(self._mappings.delete(caller(ctx), params["UUID"]))
