"""The version lifecycle as a state machine: every move in the table, and no other (spec 11)."""

from __future__ import annotations

import itertools

import pytest

from gureum.lambda_.domain.errors import ResourceConflict
from gureum.lambda_.domain.lifecycle import (
    CREATED,
    READY,
    UPDATING,
    Event,
    IllegalTransition,
    Lifecycle,
    State,
    UpdateStatus,
    ensure_mutable,
    published,
    transition,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
CREATING = "The function is being created."

# (state, update status, event) -> (state, update status) after the move
LEGAL: dict[tuple[State, UpdateStatus | None, Event], tuple[State, UpdateStatus | None]] = {
    (State.PENDING, None, Event.SETTLE): (State.ACTIVE, UpdateStatus.SUCCESSFUL),
    (State.PENDING, None, Event.FAIL): (State.FAILED, None),
    (State.ACTIVE, UpdateStatus.SUCCESSFUL, Event.UPDATE): (State.ACTIVE, UpdateStatus.IN_PROGRESS),
    (State.ACTIVE, UpdateStatus.FAILED, Event.UPDATE): (State.ACTIVE, UpdateStatus.IN_PROGRESS),
    (State.ACTIVE, UpdateStatus.IN_PROGRESS, Event.SETTLE): (
        State.ACTIVE,
        UpdateStatus.SUCCESSFUL,
    ),
    (State.ACTIVE, UpdateStatus.IN_PROGRESS, Event.FAIL): (State.ACTIVE, UpdateStatus.FAILED),
}

ILLEGAL = [
    key for key in itertools.product(State, [None, *UpdateStatus], Event) if key not in LEGAL
]


@pytest.mark.parametrize(
    ("named", "expected"),
    [
        pytest.param(CREATED, Lifecycle(State.PENDING, None, CREATING, "Creating"), id="created"),
        pytest.param(READY, Lifecycle(State.ACTIVE, UpdateStatus.SUCCESSFUL), id="ready"),
        pytest.param(
            UPDATING,
            Lifecycle(State.ACTIVE, UpdateStatus.IN_PROGRESS, CREATING, "Creating"),
            id="updating",
        ),
    ],
)
def test_named_lifecycles(named: Lifecycle, expected: Lifecycle) -> None:
    assert named == expected


@pytest.mark.parametrize(("key", "target"), list(LEGAL.items()), ids=str)
def test_legal_transition(
    key: tuple[State, UpdateStatus | None, Event], target: tuple[State, UpdateStatus | None]
) -> None:
    state, update, event = key
    after = transition(Lifecycle(state, update, "old reason", "OldCode"), event, "why", "Why")
    assert (after.state, after.update) == target


@pytest.mark.parametrize(
    ("current", "event", "expected"),
    [
        pytest.param(CREATED, Event.SETTLE, READY, id="created-settles"),
        pytest.param(UPDATING, Event.SETTLE, READY, id="update-settles"),
        pytest.param(READY, Event.UPDATE, UPDATING, id="ready-updates"),
        pytest.param(
            Lifecycle(State.ACTIVE, UpdateStatus.FAILED, "broke", "InternalError"),
            Event.UPDATE,
            UPDATING,
            id="failed-update-updates-again",
        ),
    ],
)
def test_transition_targets_reset_reasons(
    current: Lifecycle, event: Event, expected: Lifecycle
) -> None:
    assert transition(current, event) == expected


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        pytest.param(
            CREATED,
            Lifecycle(State.FAILED, None, "No IPs", "SubnetOutOfIPAddresses"),
            id="creation-fails",
        ),
        pytest.param(
            UPDATING,
            Lifecycle(State.ACTIVE, UpdateStatus.FAILED, "No IPs", "SubnetOutOfIPAddresses"),
            id="update-fails",
        ),
    ],
)
def test_fail_carries_reason(current: Lifecycle, expected: Lifecycle) -> None:
    assert transition(current, Event.FAIL, "No IPs", "SubnetOutOfIPAddresses") == expected


@pytest.mark.parametrize("key", ILLEGAL, ids=str)
def test_illegal_transition(key: tuple[State, UpdateStatus | None, Event]) -> None:
    state, update, event = key
    with pytest.raises(IllegalTransition):
        transition(Lifecycle(state, update), event)


