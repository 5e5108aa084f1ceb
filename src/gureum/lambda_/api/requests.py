"""Lambda request members to domain settings: one table, wire name -> field and conversion."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.functions import AttachedLayer

# Members of newer Lambda features gureum does not implement; refusing them beats ignoring them.
UNSUPPORTED = (
    "CapacityProviderConfig",
    "DurableConfig",
    "TenancyConfig",
    "RuntimeConfig",
    "AcceleratorConfig",
    "CodeSigningConfigArn",
    "PublishTo",
)


def _vpc(value: Mapping[str, Any]) -> Mapping[str, Any] | None:
    subnets = list(value.get("SubnetIds", []))
    groups = list(value.get("SecurityGroupIds", []))
    if not subnets and not groups:
        return None
    return {
        "SubnetIds": subnets,
        "SecurityGroupIds": groups,
        "Ipv6AllowedForDualStack": bool(value.get("Ipv6AllowedForDualStack", False)),
    }


def _logging(value: Mapping[str, Any]) -> Mapping[str, Any]:
    document = dict(value)
    if document.get("LogFormat") == "JSON":
        document.setdefault("ApplicationLogLevel", "INFO")
        document.setdefault("SystemLogLevel", "INFO")
    return document


_SETTINGS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "Runtime": ("runtime", str),
    "Role": ("role", str),
    "Handler": ("handler", str),
    "Description": ("description", str),
    "Timeout": ("timeout", int),
    "MemorySize": ("memory_size", int),
    "Environment": ("environment", lambda v: dict(v.get("Variables", {}))),
    "KMSKeyArn": ("kms_key_arn", lambda v: v or None),
    "TracingConfig": ("tracing_mode", lambda v: v.get("Mode", "PassThrough")),
    "DeadLetterConfig": ("dead_letter_target", lambda v: v.get("TargetArn") or None),
    "VpcConfig": ("vpc_config", _vpc),
    "Layers": ("layers", lambda v: tuple(AttachedLayer(arn, 0) for arn in v)),
    "FileSystemConfigs": ("file_system_configs", lambda v: tuple(dict(c) for c in v)),
    "ImageConfig": ("image_config", dict),
    "EphemeralStorage": ("ephemeral_storage", lambda v: int(v["Size"])),
    "SnapStart": ("snap_start", lambda v: v.get("ApplyOn", "None")),
    "LoggingConfig": ("logging_config", _logging),
    "Architectures": ("architectures", tuple),
    "PackageType": ("package_type", str),
}


def settings_changes(params: Mapping[str, Any]) -> dict[str, Any]:
    """The `FunctionSettings` fields a CreateFunction/UpdateFunctionConfiguration sets."""
    for name in UNSUPPORTED:
        if name in params:
            raise InvalidParameterValue(f"gureum does not support {name} yet.")
    changes = {
        field: convert(params[member])
        for member, (field, convert) in _SETTINGS.items()
        if member in params
    }
    dead_letter = params.get("DeadLetterConfig")
    if dead_letter is not None and "TargetArn" not in dead_letter:
        # AWS leaves the dead-letter target in place for `DeadLetterConfig={}` (its recorded
        # response still names it: LocalStack's test_lambda_destinations.snapshot.json,
        # test_dead_letter_queue, delete_dlq); `{"TargetArn": ""}` is what removes it.
        del changes["dead_letter_target"]
    if "environment" in changes:  # new variables replace whatever could not be read
        changes["environment_error"] = None
        changes["environment_sealed"] = None
    return changes
