"""The pool's provisioned environments (spec 6.3): kept apart from on-demand ones.

Environments come from the pool's `make` seam as real `ExecutionEnvironment`s whose Init is
decided by the test (no process is started): never reaped for idleness, handed out only once
their slot serves, retired and reported lost when an invocation leaves them broken, retired
when deprovisioned even mid-invocation, and recycled oldest first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gureum.lambda_.sandbox.environment import (
    EnvironmentState,
    ExecutionEnvironment,
    LaunchPlan,
    Platform,
)
from gureum.lambda_.sandbox.pool import PROVISIONED_TYPE, EnvironmentPool
from gureum.lambda_.sandbox.scratch import ScratchSpaces
from gureum.lambda_.sandbox.uids import UidLeases
from gureum.lambda_.sandbox.zygotes import Zygote
from gureum.logs.store.streams import FileLogStore

SLOT, KEY = "f:1", "f:1#r"


class PresetEnvironment(ExecutionEnvironment):
    """An environment whose Init succeeds unless its function is named "broken"."""

    made: list[PresetEnvironment] = []

    def __init__(self, plan: LaunchPlan, platform: Platform, uid: int) -> None:
        super().__init__(plan, platform, uid)
        self.made.append(self)
        self.retired = False

    async def initialize(self, limit: float) -> bool:
        if self.plan.function_name == "broken":
            return False
        self.state = EnvironmentState.READY
        return True

    async def retire(self) -> None:
        self.retired = True
        self.state = EnvironmentState.DEAD


def no_zygote(name: str) -> Zygote:
    raise AssertionError("nothing is spawned here")


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    logs = FileLogStore(tmp_path / "logs")
    yield Platform(
        zygote_for=no_zygote,
        scratch=ScratchSpaces(tmp_path / "scratch", disks=False),
        memory=None,
        logs=logs,
        isolate=False,
        runtime_dir=tmp_path,
        sandbox_root=tmp_path,
        endpoint="http://127.0.0.1:9",
        now=lambda: datetime.now(UTC),
    )
    logs.close()
    PresetEnvironment.made.clear()


def plan(name: str, tmp_path: Path) -> LaunchPlan:
    return LaunchPlan(
        "123456789012",
        "us-east-1",
        name,
        "1",
        "index.handler",
        "python3.12",
        128,
        3,
        512,
        tmp_path,
        None,
        "python3.12",
        None,
        (),
        (3, 12),
        None,
        f"/aws/lambda/{name}",
    )


def pool_of(platform: Platform, tmp_path: Path) -> EnvironmentPool:
    uids = UidLeases(tmp_path / "uids", first=100, count=10)
    return EnvironmentPool(platform, keep_alive=0.01, uids=uids, make=PresetEnvironment)


def test_provisioned_environments_outlive_the_keep_alive(
    platform: Platform, tmp_path: Path
) -> None:
    async def scenario() -> None:
        pool = pool_of(platform, tmp_path)
        for _ in range(2):
            assert await pool.provision_one(SLOT, KEY, plan("f", tmp_path))
        made = PresetEnvironment.made
        assert {e.plan.initialization_type for e in made} == {PROVISIONED_TYPE}
        with pool.provisioned(SLOT, KEY) as environment:
            assert environment is None  # not serving yet: nothing is handed out
        pool.serve(SLOT, True)
        assert pool.reap_once(1e12) == 0
        assert pool.environment_count == 2
        with pool.provisioned(SLOT, KEY) as environment:
            assert environment in made
            assert pool.provisioned_usage(SLOT) == (1, 2)
        with pool.provisioned(SLOT, "f:1#other") as environment:
            assert environment is None  # another revision's environments never serve it
        await pool.close()
        assert all(e.retired for e in made)

    asyncio.run(scenario())


def test_a_broken_environment_is_retired_and_reported_lost(
    platform: Platform, tmp_path: Path
) -> None:
    lost: list[str] = []

    async def scenario() -> None:
        pool = pool_of(platform, tmp_path)
        pool.on_lost = lost.append
        assert await pool.provision_one(SLOT, KEY, plan("f", tmp_path))
        pool.serve(SLOT, True)
        with pool.provisioned(SLOT, KEY) as environment:
            assert environment is not None
            environment.state = EnvironmentState.STARTING  # crashed: its runtime was reset
        await asyncio.sleep(0)
        assert PresetEnvironment.made[0].retired
        assert lost == [SLOT]
        assert pool.provisioned_count(SLOT) == 0
        await pool.close()

    asyncio.run(scenario())


def test_a_failed_init_leaves_nothing(platform: Platform, tmp_path: Path) -> None:
    async def scenario() -> None:
        pool = pool_of(platform, tmp_path)
        assert not await pool.provision_one(SLOT, KEY, plan("broken", tmp_path))
        await asyncio.sleep(0)
        assert pool.provisioned_count(SLOT) == 0
        assert [e.retired for e in PresetEnvironment.made] == [True]
        await pool.close()

    asyncio.run(scenario())


def test_deprovisioned_mid_invocation_and_recycled_oldest_first(
    platform: Platform, tmp_path: Path
) -> None:
    async def scenario() -> None:
        pool = pool_of(platform, tmp_path)
        for _ in range(3):
            assert await pool.provision_one(SLOT, KEY, plan("f", tmp_path))
        pool.serve(SLOT, True)
        first, second, third = PresetEnvironment.made
        pool.recycle_oldest(SLOT)
        await asyncio.sleep(0)
        assert (first.retired, pool.provisioned_count(SLOT)) == (True, 2)
        with pool.provisioned(SLOT, KEY) as environment:
            assert environment is not None
            pool.deprovision(SLOT)
            assert pool.provisioned_count(SLOT) == 0  # the slot is gone at once
        await asyncio.sleep(0)
        assert second.retired
        assert third.retired
        await pool.close()

    asyncio.run(scenario())


def test_an_allocation_in_progress_is_held_back(platform: Platform, tmp_path: Path) -> None:
    """An increase of a serving slot: the new environments serve only once all are up."""

    async def scenario() -> None:
        pool = pool_of(platform, tmp_path)
        assert await pool.provision_one(SLOT, KEY, plan("f", tmp_path))
        pool.serve(SLOT, True)
        assert await pool.provision_one(SLOT, KEY, plan("f", tmp_path), hold=True)
        first, held = PresetEnvironment.made
        assert pool.provisioned_count(SLOT) == 2
        assert pool.provisioned_usage(SLOT) == (0, 1)
        with pool.provisioned(SLOT, KEY) as one:
            assert one is first
            with pool.provisioned(SLOT, KEY) as other:
                assert other is None  # the held one is not handed out
        pool.serve(SLOT, True)
        with pool.provisioned(SLOT, KEY) as one, pool.provisioned(SLOT, KEY) as other:
            assert {one, other} == {first, held}
        await pool.close()

    asyncio.run(scenario())
