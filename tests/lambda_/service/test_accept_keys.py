"""The KMS check of each Event accept (spec 3.4), over the real SQLite store.

An Event accept refuses a function whose variables cannot be decrypted now, as a synchronous
call refuses to start an environment. Asking KMS afresh on every accept (a read of the function
and a decryption, on the event loop) cost an accept more than everything else it does; the
answer is kept until the function or any key changes (the store's generation moves with both),
so a key disabled a moment ago is still refused at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from gureum.clock import SystemClock
from gureum.lambda_.domain.arns import LATEST
from gureum.lambda_.domain.errors import KMSDisabled
from gureum.lambda_.domain.functions import Code, Function, FunctionSettings, FunctionVersion
from gureum.lambda_.domain.lifecycle import READY
from gureum.lambda_.services.invoker import Invoker, Target
from gureum.lambda_.store.sqlite import SqliteStore

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
DISABLED = ("KMSDisabledException", "the key is disabled")


class SwitchableVault:
    """Seals by marking; a key that can be disabled and enabled, counting the decryptions."""

    def __init__(self) -> None:
        self.generation = 0
        self.opened = 0
        self.disabled = False

    def switch(self, disabled: bool) -> None:
        self.disabled = disabled
        self.generation += 1  # as KMS's store moves when a key's state is written

    def seal(
        self, account: str, region: str, key_arn: str | None, variables: Mapping[str, str]
    ) -> dict[str, str]:
        return {key: f"sealed:{value}" for key, value in variables.items()}

    def open(
        self, account: str, region: str, sealed: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, tuple[str, str] | None]:
        self.opened += 1
        if self.disabled:
            return None, DISABLED
        return {key: value.removeprefix("sealed:") for key, value in sealed.items()}, None


@pytest.fixture
def vault() -> SwitchableVault:
    return SwitchableVault()


@pytest.fixture
def store(tmp_path: Path, vault: SwitchableVault) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "gureum.sqlite3", vault)
    settings = FunctionSettings(ROLE, "python3.12", "index.handler", environment={"ABC": "1"})
    version = FunctionVersion(
        LATEST, settings, Code("sha", 1, "blob", 1), "revision", datetime.now(UTC), READY
    )
    with opened.transaction() as tx:
        tx.put_function(Function("fn-id", "123456789012", "us-east-1", "fn", version))
    yield opened
    opened.close()


def invoker_over(store: SqliteStore) -> Invoker:
    unused = cast(Any, None)  # the KMS check reads the store and nothing else
    pool = cast(Any, SimpleNamespace())  # the invoker hooks into it, and that is all
    return Invoker(
        store, unused, unused, pool, unused, unused, unused, unused, SystemClock(), 262_144
    )


def target_of(store: SqliteStore) -> Target:
    with store.transaction() as tx:
        function = tx.get_function("123456789012", "us-east-1", "fn")
    assert function is not None
    return Target(function, function.latest, function.arn)


def test_each_accept_does_not_decrypt_the_variables_again(
    store: SqliteStore, vault: SwitchableVault
) -> None:
    invoker, target = invoker_over(store), target_of(store)
    opened = vault.opened
    for _ in range(100):
        invoker.check_key(target)
    assert vault.opened - opened == 1, "every accept asked KMS afresh"


def test_a_key_disabled_after_an_accept_refuses_the_next_one_at_once(
    store: SqliteStore, vault: SwitchableVault
) -> None:
    invoker, target = invoker_over(store), target_of(store)
    invoker.check_key(target)
    vault.switch(disabled=True)
    with pytest.raises(KMSDisabled):
        invoker.check_key(target)
    with pytest.raises(KMSDisabled):  # a refusal is not remembered as a success
        invoker.check_key(target)
    vault.switch(disabled=False)
    invoker.check_key(target)
