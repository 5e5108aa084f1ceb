"""What every control-plane service is built from: ports handed over by the composition root."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from gureum.clock import Clock
from gureum.lambda_.store.codestore import CodeStore
from gureum.lambda_.store.ports import Store


def _no_op() -> None:
    return None


def new_revision_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Caller:
    """The account and region a call acts in (SigV4 credential scope, after authentication)."""

    account: str
    region: str


@dataclass(frozen=True)
class Ports:
    store: Store
    code: CodeStore
    clock: Clock
    new_id: Callable[[], str] = new_revision_id
    # Wakes the settler after a write that left a version Pending or InProgress.
    changed: Callable[[], None] = field(default=_no_op)
    # Tells the concurrency ledger a function's reservation changed (None: removed), after commit.
    reservation_changed: Callable[[tuple[str, str], str, int | None], None] = field(
        default=lambda scope, function_id, reserved: None
    )
