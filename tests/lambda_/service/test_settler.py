"""The settler never dies of one version (issue #20, item 1).

Over the real SQLite store and code store, with one fault injected per test: a code store that
raises something unexpected while unpacking one function's package, or a store whose transaction
fails while recording one function's outcome. That function alone is held back (`Failed` with
AWS's InvalidZipFileException, or left for a later round); every other one settles, and the
settler's loop keeps serving later changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, cast

import pytest

from gureum.clock import SystemClock
from gureum.lambda_.domain.arns import FunctionRef
from gureum.lambda_.domain.functions import FunctionSettings, FunctionVersion
from gureum.lambda_.services.context import Caller, Ports
from gureum.lambda_.services.functions import FixedRuntimes, FunctionService
from gureum.lambda_.services.settler import Settler
from gureum.lambda_.store.codestore import CodeStore
from gureum.lambda_.store.ports import Transaction
from gureum.lambda_.store.sqlite import SqliteStore
from tests.support.packages import HANDLER, zip_of

CALLER = Caller("000000000000", "us-east-1")
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


class PlainVault:
    generation = 0  # no keys that could change

    def seal(
        self, account: str, region: str, key_arn: str | None, variables: Mapping[str, str]
    ) -> dict[str, str]:
        return dict(variables)

    def open(
        self, account: str, region: str, sealed: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, tuple[str, str] | None]:
        return dict(sealed), None


class BrokenCodeStore(CodeStore):
    """Raises an error nobody planned for while unpacking the blobs in `broken`."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.broken: set[str] = set()

    def tree(self, blob: str, limit: int = 262_144_000) -> Path:
        if blob in self.broken:
            raise RuntimeError("injected: unpacking blew up")
        return super().tree(blob, limit)


