"""Functions, their version-specific settings, and publishing (spec 1).

`$LATEST` is the one mutable version; `publish` freezes it into version N. What a version freezes
is exactly `FunctionSettings` plus its `Code` (spec 1.2); tags, reserved concurrency and aliases
belong to the `Function`. Everything here is pure: revision ids and timestamps come in as
arguments.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from gureum.aws.errors import ValidationError
from gureum.lambda_.domain.arns import LATEST, function_arn
from gureum.lambda_.domain.errors import InvalidParameterValue, PreconditionFailed
from gureum.lambda_.domain.lifecycle import (
    CREATED,
    Event,
    Lifecycle,
    UpdateStatus,
    ensure_mutable,
    published,
    transition,
)
from gureum.lambda_.domain.snap_start import PUBLISHED_VERSIONS

JsonObject = Mapping[str, Any]

REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)


@dataclass(frozen=True, slots=True)
class Code:
    """A deployment package: Lambda's base64 SHA-256, its size, and the blob that holds it."""

    sha256: str
    size: int
    blob: str
    unzipped_size: int = 0


@dataclass(frozen=True, slots=True)
class AttachedLayer:
    """A layer version as a function version holds it: its archive stays while referenced."""

    arn: str
    code_size: int
    unzipped_size: int = 0
    blob: str = ""


