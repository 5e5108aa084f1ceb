"""PublishVersion, updates of `$LATEST` and the standard quotas (spec 1.3, 1.7, 11.1)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from gureum.aws.errors import AwsError, ValidationError
from gureum.lambda_.domain.errors import InvalidParameterValue, PreconditionFailed, ResourceConflict
from gureum.lambda_.domain.functions import (
    AttachedLayer,
    Code,
    Function,
    FunctionSettings,
    FunctionVersion,
    Publication,
    check_quotas,
    fail,
    fingerprint,
    finish_latest,
    publish,
    settle,
    update_latest,
)
from gureum.lambda_.domain.lifecycle import (
    CREATED,
    READY,
    UPDATING,
    IllegalTransition,
    Lifecycle,
    State,
    UpdateStatus,
)
from tests.support.model import CODE, NOW, ROLE, SETTINGS, a_function

LATER = NOW + timedelta(minutes=5)
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
OTHER_CODE = Code(sha256="Y29kZS0y", size=310, blob="blobs/2", unzipped_size=910)

REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)
PENDING_CONFLICT = (
    "The operation cannot be performed at this time. The resource "
    f"{FUNCTION_ARN} is currently in the following state: 'Pending'. StateReasonCode: 'Creating'"
)
UPDATE_CONFLICT = (
    "The operation cannot be performed at this time. An update is in progress for resource: "
    f"{FUNCTION_ARN}"
)


def publish_plain(
    function: Function,
    newest: FunctionVersion | None = None,
    *,
    description: str | None = None,
    code_sha256: str | None = None,
    revision_id: str | None = None,
    revisions: tuple[str, str] = ("rev-version", "rev-latest-2"),
    with_update: bool = False,
) -> Publication:
    return publish(
        function,
        newest,
        description=description,
        code_sha256=code_sha256,
        revision_id=revision_id,
        new_revisions=revisions,
        now=LATER,
        with_update=with_update,
    )


def settled(function: Function, revision: str = "rev-settled") -> Function:
    return replace(function, latest=settle(function.latest, revision))


# --- publish -----------------------------------------------------------------------------------


def test_first_publish_is_version_1() -> None:
    function = a_function()
    result = publish_plain(function)

    assert result.created is True
    version = result.version
    assert version.version == "1"
    assert version.number == 1
    assert version.settings == SETTINGS
    assert version.code == CODE
    assert version.revision_id == "rev-version"
    assert version.last_modified == LATER
    # A snapshot of a settled `$LATEST` is Active in the PublishVersion response (spec 1.3.7).
    assert version.lifecycle == READY
    assert version.source_fingerprint == fingerprint(function.latest)
    assert result.function.next_version == 2


def test_publish_moves_the_latest_revision_but_nothing_else_of_latest() -> None:
    function = a_function()
    moved = publish_plain(function, revisions=("rev-v1", "rev-latest-next")).function
    assert moved.latest.revision_id == "rev-latest-next"
    assert replace(moved.latest, revision_id="rev-latest") == function.latest


def test_unchanged_latest_returns_the_newest_version() -> None:
    first = publish_plain(a_function())
    again = publish_plain(first.function, first.version, revisions=("never", "never-either"))

    assert again.created is False
    assert again.version is first.version
    assert again.function is first.function  # no revision moves, no number is used up


def test_a_description_parameter_is_not_a_change() -> None:
    first = publish_plain(a_function(), description="first")
    again = publish_plain(first.function, first.version, description="second")

    assert again.created is False
    assert again.version.version == "1"
    assert again.version.settings.description == "first"


def test_a_description_change_on_latest_is_a_change() -> None:
    first = publish_plain(a_function())
    updated = update_latest(
        first.function,
        settings=replace(SETTINGS, description="new words"),
        revision_id=None,
        new_revision="rev-updated",
        now=LATER,
    )
    second = publish_plain(settled(updated), first.version)

    assert second.created is True
    assert second.version.version == "2"
    assert second.version.settings.description == "new words"
    assert second.function.next_version == 3


def test_a_code_change_on_latest_is_a_change() -> None:
    first = publish_plain(a_function())
    updated = update_latest(
        first.function, code=OTHER_CODE, revision_id=None, new_revision="r", now=LATER
    )
    second = publish_plain(settled(updated), first.version)

    assert second.created is True
    assert second.version.code == OTHER_CODE


@pytest.mark.parametrize(
    ("latest_description", "parameter", "expected"),
    [
        ("from latest", None, "from latest"),
        ("from latest", "from parameter", "from parameter"),
        ("from latest", "", ""),
    ],
)
def test_version_description(latest_description: str, parameter: str | None, expected: str) -> None:
    function = a_function(settings=replace(SETTINGS, description=latest_description))
    result = publish_plain(function, description=parameter)
    assert result.version.settings.description == expected
    assert result.function.latest.settings.description == latest_description


def test_version_numbers_are_never_reused() -> None:
    # Versions 1..4 were published and the newest was deleted: the next publish is 5.
    function = a_function(next_version=5)
    result = publish_plain(function, newest=None)
    assert result.version.version == "5"
    assert result.function.next_version == 6


def test_a_deleted_newest_version_means_publish_again() -> None:
    first = publish_plain(a_function())
    again = publish_plain(first.function, newest=None)
    assert again.created is True
    assert again.version.version == "2"


def test_numbers_only_go_up_across_many_publishes() -> None:
    function = a_function()
    newest: FunctionVersion | None = None
    numbers = []
    for index in range(5):
        function = update_latest(
            function,
            settings=replace(SETTINGS, timeout=10 + index),
            revision_id=None,
            new_revision=f"u{index}",
            now=LATER,
        )
        function = settled(function, f"s{index}")
        result = publish_plain(function, newest)
        function, newest = result.function, result.version
        numbers.append(result.version.number)
    assert numbers == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("revision_id", [None, "rev-latest"])
def test_matching_or_absent_revision_id_publishes(revision_id: str | None) -> None:
    assert publish_plain(a_function(), revision_id=revision_id).created


def test_revision_id_mismatch() -> None:
    with pytest.raises(PreconditionFailed) as caught:
        publish_plain(a_function(), revision_id="stale")
    assert caught.value.message == REVISION_MISMATCH
    assert caught.value.status == 412
    assert caught.value.code == "PreconditionFailedException"


def test_code_sha256_mismatch() -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        publish_plain(a_function(), code_sha256="somenonexistentsha256")
    assert caught.value.message == (
        "CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in $LATEST "
        f"({CODE.sha256}). Please try again with the CodeSHA256 in $LATEST."
    )
    assert caught.value.status == 400


def test_matching_code_sha256_publishes() -> None:
    assert publish_plain(a_function(), code_sha256=CODE.sha256).created


@pytest.mark.parametrize(
    ("lifecycle", "message"),
    [
        pytest.param(CREATED, PENDING_CONFLICT, id="pending"),
        pytest.param(UPDATING, UPDATE_CONFLICT, id="update-in-progress"),
    ],
)
def test_publish_refused_while_preparing(lifecycle: Lifecycle, message: str) -> None:
    with pytest.raises(ResourceConflict) as caught:
        publish_plain(a_function(lifecycle=lifecycle))
    assert caught.value.message == message
    assert caught.value.status == 409


@pytest.mark.parametrize("lifecycle", [CREATED, UPDATING], ids=["pending", "in-progress"])
def test_publish_with_an_update_is_allowed_while_preparing(lifecycle: Lifecycle) -> None:
    result = publish_plain(a_function(lifecycle=lifecycle), with_update=True)
    assert result.created is True
    assert result.version.version == "1"
    # Its code is still being prepared: Pending, as UpdateFunctionCode(Publish) answers (spec 1.3).
    assert result.version.lifecycle == CREATED


FAILED_UPDATE = Lifecycle(State.ACTIVE, UpdateStatus.FAILED, "x", "Y")


@pytest.mark.parametrize(
    ("latest", "with_update", "born"),
    [
        pytest.param(READY, False, READY, id="settled-is-active-at-once"),
        pytest.param(FAILED_UPDATE, False, CREATED, id="after-a-failed-update-is-prepared"),
        pytest.param(CREATED, True, CREATED, id="create-with-publish"),
        pytest.param(UPDATING, True, CREATED, id="update-code-with-publish"),
    ],
)
def test_the_published_version_is_born_from_latest(
    latest: Lifecycle, with_update: bool, born: Lifecycle
) -> None:
    # Spec 1.3 item 7: only a version with something left to prepare is Pending.
    result = publish_plain(a_function(lifecycle=latest), with_update=with_update)
    assert result.version.lifecycle == born
    assert result.version.revision_id == "rev-version"
    assert result.function.latest.lifecycle == latest  # publishing moves only its revision


def test_publish_allowed_after_a_failed_update() -> None:
    function = a_function(lifecycle=Lifecycle(State.ACTIVE, UpdateStatus.FAILED, "x", "Y"))
    assert publish_plain(function).created


def test_a_failed_function_cannot_publish() -> None:
    function = a_function(lifecycle=Lifecycle(State.FAILED, None, "no", "InvalidSubnet"))
    with pytest.raises(ResourceConflict) as caught:
        publish_plain(function)
    assert caught.value.message == (
        "The operation cannot be performed at this time. The resource "
        f"{FUNCTION_ARN} is currently in the following state: 'Failed'. "
        "StateReasonCode: 'InvalidSubnet'"
    )


# --- update_latest -----------------------------------------------------------------------------


def test_update_latest_starts_an_update() -> None:
    function = a_function()
    new_settings = replace(SETTINGS, memory_size=512)
    updated = update_latest(
        function, settings=new_settings, revision_id="rev-latest", new_revision="r2", now=LATER
    )
    latest = updated.latest
    assert latest.settings == new_settings
    assert latest.code == CODE
    assert latest.revision_id == "r2"
    assert latest.last_modified == LATER
    assert latest.lifecycle == UPDATING
    assert latest.lifecycle.update is UpdateStatus.IN_PROGRESS
    assert latest.lifecycle.reason == "The function is being created."
    assert latest.lifecycle.reason_code == "Creating"
    assert updated.next_version == function.next_version


def test_update_latest_code_only_keeps_settings() -> None:
    updated = update_latest(
        a_function(), code=OTHER_CODE, revision_id=None, new_revision="r2", now=LATER
    )
    assert updated.latest.code == OTHER_CODE
    assert updated.latest.settings == SETTINGS


def test_update_after_a_failed_update_is_allowed() -> None:
    function = a_function(lifecycle=Lifecycle(State.ACTIVE, UpdateStatus.FAILED, "x", "Y"))
    updated = update_latest(function, code=OTHER_CODE, revision_id=None, new_revision="r", now=NOW)
    assert updated.latest.lifecycle == UPDATING


@pytest.mark.parametrize(
    ("lifecycle", "message"),
    [
        pytest.param(CREATED, PENDING_CONFLICT, id="pending"),
        pytest.param(UPDATING, UPDATE_CONFLICT, id="in-progress"),
    ],
)
def test_update_latest_refused_while_preparing(lifecycle: Lifecycle, message: str) -> None:
    with pytest.raises(ResourceConflict) as caught:
        update_latest(
            a_function(lifecycle=lifecycle),
            code=OTHER_CODE,
            revision_id=None,
            new_revision="r",
            now=NOW,
        )
    assert caught.value.message == message


def test_update_latest_revision_mismatch() -> None:
    with pytest.raises(PreconditionFailed) as caught:
        update_latest(a_function(), code=OTHER_CODE, revision_id="stale", new_revision="r", now=NOW)
    assert caught.value.message == REVISION_MISMATCH


# --- what invocations of $LATEST run (spec 11.1) ------------------------------------------------


def update_code(function: Function, revision: str = "r-update") -> Function:
    return update_latest(
        function, code=OTHER_CODE, revision_id=None, new_revision=revision, now=LATER
    )


def test_a_settled_function_serves_its_latest() -> None:
    function = a_function()
    assert function.previous is None
    assert function.serving is function.latest


def test_an_update_keeps_serving_the_settled_latest() -> None:
    function = a_function()
    updated = update_code(function)
    assert updated.latest.code == OTHER_CODE
    assert updated.previous is function.latest
    assert updated.serving is function.latest


def test_a_successful_update_serves_the_new_latest() -> None:
    updated = update_code(a_function())
    finished = finish_latest(updated, settle(updated.latest, "r-settled"))
    assert finished.previous is None
    assert finished.serving.code == OTHER_CODE
    assert finished.serving.revision_id == "r-settled"


def test_a_failed_update_keeps_serving_the_previous_latest() -> None:
    function = a_function()
    updated = update_code(function)
    failed = finish_latest(updated, fail(updated.latest, "no", "InvalidZipFileException", "r-f"))
    assert failed.latest.lifecycle.update is UpdateStatus.FAILED
    assert failed.serving is function.latest


def test_an_update_after_a_failed_one_still_serves_the_last_successful_latest() -> None:
    function = a_function()
    updated = update_code(function)
    failed = finish_latest(updated, fail(updated.latest, "no", "InvalidZipFileException", "r-f"))
    again = update_latest(
        failed,
        settings=replace(SETTINGS, timeout=9),
        revision_id=None,
        new_revision="r-again",
        now=LATER,
    )
    assert again.latest.lifecycle == UPDATING
    assert again.serving is function.latest
    settled_again = finish_latest(again, settle(again.latest, "r-ok"))
    assert settled_again.serving.settings.timeout == 9
    assert settled_again.previous is None


def test_publishing_during_an_update_keeps_serving_the_previous_latest() -> None:
    function = a_function()
    updated = update_code(function)
    result = publish_plain(updated, with_update=True)
    assert result.function.serving is function.latest


def test_finishing_a_created_latest_serves_it_or_nothing() -> None:
    created = a_function(lifecycle=CREATED)
    assert finish_latest(created, settle(created.latest, "r")).serving.lifecycle == READY
    failed = finish_latest(created, fail(created.latest, "bad", "InvalidRuntime", "r"))
    assert failed.serving.lifecycle.state is State.FAILED  # which invoke refuses with 409


# --- settle and fail ---------------------------------------------------------------------------


def a_version(lifecycle: Lifecycle) -> FunctionVersion:
    return FunctionVersion("3", SETTINGS, CODE, "rev-3", NOW, lifecycle)


@pytest.mark.parametrize("lifecycle", [CREATED, UPDATING], ids=["pending", "in-progress"])
def test_settle(lifecycle: Lifecycle) -> None:
    settled_version = settle(a_version(lifecycle), "rev-3b")
    assert settled_version.lifecycle == READY
    assert settled_version.lifecycle.state is State.ACTIVE
    assert settled_version.lifecycle.update is UpdateStatus.SUCCESSFUL
    assert settled_version.lifecycle.reason is None
    assert settled_version.revision_id == "rev-3b"
    assert replace(settled_version, lifecycle=lifecycle, revision_id="rev-3") == a_version(
        lifecycle
    )


@pytest.mark.parametrize(
    ("lifecycle", "expected"),
    [
        (CREATED, Lifecycle(State.FAILED, None, "Bad subnet", "InvalidSubnet")),
        (UPDATING, Lifecycle(State.ACTIVE, UpdateStatus.FAILED, "Bad subnet", "InvalidSubnet")),
    ],
    ids=["pending", "in-progress"],
)
def test_fail(lifecycle: Lifecycle, expected: Lifecycle) -> None:
    failed = fail(a_version(lifecycle), "Bad subnet", "InvalidSubnet", "rev-3c")
    assert failed.lifecycle == expected
    assert failed.revision_id == "rev-3c"


def test_settling_a_settled_version_is_a_bug() -> None:
    with pytest.raises(IllegalTransition):
        settle(a_version(READY), "r")


def test_failing_a_settled_version_is_a_bug() -> None:
    with pytest.raises(IllegalTransition):
        fail(a_version(READY), "reason", "Code", "r")


# --- quotas ------------------------------------------------------------------------------------


def at_most(value: int, path: str, limit: int) -> str:
    return (
        f"Value '{value}' at '{path}' failed to satisfy constraint: "
        f"Member must have value less than or equal to {limit}"
    )


@pytest.mark.parametrize(
    "settings",
    [
        SETTINGS,
        replace(SETTINGS, timeout=900, memory_size=10240, ephemeral_storage=10240),
        replace(SETTINGS, timeout=1, memory_size=128, ephemeral_storage=512),
    ],
    ids=["defaults", "at-the-limits", "minimums"],
)
def test_within_quotas(settings: FunctionSettings) -> None:
    check_quotas(settings)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"timeout": 901},
            "1 validation error detected: " + at_most(901, "timeout", 900),
            id="timeout",
        ),
        pytest.param(
            {"memory_size": 10241},
            "1 validation error detected: " + at_most(10241, "memorySize", 10240),
            id="memory",
        ),
        pytest.param(
            {"ephemeral_storage": 10241},
            "1 validation error detected: " + at_most(10241, "ephemeralStorage.size", 10240),
            id="ephemeral-storage",
        ),
        pytest.param(
            {"timeout": 5400, "memory_size": 32768},
            "2 validation errors detected: "
            + at_most(5400, "timeout", 900)
            + "; "
            + at_most(32768, "memorySize", 10240),
            id="two",
        ),
        pytest.param(
            {"timeout": 901, "memory_size": 10241, "ephemeral_storage": 10241},
            "3 validation errors detected: "
            + "; ".join(
                [
                    at_most(901, "timeout", 900),
                    at_most(10241, "memorySize", 10240),
                    at_most(10241, "ephemeralStorage.size", 10240),
                ]
            ),
            id="three",
        ),
    ],
)
def test_over_quota(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_quotas(replace(SETTINGS, **changes))
    error: AwsError = caught.value
    assert error.message == message
    assert error.code == "ValidationException"
    assert error.status == 400


# --- fingerprint -------------------------------------------------------------------------------


def latest_with(**changes: Any) -> FunctionVersion:
    return replace(a_function().latest, **changes)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"revision_id": "another"}, id="revision"),
        pytest.param({"last_modified": LATER}, id="last-modified"),
        pytest.param({"lifecycle": UPDATING}, id="lifecycle"),
        pytest.param({"version": "7"}, id="version-label"),
        pytest.param({"code": replace(CODE, blob="blobs/copy")}, id="same-sha-other-blob"),
        pytest.param({"source_fingerprint": "abc"}, id="source-fingerprint"),
    ],
)
def test_fingerprint_ignores(changes: dict[str, Any]) -> None:
    assert fingerprint(latest_with(**changes)) == fingerprint(a_function().latest)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"code": OTHER_CODE}, id="code"),
        pytest.param({"settings": replace(SETTINGS, description="d")}, id="description"),
        pytest.param({"settings": replace(SETTINGS, timeout=4)}, id="timeout"),
        pytest.param({"settings": replace(SETTINGS, environment={"A": "1"})}, id="environment"),
        pytest.param({"settings": replace(SETTINGS, handler="app.main")}, id="handler"),
        pytest.param(
            {"settings": replace(SETTINGS, layers=(AttachedLayer("arn:l:1", 5),))}, id="layers"
        ),
    ],
)
def test_fingerprint_sees(changes: dict[str, Any]) -> None:
    assert fingerprint(latest_with(**changes)) != fingerprint(a_function().latest)


def test_fingerprint_is_a_sha256_hex() -> None:
    value = fingerprint(a_function().latest)
    assert len(value) == 64
    int(value, 16)


# --- FunctionSettings storage form ---------------------------------------------------------------

FULL_SETTINGS = FunctionSettings(
    role=ROLE,
    runtime="nodejs20.x",
    handler="index.handler",
    description="everything set",
    timeout=30,
    memory_size=1024,
    environment={"STAGE": "prod", "DEBUG": "0"},
    kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/1234",
    layers=(
        AttachedLayer("arn:aws:lambda:us-east-1:123456789012:layer:a:1", 100, 300),
        AttachedLayer("arn:aws:lambda:us-east-1:123456789012:layer:b:2", 200),
    ),
    architectures=("arm64",),
    ephemeral_storage=2048,
    package_type="Zip",
    tracing_mode="Active",
    dead_letter_target="arn:aws:sqs:us-east-1:123456789012:dlq",
    vpc_config={"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
    file_system_configs=(
        {
            "Arn": "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-1",
            "LocalMountPath": "/mnt/efs",
        },
    ),
    image_config=None,
    logging_config={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"},
    snap_start="None",
)


@pytest.mark.parametrize("settings", [SETTINGS, FULL_SETTINGS], ids=["minimal", "full"])
def test_settings_round_trip(settings: FunctionSettings) -> None:
    assert FunctionSettings.from_json(settings.to_json()) == settings


@pytest.mark.parametrize("settings", [SETTINGS, FULL_SETTINGS], ids=["minimal", "full"])
def test_settings_round_trip_through_json_text(settings: FunctionSettings) -> None:
    stored = json.dumps(settings.to_json())
    restored = FunctionSettings.from_json(json.loads(stored))
    assert restored == settings
    assert isinstance(restored.layers, tuple)
    assert isinstance(restored.architectures, tuple)
    assert isinstance(restored.file_system_configs, tuple)


def test_settings_from_json_defaults() -> None:
    assert FunctionSettings.from_json({"role": ROLE}) == FunctionSettings(role=ROLE)