class RecordingFails:
    """A transaction that fails to record the outcome of the function named `victim`."""

    def __init__(self, inner: Transaction, victim: str) -> None:
        self._inner = inner
        self._victim = victim

    def put_version(self, function: Any, version: FunctionVersion) -> None:
        if function.name == self._victim:
            raise RuntimeError("injected: the write failed")
        self._inner.put_version(function, version)

    def put_function(self, function: Any) -> None:
        # The outcome for `$LATEST` is recorded with the function (which `$LATEST` runs); the
        # writes that create or change the function are not the settler's.
        if function.name == self._victim and function.latest.lifecycle.settled:
            raise RuntimeError("injected: the write failed")
        self._inner.put_function(function)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class FlakyStore:
    """The real store; while `victim` is set, recording that function's versions fails."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.victim: str | None = None

    @property
    def generation(self) -> int:
        return self.inner.generation

    def transaction(self) -> AbstractContextManager[Transaction]:
        return self._transaction()

    def snapshot(self) -> AbstractContextManager[Transaction]:
        return self.inner.snapshot()

    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        with self.inner.transaction() as tx:
            victim = self.victim
            yield tx if victim is None else cast(Transaction, RecordingFails(tx, victim))

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FlakyStore]:
    flaky = FlakyStore(SqliteStore(tmp_path / "gureum.sqlite3", PlainVault()))
    yield flaky
    flaky.close()


@pytest.fixture
def code(tmp_path: Path) -> BrokenCodeStore:
    return BrokenCodeStore(tmp_path / "code")


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(2)
    yield pool
    pool.shutdown(wait=True)


def create(functions: FunctionService, name: str, breaking: BrokenCodeStore | None = None) -> None:
    """Creates a function with a package of its own, which `breaking` will fail to unpack."""
    code = functions.store_package(zip_of({"index.py": f"{HANDLER}# {name}\n"}), None)
    if breaking is not None:
        breaking.broken.add(code.blob)
    settings = FunctionSettings(ROLE, "python3.12", "index.handler")
    functions.create(CALLER, FunctionRef(name), settings, code, {}, False)


def lifecycle(functions: FunctionService, name: str) -> tuple[str, str | None, str | None]:
    state = functions.get(CALLER, FunctionRef(name)).version.lifecycle
    return state.state.value, state.reason_code, state.reason


def test_an_unexpected_error_fails_that_function_only(
    store: FlakyStore,
    code: BrokenCodeStore,
    executor: ThreadPoolExecutor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    functions = FunctionService(Ports(store, code, SystemClock()), FixedRuntimes(("python3.12",)))
    settler = Settler(Ports(store, code, SystemClock()), executor, 0)
    create(functions, "first", code)
    create(functions, "second")
    with caplog.at_level(logging.ERROR, "gureum.settler"):
        assert settler.settle_all() == 2
    assert lifecycle(functions, "first") == (
        "Failed",
        "InvalidZipFileException",
        "Lambda could not unzip the deployment package.",
    )
    assert lifecycle(functions, "second") == ("Active", None, None)
    logged = [r for r in caplog.records if r.name == "gureum.settler"]
    assert len(logged) == 1
    assert "function:first" in logged[0].getMessage()
    assert "[trace " in logged[0].getMessage()
    assert logged[0].exc_info is not None, "an unexpected error must be logged with its traceback"


def test_an_update_that_cannot_be_prepared_fails_as_an_update(
    store: FlakyStore, code: BrokenCodeStore, executor: ThreadPoolExecutor
) -> None:
    functions = FunctionService(Ports(store, code, SystemClock()), FixedRuntimes(("python3.12",)))
    settler = Settler(Ports(store, code, SystemClock()), executor, 0)
    create(functions, "updated")
    settler.settle_all()
    package = functions.store_package(zip_of({"index.py": f"{HANDLER}# v2\n"}), None)
    code.broken.add(package.blob)
    functions.update_code(CALLER, FunctionRef("updated"), package, None, None, False)
    settler.settle_all()
    state = functions.get(CALLER, FunctionRef("updated")).version.lifecycle
    assert (state.state.value, state.update and state.update.value) == ("Active", "Failed")
    assert state.reason_code == "InvalidZipFileException"


def test_a_failed_record_leaves_that_function_for_a_later_round(
    store: FlakyStore, code: BrokenCodeStore, executor: ThreadPoolExecutor
) -> None:
    functions = FunctionService(Ports(store, code, SystemClock()), FixedRuntimes(("python3.12",)))
    settler = Settler(Ports(store, code, SystemClock()), executor, 0)
    create(functions, "first")
    create(functions, "second")
    store.victim = "first"
    assert settler.settle_all() == 1
    store.victim = None
    assert lifecycle(functions, "first")[0] == "Pending"
    assert lifecycle(functions, "second")[0] == "Active"
    assert settler.settle_all() == 1
    assert lifecycle(functions, "first")[0] == "Active"


def test_the_loop_keeps_settling_after_a_failure(
    store: FlakyStore, code: BrokenCodeStore, executor: ThreadPoolExecutor
) -> None:
    async def scenario() -> None:
        settler = Settler(Ports(store, code, SystemClock()), executor, 0)
        ports = Ports(store, code, SystemClock(), changed=settler.wake_from_any_thread)
        functions = FunctionService(ports, FixedRuntimes(("python3.12",)))
        loop = asyncio.get_running_loop()
        running = loop.create_task(settler.run())
        try:
            await loop.run_in_executor(executor, create, functions, "bad", code)
            await settled(functions, "bad")
            store.victim = "stalled"  # recording fails: the loop must come back to it
            await loop.run_in_executor(executor, create, functions, "stalled")
            await loop.run_in_executor(executor, create, functions, "good")
            await settled(functions, "good")
            store.victim = None
            await settled(functions, "stalled")
            assert not running.done(), "the settler's loop died"
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        assert lifecycle(functions, "bad")[:2] == ("Failed", "InvalidZipFileException")
        assert lifecycle(functions, "good")[0] == "Active"
        assert lifecycle(functions, "stalled")[0] == "Active"

    async def settled(functions: FunctionService, name: str) -> None:
        for _ in range(500):
            if lifecycle(functions, name)[0] != "Pending":
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{name} is still Pending")

    asyncio.run(scenario())
