"""Domain values to JSON documents and back, for stores that keep documents (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from gureum.lambda_.domain.aliases import Alias
from gureum.lambda_.domain.functions import Code, Function, FunctionSettings, FunctionVersion
from gureum.lambda_.domain.layers import LayerVersion
from gureum.lambda_.domain.lifecycle import Lifecycle, State, UpdateStatus
from gureum.lambda_.store.ports import EnvironmentVault


def dump(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def code_document(code: Code) -> dict[str, Any]:
    """Exactly the persisted fields (a service's subclass may carry more, such as the bytes)."""
    return {
        "sha256": code.sha256,
        "size": code.size,
        "blob": code.blob,
        "unzipped_size": code.unzipped_size,
    }


def settings_document(
    settings: FunctionSettings, vault: EnvironmentVault, account: str, region: str
) -> dict[str, Any]:
    """The stored form of settings: environment variables sealed, never in the clear."""
    document = settings.to_json()
    variables = document.pop("environment")
    if variables is not None:
        document["environment_sealed"] = vault.seal(
            account, region, settings.kms_key_arn, variables
        )
    elif settings.environment_sealed is not None:
        # Unreadable now (the key is disabled, say): keep what was stored, as it was.
        document["environment_sealed"] = dict(settings.environment_sealed)
    return document


def settings_from(
    document: dict[str, Any], vault: EnvironmentVault, account: str, region: str
) -> FunctionSettings:
    values = dict(document)
    sealed = values.pop("environment_sealed", None)
    settings = FunctionSettings.from_json(values)
    if sealed is None:
        return settings
    variables, error = vault.open(account, region, sealed)
    return replace(
        settings, environment=variables, environment_error=error, environment_sealed=sealed
    )


def version_document(
    version: FunctionVersion, vault: EnvironmentVault, account: str, region: str
) -> dict[str, Any]:
    lifecycle = version.lifecycle
    return {
        "version": version.version,
        "settings": settings_document(version.settings, vault, account, region),
        "code": code_document(version.code),
        "revision_id": version.revision_id,
        "last_modified": version.last_modified.isoformat(),
        "lifecycle": [lifecycle.state, lifecycle.update, lifecycle.reason, lifecycle.reason_code],
        "source_fingerprint": version.source_fingerprint,
    }


def version_from(
    document: dict[str, Any], vault: EnvironmentVault, account: str, region: str
) -> FunctionVersion:
    state, update, reason, code = document["lifecycle"]
    return FunctionVersion(
        version=document["version"],
        settings=settings_from(document["settings"], vault, account, region),
        code=Code(**document["code"]),
        revision_id=document["revision_id"],
        last_modified=datetime.fromisoformat(document["last_modified"]),
        lifecycle=Lifecycle(State(state), UpdateStatus(update) if update else None, reason, code),
        source_fingerprint=document["source_fingerprint"],
    )


def function_document(function: Function) -> dict[str, Any]:
    return {
        "next_version": function.next_version,
        "tags": dict(function.tags),
        "reserved_concurrency": function.reserved_concurrency,
        "recursive_loop": function.recursive_loop,
    }


def function_from(
    row_id: str,
    account: str,
    region: str,
    name: str,
    document: dict[str, Any],
    latest: Any,
    previous: Any,
    vault: EnvironmentVault,
) -> Function:
    """`previous` is the stored `$LATEST` still run during an update (`Function.previous`)."""
    return Function(
        id=row_id,
        account=account,
        region=region,
        name=name,
        latest=version_from(latest, vault, account, region),
        next_version=document["next_version"],
        tags=document["tags"],
        reserved_concurrency=document["reserved_concurrency"],
        recursive_loop=document.get("recursive_loop", "Terminate"),
        previous=None if previous is None else version_from(previous, vault, account, region),
    )


def alias_document(alias: Alias) -> dict[str, Any]:
    return {
        "function_version": alias.function_version,
        "revision_id": alias.revision_id,
        "description": alias.description,
        "weights": dict(alias.weights),
    }


def alias_from(name: str, document: dict[str, Any]) -> Alias:
    return Alias(name=name, **document)


def layer_document(layer: LayerVersion) -> dict[str, Any]:
    return {
        "code": code_document(layer.code),
        "created": layer.created.isoformat(),
        "description": layer.description,
        "compatible_runtimes": list(layer.compatible_runtimes),
        "compatible_architectures": list(layer.compatible_architectures),
        "license_info": layer.license_info,
    }


def layer_from(
    account: str, region: str, name: str, version: int, document: dict[str, Any]
) -> LayerVersion:
    return LayerVersion(
        account=account,
        region=region,
        name=name,
        version=version,
        code=Code(**document["code"]),
        created=datetime.fromisoformat(document["created"]),
        description=document["description"],
        compatible_runtimes=tuple(document["compatible_runtimes"]),
        compatible_architectures=tuple(document["compatible_architectures"]),
        license_info=document["license_info"],
    )
