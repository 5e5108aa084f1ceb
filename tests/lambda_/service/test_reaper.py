"""The reaper never dies of one environment (issue #20, item 1).

Environments are made by the pool's `make` seam as real `ExecutionEnvironment`s that never
started a process; one of them fails to retire (as a stuck cgroup or scratch directory would
make it), or fails before it can even be looked at. The others are still retired, the failure is
logged with the function it served, the reaper's loop keeps going, and the uid of the environment
that did not retire cleanly is not handed to another one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gureum.lambda_.sandbox.environment import ExecutionEnvironment, LaunchPlan, Platform
from gureum.lambda_.sandbox.pool import EnvironmentPool
from gureum.lambda_.sandbox.scratch import ScratchSpaces
from gureum.lambda_.sandbox.uids import UidLeases
from gureum.lambda_.sandbox.zygotes import Zygote
from gureum.logs.store.streams import FileLogStore


class FailingEnvironment(ExecutionEnvironment):
    """A real environment, except for functions named in `FAILING`: retiring them raises, and
    for those in `UNREADABLE` even reading when they were last used does."""

    FAILING: set[str] = set()
    UNREADABLE: set[str] = set()
    retired: list[str] = []
    made: list[tuple[str, int]] = []  # (function, uid) of every environment, in order

    def __init__(self, plan: LaunchPlan, platform: Platform, uid: int) -> None:
        super().__init__(plan, platform, uid)
        self.made.append((plan.function_name, uid))

    @property
    def last_used(self) -> float:
        if self.plan.function_name in self.UNREADABLE:
            raise RuntimeError("injected: no idea when this was last used")
        return self._used

    @last_used.setter
    def last_used(self, value: float) -> None:
        self._used = value

    async def retire(self) -> None:
        if self.plan.function_name in self.FAILING:
            raise RuntimeError("injected: the environment would not go")
        await super().retire()
        self.retired.append(self.plan.function_name)


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


@pytest.fixture(autouse=True)
def fresh_faults() -> Iterator[None]:
    yield
    FailingEnvironment.FAILING.clear()
    FailingEnvironment.UNREADABLE.clear()
    FailingEnvironment.retired.clear()
    FailingEnvironment.made.clear()


def plan(name: str, tmp_path: Path) -> LaunchPlan:
    return LaunchPlan(
        "123456789012",
        "us-east-1",
        name,
        "$LATEST",
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


async def park(pool: EnvironmentPool, name: str, tmp_path: Path) -> None:
    """Leases an environment for `name` and gives it back unused: it is idle from now."""
    async with pool.lease(f"{name}:$LATEST", f"{name}:$LATEST#1", plan(name, tmp_path)):
        pass


def test_one_environment_that_will_not_retire_does_not_stop_the_others(
    platform: Platform, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    FailingEnvironment.FAILING.add("stuck")
    FailingEnvironment.UNREADABLE.add("garbled")

    async def scenario() -> None:
        # Few uids, so that the four new environments must reuse given-back ones.
        uids = UidLeases(tmp_path / "uids", first=100, count=7)
        pool = EnvironmentPool(platform, keep_alive=0.2, uids=uids, make=FailingEnvironment)
        reaper = asyncio.ensure_future(pool.reap())
        try:
            for name in ("first", "garbled", "stuck", "last"):
                await park(pool, name, tmp_path)
            for _ in range(300):
                if sorted(FailingEnvironment.retired) == ["first", "last"]:
                    break
                await asyncio.sleep(0.01)
            assert sorted(FailingEnvironment.retired) == ["first", "last"]
            await park(pool, "later", tmp_path)  # the reaper still runs after the failures
            for _ in range(300):
                if "later" in FailingEnvironment.retired:
                    break
                await asyncio.sleep(0.01)
            assert "later" in FailingEnvironment.retired
            assert not reaper.done(), "the reaper died"
            # The uids handed out next include given-back ones, never the stuck one's.
            async with AsyncExitStack() as leases:
                for _ in range(4):
                    await leases.enter_async_context(
                        pool.lease("new:$LATEST", "new:$LATEST#1", plan("new", tmp_path))
                    )
                handed = [uid for name, uid in FailingEnvironment.made if name == "new"]
        finally:
            reaper.cancel()
            await asyncio.gather(reaper, return_exceptions=True)
        FailingEnvironment.UNREADABLE.clear()
        await pool.close()
        (stuck,) = [uid for name, uid in FailingEnvironment.made if name == "stuck"]
        assert len(handed) == 4
        assert stuck not in handed, "the uid of an environment that may still run was reused"

    with caplog.at_level(logging.ERROR, "gureum.pool"):
        asyncio.run(scenario())
    logged = [r.getMessage() for r in caplog.records if r.name == "gureum.pool"]
    assert any("stuck" in m and "uid" in m for m in logged), logged
    assert any("garbled" in m for m in logged), logged
    assert "stuck" not in FailingEnvironment.retired
