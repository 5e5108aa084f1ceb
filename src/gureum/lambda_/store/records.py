"""Domain values to JSON documents and back, for stores that keep documents (SQLite, PostgreSQL),
and for the cluster's hop, which carries a front door's target to an agent in the same form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from gureum.lambda_.domain.aliases import Alias
from gureum.lambda_.domain.functions import Code, Function, FunctionSettings, FunctionVersion
from gureum.lambda_.domain.layers import LayerVersion
from gureum.lambda_.domain.lifecycle import Lifecycle, State, UpdateStatus
from gureum.lambda_.store.ports import EnvironmentVault, NeedsWorker


class _NoVaultOnLoop:
    """The vault of reads on the event loop: opening sealed variables asks KMS, which is a
    worker thread's job."""

    generation = 0

    def seal(
        self, account: str, region: str, key_arn: str | None, variables: Mapping[str, str]
    ) -> dict[str, str]:
        raise NeedsWorker

    def open(
        self, account: str, region: str, sealed: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, tuple[str, str] | None]:
        raise NeedsWorker


SEALED_ON_LOOP = _NoVaultOnLoop()


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


def target_document(function: Function, version: FunctionVersion) -> dict[str, Any] | None:
    """A function and the version of it to run, as documents another process can read without
    the store (the cluster's hop): variables stay sealed, as stored, so making it asks no KMS
    and the wire carries none in the clear. None for a version whose variables have no sealed
    form (one never read from a store). `previous` is left out: the version is chosen."""
    latest = _sealed_document(function.latest)
    if latest is None:
        return None
    chosen = None  # the version is latest
    if version is not function.latest:
        chosen = _sealed_document(version)
        if chosen is None:
            return None
    return {
        "id": function.id,
        "account": function.account,
        "region": function.region,
        "name": function.name,
        "function": function_document(function),
        "latest": latest,
        "version": chosen,
    }


def target_from(document: dict[str, Any]) -> tuple[Function, FunctionVersion]:
    """`target_document` read back; raises NeedsWorker for sealed variables (opening them asks
    KMS), and KeyError, TypeError or ValueError for a document that is not one."""
    account, region = str(document["account"]), str(document["region"])
    function = function_from(
        str(document["id"]),
        account,
        region,
        str(document["name"]),
        document["function"],
        document["latest"],
        None,
        SEALED_ON_LOOP,
    )
    chosen = document["version"]
    if chosen is None:
        return function, function.latest
    return function, version_from(chosen, SEALED_ON_LOOP, account, region)


def _sealed_document(version: FunctionVersion) -> dict[str, Any] | None:
    settings = version.settings
    if settings.environment is not None and settings.environment_sealed is None:
        return None
    # Without the clear variables, the settings' document keeps the sealed form as it is.
    unsealed = replace(version, settings=replace(settings, environment=None))
    return version_document(unsealed, SEALED_ON_LOOP, "", "")
