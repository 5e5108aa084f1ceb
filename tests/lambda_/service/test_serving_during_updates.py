"""What an update in progress still runs, kept durably (spec 11.1).

Over the real SQLite store, code store and settler: while an update of `$LATEST` is in progress
(or after it failed), invocations resolve to the `$LATEST` from before it. That snapshot is a
column of the function's row: it survives a restart, keeps its package from the start-up sweep,
and is added to a database written before the column existed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gureum.clock import SystemClock
from gureum.lambda_.domain.arns import FunctionRef
from gureum.lambda_.domain.functions import Code, FunctionSettings
from gureum.lambda_.domain.lifecycle import State, UpdateStatus
from gureum.lambda_.services.context import Caller, Ports
from gureum.lambda_.services.functions import FixedRuntimes, FunctionService
from gureum.lambda_.services.invoker import resolve_target
from gureum.lambda_.services.settler import Settler
from gureum.lambda_.store.codestore import CodeStore, UnreadableArchive
from gureum.lambda_.store.sqlite import SqliteStore
from tests.support.packages import HANDLER, zip_of

CALLER = Caller("000000000000", "us-east-1")
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
NAME = "served"


class MarkingVault:
    """Seals by marking each value, so a test can tell stored variables were sealed."""

    generation = 0  # no keys that could change

    def seal(
        self, account: str, region: str, key_arn: str | None, variables: Mapping[str, str]
    ) -> dict[str, str]:
        return {key: f"sealed:{value}" for key, value in variables.items()}

    def open(
        self, account: str, region: str, sealed: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, tuple[str, str] | None]:
        return {key: value.removeprefix("sealed:") for key, value in sealed.items()}, None


class BreakableCodeStore(CodeStore):
    """Fails to unpack the blobs in `broken`, as a package damaged on disk would."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.broken: set[str] = set()

    def tree(self, blob: str, limit: int = 262_144_000) -> Path:
        if blob in self.broken:
            raise UnreadableArchive("injected: damaged on disk")
        return super().tree(blob, limit)


class Node:
    """One server's worth of the control plane over a data directory; `restart` reopens it.

    Every store it opens is listed in `opened`, for the fixture to close.
    """

    def __init__(self, root: Path, executor: ThreadPoolExecutor, opened: list[SqliteStore]) -> None:
        self.root = root
        self.executor = executor
        self.opened = opened
        self.code = BreakableCodeStore(root / "code")
        self.store = SqliteStore(root / "gureum.sqlite3", MarkingVault())
        opened.append(self.store)
        ports = Ports(self.store, self.code, SystemClock())
        self.functions = FunctionService(ports, FixedRuntimes(("python3.12",)))
        self.settler = Settler(ports, executor, 0)

    def restart(self) -> Node:
        self.store.close()
        return Node(self.root, self.executor, self.opened)

    def package(self, marker: str) -> Code:
        return self.functions.store_package(zip_of({"index.py": f"{HANDLER}# {marker}\n"}), None)

    def served(self) -> tuple[str, Mapping[str, str] | None]:
        """(code blob, variables) of what an unqualified Invoke of the function would run."""
        with self.store.transaction() as tx:
            function = tx.get_function(CALLER.account, CALLER.region, NAME)
            assert function is not None
            version = resolve_target(tx, function, None, 0.0).version
        assert version.lifecycle.state is State.ACTIVE
        return version.code.blob, version.settings.environment

    def latest_update(self) -> UpdateStatus | None:
        return self.functions.get(CALLER, FunctionRef(NAME)).version.lifecycle.update


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(2)
    yield pool
    pool.shutdown(wait=True)


@pytest.fixture
def node(tmp_path: Path, executor: ThreadPoolExecutor) -> Iterator[Node]:
    """A settled function whose package is `one` and whose STAGE is `a`."""
    opened: list[SqliteStore] = []
    created = Node(tmp_path, executor, opened)
    settings = FunctionSettings(ROLE, "python3.12", "index.handler", environment={"STAGE": "a"})
    one = created.package("one")
    created.functions.create(CALLER, FunctionRef(NAME), settings, one, {}, False)
    created.settler.settle_all()
    yield created
    for store in opened:
        store.close()


def test_an_update_in_progress_serves_the_previous_latest(node: Node) -> None:
    before = node.served()
    two = node.package("two")
    node.functions.update_code(CALLER, FunctionRef(NAME), two, None, None, False)
    assert node.latest_update() is UpdateStatus.IN_PROGRESS
    assert node.served() == before

    node.settler.settle_all()
    assert node.served() == (two.blob, {"STAGE": "a"})


def test_a_configuration_update_serves_the_previous_variables(node: Node) -> None:
    changes = {"environment": {"STAGE": "b"}}
    node.functions.update_configuration(CALLER, FunctionRef(NAME), changes, None)
    assert node.served()[1] == {"STAGE": "a"}
    node.settler.settle_all()
    assert node.served()[1] == {"STAGE": "b"}


def test_a_failed_update_keeps_serving_the_previous_latest(node: Node) -> None:
    before = node.served()
    broken = node.package("broken")
    node.code.broken.add(broken.blob)
    node.functions.update_code(CALLER, FunctionRef(NAME), broken, None, None, False)
    node.settler.settle_all()
    assert node.latest_update() is UpdateStatus.FAILED
    assert node.served() == before


def test_what_is_served_survives_a_restart_and_the_start_up_sweep(node: Node) -> None:
    before = node.served()
    one_blob = before[0]
    node.functions.update_code(CALLER, FunctionRef(NAME), node.package("two"), None, None, False)

    node = node.restart()
    with node.store.transaction() as tx:
        node.code.sweep(tx.blob_in_use)  # what the server does at start-up
    assert node.served() == before
    assert node.code.exists(one_blob)
    assert node.code.tree(one_blob).is_dir()
    # Stored sealed, like every other copy of the variables.
    row = sqlite3.connect(node.root / "gureum.sqlite3").execute("SELECT previous FROM functions")
    assert "sealed:a" in row.fetchone()[0]


def test_a_database_from_before_the_column_is_migrated(node: Node) -> None:
    node.functions.update_code(CALLER, FunctionRef(NAME), node.package("two"), None, None, False)
    node.store.close()
    # The layout of a database written before the column existed, with its rows.
    with sqlite3.connect(node.root / "gureum.sqlite3") as db:
        db.execute("ALTER TABLE functions DROP COLUMN previous")

    node = Node(node.root, node.executor, node.opened)
    # Nothing records the `$LATEST` before the update any more: the update itself is served.
    assert node.served()[0] == node.functions.get(CALLER, FunctionRef(NAME)).version.code.blob
    node.settler.settle_all()
    node.functions.update_code(CALLER, FunctionRef(NAME), node.package("three"), None, None, False)
    node = node.restart()  # opening a migrated database again changes nothing
    assert node.latest_update() is UpdateStatus.IN_PROGRESS
    assert node.served()[1] == {"STAGE": "a"}
    assert node.served()[0] != node.functions.get(CALLER, FunctionRef(NAME)).version.code.blob
