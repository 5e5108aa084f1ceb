"""An environment whose execution-role session ends soon takes no more invocations: the pool
retires it when it is next found idle and starts a new one (with a new session), since an
environment's variables are fixed at Init. Driven with a controllable wall clock; the
environments are real `ExecutionEnvironment`s that never start a process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gureum.lambda_.domain.credentials import LIFETIME_S, RoleCredentials
from gureum.lambda_.sandbox.environment import ExecutionEnvironment, LaunchPlan, Platform
from gureum.lambda_.sandbox.pool import EnvironmentPool
from gureum.lambda_.sandbox.scratch import ScratchSpaces
from gureum.lambda_.sandbox.uids import UidLeases
from gureum.lambda_.sandbox.zygotes import Zygote
from gureum.logs.store.streams import FileLogStore
from tests.lambda_.service.test_reaper import plan as bare_plan

START = datetime(2026, 1, 1, tzinfo=UTC)


class Wall:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def no_zygote(name: str) -> Zygote:
    raise AssertionError("nothing is spawned here")


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def platform(tmp_path: Path, wall: Wall) -> Iterator[Platform]:
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
        now=wall,
    )
    logs.close()


def session(issued: datetime, seconds: float) -> RoleCredentials:
    return RoleCredentials(
        "ASIAEXAMPLE", "secret", "token", issued, issued + timedelta(seconds=seconds)
    )


@pytest.mark.parametrize(
    ("life", "timeout", "retire_before_expiry"),
    [
        (LIFETIME_S, 3, 63),  # the function's timeout plus a minute
        (LIFETIME_S, 900, 960),
        (20, 3, 10),  # a scaled-down life: half of it
    ],
)
def test_an_environment_retires_before_its_session_expires(
    life: float, timeout: int, retire_before_expiry: float
) -> None:
    credentials = session(START, life)
    assert credentials.expires.timestamp() - credentials.retire_at(timeout) == retire_before_expiry


def test_the_secret_and_token_never_show_in_a_repr() -> None:
    shown = repr(session(START, 60))
    assert "ASIAEXAMPLE" in shown
    assert "secret" not in shown.replace("secret_access_key", "")
    assert "token" not in shown.replace("session_token", "")


def test_the_pool_replaces_an_environment_whose_session_ends_soon(
    platform: Platform, wall: Wall, tmp_path: Path
) -> None:
    base = bare_plan("renewed", tmp_path)
    slot, key = "renewed:$LATEST", "renewed:$LATEST#1"

    async def scenario() -> list[str]:
        uids = UidLeases(tmp_path / "uids", first=100, count=4)
        pool = EnvironmentPool(platform, keep_alive=3600, uids=uids, make=ExecutionEnvironment)
        seen: list[str] = []
        issued = [session(wall.now, 20)]

        async def fresh() -> LaunchPlan:
            issued.append(session(wall.now, 20))
            return replace(base, credentials=issued[-1])

        for step in (0, 5, 11, 12):  # retire_at is 10 s after each session starts
            wall.now = START + timedelta(seconds=step)
            plan = replace(base, credentials=issued[0])
            async with pool.lease(slot, key, plan, fresh) as environment:
                seen.append(environment.id)
        await pool.close()
        return seen

    first, same, renewed, kept = asyncio.run(scenario())
    assert same == first  # well within its session: reused
    assert renewed != first  # past retire_at: a new environment, a new session
    assert kept == renewed