def test_the_table_has_illegal_moves_to_check() -> None:
    # 4 states x 4 update statuses x 3 events, 6 of them legal.
    assert len(ILLEGAL) == 4 * 4 * 3 - 6


@pytest.mark.parametrize(
    ("lifecycle", "settled"),
    [
        (CREATED, False),
        (UPDATING, False),
        (READY, True),
        (Lifecycle(State.ACTIVE, UpdateStatus.FAILED), True),
        (Lifecycle(State.FAILED), True),
        (Lifecycle(State.INACTIVE, None, None, "Idle"), True),
    ],
)
def test_settled(lifecycle: Lifecycle, settled: bool) -> None:
    assert lifecycle.settled is settled


@pytest.mark.parametrize(
    "lifecycle",
    [READY, Lifecycle(State.ACTIVE, UpdateStatus.FAILED, "broke", "InternalError")],
    ids=["ready", "after-failed-update"],
)
def test_mutable(lifecycle: Lifecycle) -> None:
    ensure_mutable(lifecycle, ARN)


@pytest.mark.parametrize(
    ("lifecycle", "message"),
    [
        pytest.param(
            CREATED,
            "The operation cannot be performed at this time. The resource "
            f"{ARN} is currently in the following state: 'Pending'. StateReasonCode: 'Creating'",
            id="pending",
        ),
        pytest.param(
            Lifecycle(State.FAILED, None, "bad", "InvalidSubnet"),
            "The operation cannot be performed at this time. The resource "
            f"{ARN} is currently in the following state: 'Failed'. "
            "StateReasonCode: 'InvalidSubnet'",
            id="failed",
        ),
        pytest.param(
            Lifecycle(State.INACTIVE, None, "idle", "Idle"),
            "The operation cannot be performed at this time. The resource "
            f"{ARN} is currently in the following state: 'Inactive'. StateReasonCode: 'Idle'",
            id="inactive",
        ),
        pytest.param(
            UPDATING,
            "The operation cannot be performed at this time. An update is in progress for "
            f"resource: {ARN}",
            id="update-in-progress",
        ),
    ],
)
def test_not_mutable(lifecycle: Lifecycle, message: str) -> None:
    with pytest.raises(ResourceConflict) as caught:
        ensure_mutable(lifecycle, ARN)
    assert caught.value.message == message
    assert caught.value.code == "ResourceConflictException"
    assert caught.value.status == 409


# --- the lifecycle a published version is born with (spec 1.3 item 7) --------------------------

# `$LATEST`'s (state, update status) -> the new version's lifecycle
BORN: dict[tuple[State, UpdateStatus | None], Lifecycle] = {
    # Nothing left to prepare: Active / Successful in the PublishVersion response itself.
    (State.ACTIVE, UpdateStatus.SUCCESSFUL): READY,
    # Its code and configuration never settled successfully: prepared like a new version.
    (State.ACTIVE, UpdateStatus.FAILED): CREATED,
    # UpdateFunctionCode(Publish=True): the version is Pending while $LATEST is InProgress.
    (State.ACTIVE, UpdateStatus.IN_PROGRESS): CREATED,
    # CreateFunction(Publish=True): version 1 is Pending with $LATEST.
    (State.PENDING, None): CREATED,
}

UNBORN = [key for key in itertools.product(State, [None, *UpdateStatus]) if key not in BORN]


@pytest.mark.parametrize(("latest", "born"), list(BORN.items()), ids=str)
def test_published(latest: tuple[State, UpdateStatus | None], born: Lifecycle) -> None:
    state, update = latest
    assert published(Lifecycle(state, update, "old reason", "OldCode")) == born


@pytest.mark.parametrize("latest", UNBORN, ids=str)
def test_nothing_is_published_from_other_states(latest: tuple[State, UpdateStatus | None]) -> None:
    # PublishVersion refuses these first (`ensure_mutable`); reaching here is a bug.
    state, update = latest
    with pytest.raises(IllegalTransition):
        published(Lifecycle(state, update))


def test_the_birth_table_has_states_to_refuse() -> None:
    assert len(UNBORN) == 4 * 4 - 4