@dataclass(frozen=True, slots=True)
class FunctionSettings:
    """Everything PublishVersion freezes besides the code (spec 1.2, left column)."""

    role: str
    runtime: str | None = None
    handler: str | None = None
    description: str = ""
    timeout: int = 3
    memory_size: int = 128
    environment: Mapping[str, str] | None = None
    kms_key_arn: str | None = None
    layers: tuple[AttachedLayer, ...] = ()
    architectures: tuple[str, ...] = ("x86_64",)
    ephemeral_storage: int = 512
    package_type: str = "Zip"
    tracing_mode: str = "PassThrough"
    dead_letter_target: str | None = None
    vpc_config: JsonObject | None = None
    file_system_configs: tuple[JsonObject, ...] = ()
    image_config: JsonObject | None = None
    logging_config: JsonObject = field(default_factory=dict)
    snap_start: str = "None"
    # Set instead of `environment` when the stored variables could not be decrypted (the key is
    # disabled, pending deletion or gone): (ErrorCode, Message), as FunctionConfiguration shows.
    environment_error: tuple[str, str] | None = None
    # The variables as stored (sealed), kept so a change made while the key cannot decrypt
    # stores them unchanged instead of losing them.
    environment_sealed: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        del document["environment_error"]
        del document["environment_sealed"]
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FunctionSettings:
        values = dict(data)
        values.pop("environment_error", None)
        values.pop("environment_sealed", None)
        values["layers"] = tuple(AttachedLayer(**layer) for layer in values.get("layers", ()))
        values["architectures"] = tuple(values.get("architectures", ("x86_64",)))
        values["file_system_configs"] = tuple(values.get("file_system_configs", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class FunctionVersion:
    """`$LATEST` or a published, immutable version N."""

    version: str
    settings: FunctionSettings
    code: Code
    revision_id: str
    last_modified: datetime
    lifecycle: Lifecycle = CREATED
    # For a published version: the fingerprint of `$LATEST` it was made from (publish idempotency).
    source_fingerprint: str | None = None

    @property
    def number(self) -> int:
        return 0 if self.version == LATEST else int(self.version)


@dataclass(frozen=True, slots=True)
class Function:
    """The function-level record: identity, `$LATEST`, and what is not version-specific."""

    id: str
    account: str
    region: str
    name: str
    latest: FunctionVersion
    next_version: int = 1
    tags: Mapping[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    # PutFunctionRecursionConfig: `Terminate` (AWS's default) or `Allow` (domain.recursion).
    recursive_loop: str = "Terminate"
    # While an update of `$LATEST` is in progress, or after it failed, the last `$LATEST` that
    # settled successfully: what invocations of `$LATEST` still run (spec 11.1). None when they
    # run `latest` itself.
    previous: FunctionVersion | None = None

    @property
    def serving(self) -> FunctionVersion:
        """The `$LATEST` that an invocation runs now (spec 11.1)."""
        return self.latest if self.previous is None else self.previous

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.account, self.name)

    def version_arn(self, qualifier: str) -> str:
        return function_arn(self.region, self.account, self.name, qualifier)


def fingerprint(version: FunctionVersion) -> str:
    """What makes two `$LATEST` states the same for PublishVersion: settings and code."""
    document = json.dumps(
        [version.settings.to_json(), version.code.sha256], sort_keys=True, default=str
    )
    return hashlib.sha256(document.encode()).hexdigest()


def check_revision(expected: str | None, actual: str) -> None:
    if expected is not None and expected != actual:
        raise PreconditionFailed(REVISION_MISMATCH)


def update_latest(
    function: Function,
    *,
    settings: FunctionSettings | None = None,
    code: Code | None = None,
    revision_id: str | None,
    new_revision: str,
    now: datetime,
) -> Function:
    """UpdateFunctionConfiguration / UpdateFunctionCode on `$LATEST` (spec 11.1).

    Invocations keep running the last successfully settled `$LATEST` until this update settles;
    after a failed update, that is still the one from before it.
    """
    latest = function.latest
    ensure_mutable(latest.lifecycle, function.arn)
    check_revision(revision_id, latest.revision_id)
    succeeded = latest.lifecycle.update is UpdateStatus.SUCCESSFUL
    updated = replace(
        latest,
        settings=settings or latest.settings,
        code=code or latest.code,
        revision_id=new_revision,
        last_modified=now,
        lifecycle=transition(latest.lifecycle, Event.UPDATE),
    )
    return replace(function, latest=updated, previous=latest if succeeded else function.previous)


@dataclass(frozen=True, slots=True)
class Publication:
    function: Function
    version: FunctionVersion
    created: bool


def publish(
    function: Function,
    newest: FunctionVersion | None,
    *,
    description: str | None,
    code_sha256: str | None,
    revision_id: str | None,
    new_revisions: tuple[str, str],
    now: datetime,
    with_update: bool = False,
) -> Publication:
    """PublishVersion (spec 1.3): preconditions, then a new snapshot unless nothing changed.

    `newest` is the most recently published version if it still exists. `new_revisions` are the
    revision ids for the new version and for `$LATEST`, whose revision moves on publish.
    `with_update` is CreateFunction/UpdateFunctionCode with `Publish`: the snapshot is taken of
    the change being made, so `$LATEST` is legitimately still being prepared. The new version's
    lifecycle follows `$LATEST`'s (`lifecycle.published`): Active at once unless something is
    left to prepare.
    """
    latest = function.latest
    if not with_update:
        ensure_mutable(latest.lifecycle, function.arn)
    check_revision(revision_id, latest.revision_id)
    if code_sha256 is not None and code_sha256 != latest.code.sha256:
        raise InvalidParameterValue(
            f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
            f"({latest.code.sha256}). Please try again with the CodeSHA256 in $LATEST."
        )
    source = fingerprint(latest)
    if newest is not None and newest.source_fingerprint == source:
        return Publication(function, newest, created=False)
    settings = latest.settings
    if description is not None:
        settings = replace(settings, description=description)
    version = FunctionVersion(
        version=str(function.next_version),
        settings=settings,
        code=latest.code,
        revision_id=new_revisions[0],
        last_modified=now,
        # A SnapStart version waits for its snapshot (the settler asks for it): Pending.
        lifecycle=(
            CREATED if settings.snap_start == PUBLISHED_VERSIONS else published(latest.lifecycle)
        ),
        source_fingerprint=source,
    )
    moved = replace(
        function,
        next_version=function.next_version + 1,
        latest=replace(latest, revision_id=new_revisions[1]),
    )
    return Publication(moved, version, created=True)


def settle(version: FunctionVersion, new_revision: str) -> FunctionVersion:
    """The platform finished preparing a version: Pending -> Active, InProgress -> Successful."""
    return replace(
        version,
        lifecycle=transition(version.lifecycle, Event.SETTLE),
        revision_id=new_revision,
    )


def fail(version: FunctionVersion, reason: str, code: str, new_revision: str) -> FunctionVersion:
    return replace(
        version,
        lifecycle=transition(version.lifecycle, Event.FAIL, reason, code),
        revision_id=new_revision,
    )


def finish_latest(function: Function, finished: FunctionVersion) -> Function:
    """`function` once `settle` or `fail` moved its `$LATEST` to `finished` (spec 11.1).

    A successful update is what invocations run from now on; after a failed one they keep
    running the previous `$LATEST`.
    """
    succeeded = finished.lifecycle.update is UpdateStatus.SUCCESSFUL
    return replace(function, latest=finished, previous=None if succeeded else function.previous)


# The standard quotas (spec 1.7): the model now allows more for managed-instance functions,
# which gureum does not have.
QUOTAS = (("timeout", "timeout", 900), ("memory_size", "memorySize", 10240))


def check_quotas(settings: FunctionSettings) -> None:
    problems = [
        f"Value '{getattr(settings, field)}' at '{path}' failed to satisfy constraint: "
        f"Member must have value less than or equal to {limit}"
        for field, path, limit in QUOTAS
        if getattr(settings, field) > limit
    ]
    if settings.ephemeral_storage > 10240:
        problems.append(
            f"Value '{settings.ephemeral_storage}' at 'ephemeralStorage.size' failed to satisfy "
            "constraint: Member must have value less than or equal to 10240"
        )
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise ValidationError(f"{count} validation {noun} detected: " + "; ".join(problems))


# A function carries at most 50 tags, whether they come with CreateFunction or TagResource (AWS's
# message, recorded for both: LocalStack's test_lambda_api.snapshot.json, test_tag_limits).
MAX_TAGS = 50


def check_tag_count(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise InvalidParameterValue("Number of tags exceeds resource tag limit.")
