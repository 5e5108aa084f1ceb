"""Lambda's response documents, built from domain values (spec 1.7, 2.1).

Only what AWS shows: optional blocks (Environment, VpcConfig, Layers, ...) appear when configured,
list items drop the state fields, and `RoutingConfig` is omitted when there is no routing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gureum.lambda_.domain import snap_start
from gureum.lambda_.domain.aliases import Alias
from gureum.lambda_.domain.functions import Function
from gureum.lambda_.domain.layers import LayerVersion
from gureum.lambda_.domain.runtimes import runtime_version_arn
from gureum.lambda_.services.functions import VersionView


def timestamp(value: datetime) -> str:
    """`2019-11-14T22:47:04.520+0000`, as FunctionConfiguration.LastModified reads."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def configuration(view: VersionView, *, listed: bool = False) -> dict[str, Any]:
    function, version = view.function, view.version
    settings = version.settings
    logging = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function.name}"}
    logging.update(settings.logging_config)
    document: dict[str, Any] = {
        "FunctionName": function.name,
        "FunctionArn": view.arn,
        "Runtime": settings.runtime,
        "Role": settings.role,
        "Handler": settings.handler,
        "CodeSize": version.code.size,
        "Description": settings.description,
        "Timeout": settings.timeout,
        "MemorySize": settings.memory_size,
        "LastModified": timestamp(version.last_modified),
        "CodeSha256": version.code.sha256,
        "Version": version.version,
        "TracingConfig": {"Mode": settings.tracing_mode},
        "RevisionId": version.revision_id,
        "PackageType": settings.package_type,
        "Architectures": list(settings.architectures),
        "EphemeralStorage": {"Size": settings.ephemeral_storage},
        "SnapStart": {
            "ApplyOn": settings.snap_start,
            "OptimizationStatus": snap_start.optimization_status(
                settings.snap_start, version.version
            ),
        },
        "LoggingConfig": logging,
    }
    if settings.environment_error is not None:
        code, message = settings.environment_error
        document["Environment"] = {"Error": {"ErrorCode": code, "Message": message}}
    elif settings.environment is not None:
        document["Environment"] = {"Variables": dict(settings.environment)}
    if settings.kms_key_arn:
        document["KMSKeyArn"] = settings.kms_key_arn
    if settings.vpc_config is not None:
        document["VpcConfig"] = dict(settings.vpc_config)
    if settings.dead_letter_target:
        document["DeadLetterConfig"] = {"TargetArn": settings.dead_letter_target}
    if settings.layers:
        document["Layers"] = [
            {"Arn": layer.arn, "CodeSize": layer.code_size} for layer in settings.layers
        ]
    if settings.file_system_configs:
        document["FileSystemConfigs"] = [dict(c) for c in settings.file_system_configs]
    if settings.image_config is not None:
        document["ImageConfigResponse"] = {"ImageConfig": dict(settings.image_config)}
    if not listed:
        lifecycle = version.lifecycle
        document["State"] = lifecycle.state.value
        if lifecycle.update is None:
            document["StateReason"] = lifecycle.reason
            document["StateReasonCode"] = lifecycle.reason_code
        else:
            document["LastUpdateStatus"] = lifecycle.update.value
            document["LastUpdateStatusReason"] = lifecycle.reason
            document["LastUpdateStatusReasonCode"] = lifecycle.reason_code
        if settings.runtime:
            document["RuntimeVersionConfig"] = {
                "RuntimeVersionArn": runtime_version_arn(function.region, settings.runtime)
            }
    return document


def alias(function: Function, item: Alias) -> dict[str, Any]:
    document: dict[str, Any] = {
        "AliasArn": function.version_arn(item.name),
        "Name": item.name,
        "FunctionVersion": item.function_version,
        "Description": item.description,
        "RevisionId": item.revision_id,
    }
    if item.weights:
        document["RoutingConfig"] = {"AdditionalVersionWeights": dict(item.weights)}
    return document


def layer_version(layer: LayerVersion, location: str | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "LayerArn": layer.layer_arn,
        "LayerVersionArn": layer.arn,
        "Description": layer.description,
        "CreatedDate": timestamp(layer.created),
        "Version": layer.version,
        "CompatibleRuntimes": list(layer.compatible_runtimes),
        "CompatibleArchitectures": list(layer.compatible_architectures),
        "LicenseInfo": layer.license_info,
    }
    if location is not None:
        document["Content"] = {
            "Location": location,
            "CodeSha256": layer.code.sha256,
            "CodeSize": layer.code.size,
        }
    return document
