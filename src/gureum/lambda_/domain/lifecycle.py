"""A function version's lifecycle: `State` and `LastUpdateStatus` as one state machine (spec 11).

    created ──> Pending/Creating ──settle──> Active + Successful
                     └──────────fail──────> Failed
    Active + Successful|Failed ──update──> Active + InProgress ──settle──> Active + Successful
                                                     └────────fail───────> Active + Failed

Transitions are a table; any other move raises `IllegalTransition`, which is a bug in gureum, not
a client error. `ensure_mutable` is the rule AWS applies to Update*/PublishVersion/TagResource:
nothing changes a function that is still being created or updated.

A published version is born from `$LATEST`'s lifecycle, by a table too (`published`): `Active` at
once when `$LATEST` is settled and successful, `Pending` when it is being created or updated, or
its last update failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gureum.lambda_.domain.errors import ResourceConflict

CREATING_REASON = "The function is being created."
CREATING_CODE = "Creating"


class State(StrEnum):
    PENDING = "Pending"
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    FAILED = "Failed"


class UpdateStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"


class Event(StrEnum):
    SETTLE = "settle"
    FAIL = "fail"
    UPDATE = "update"


class IllegalTransition(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Lifecycle:
    state: State
    update: UpdateStatus | None = None
    reason: str | None = None
    reason_code: str | None = None

    @property
    def settled(self) -> bool:
        return self.state is not State.PENDING and self.update is not UpdateStatus.IN_PROGRESS


CREATED = Lifecycle(State.PENDING, None, CREATING_REASON, CREATING_CODE)
READY = Lifecycle(State.ACTIVE, UpdateStatus.SUCCESSFUL)
UPDATING = Lifecycle(State.ACTIVE, UpdateStatus.IN_PROGRESS, CREATING_REASON, CREATING_CODE)

_Key = tuple[State, UpdateStatus | None, Event]
_TRANSITIONS: dict[_Key, Lifecycle | None] = {
    (State.PENDING, None, Event.SETTLE): READY,
    (State.PENDING, None, Event.FAIL): None,  # Failed, with the reason given
    (State.ACTIVE, UpdateStatus.SUCCESSFUL, Event.UPDATE): UPDATING,
    (State.ACTIVE, UpdateStatus.FAILED, Event.UPDATE): UPDATING,
    (State.ACTIVE, UpdateStatus.IN_PROGRESS, Event.SETTLE): READY,
    (State.ACTIVE, UpdateStatus.IN_PROGRESS, Event.FAIL): None,
}


def transition(
    current: Lifecycle, event: Event, reason: str | None = None, code: str | None = None
) -> Lifecycle:
    key = (current.state, current.update, event)
    if key not in _TRANSITIONS:
        raise IllegalTransition(f"{event} is not allowed from {current}")
    target = _TRANSITIONS[key]
    if target is not None:
        return target
    if current.state is State.PENDING:
        return Lifecycle(State.FAILED, None, reason, code)
    return Lifecycle(State.ACTIVE, UpdateStatus.FAILED, reason, code)


# What PublishVersion makes of `$LATEST`'s lifecycle (spec 1.3 item 7). A snapshot of a settled,
# successful `$LATEST` has nothing left to prepare: AWS answers it `Active`/`Successful` in the
# PublishVersion response itself. One taken with an update (CreateFunction or UpdateFunctionCode
# with `Publish`) is `Pending` until its code is prepared, as is one of a `$LATEST` whose last
# update failed: its code and configuration were never prepared successfully.
_PUBLISHED: dict[tuple[State, UpdateStatus | None], Lifecycle] = {
    (State.ACTIVE, UpdateStatus.SUCCESSFUL): READY,
    (State.ACTIVE, UpdateStatus.FAILED): CREATED,
    (State.ACTIVE, UpdateStatus.IN_PROGRESS): CREATED,
    (State.PENDING, None): CREATED,
}


def published(latest: Lifecycle) -> Lifecycle:
    """The lifecycle of a version published from a `$LATEST` in `latest`."""
    born = _PUBLISHED.get((latest.state, latest.update))
    if born is None:
        raise IllegalTransition(f"no version is published from {latest}")
    return born


def ensure_mutable(lifecycle: Lifecycle, function_arn: str) -> None:
    """Raises AWS's 409 when a create or update of the function has not finished."""
    if lifecycle.state is not State.ACTIVE:
        raise ResourceConflict(
            "The operation cannot be performed at this time. The resource "
            f"{function_arn} is currently in the following state: '{lifecycle.state}'. "
            f"StateReasonCode: '{lifecycle.reason_code}'"
        )
    if lifecycle.update is UpdateStatus.IN_PROGRESS:
        raise ResourceConflict(
            "The operation cannot be performed at this time. An update is in progress for "
            f"resource: {function_arn}"
        )
