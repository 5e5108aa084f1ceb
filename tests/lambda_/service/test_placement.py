"""The front door's placement (services.agents.Placement) over a store that goes away."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from gureum.aws.errors import ServiceError
from gureum.lambda_.domain.placement import AgentStatus
from gureum.lambda_.sandbox.environment import InvocationRequest, InvocationResult
from gureum.lambda_.services.agents import STALE_AFTER, Placement
from gureum.lambda_.services.invoker import Target
from tests.support.model import a_function


class Directory:
    """Heartbeats in memory; `away` makes reads fail as a stopped database does."""

    def __init__(self) -> None:
        self.statuses: list[AgentStatus] = []
        self.away = False

    def beat(self, status: AgentStatus) -> None:
        self.statuses = [s for s in self.statuses if s.agent_id != status.agent_id] + [status]

    def leave(self, agent_id: str) -> None:
        self.statuses = [s for s in self.statuses if s.agent_id != agent_id]

    def agents(self) -> list[AgentStatus]:
        if self.away:
            raise ConnectionError("the database is away")
        return list(self.statuses)


class Hop:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def run(
        self, address: str, target: Target, request: InvocationRequest
    ) -> InvocationResult:
        self.sent.append(address)
        return InvocationResult(b"null", False, b"", 1.0, None)


def test_agents_silent_while_the_store_was_away_stay_in_placement_when_it_is_back() -> None:
    """No agent can write a heartbeat while the store is away: when it is back, the last ones
    are STALE_AFTER old, and the agents must not be taken for dead until they could write."""
    now = [1000.0]
    directory, hop = Directory(), Hop()
    directory.beat(AgentStatus("a", "a:1", now[0]))
    function = a_function()
    target = Target(function, function.latest, function.arn)

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as executor:
            placement = Placement(directory, hop, executor, now=lambda: now[0])
            await placement.refresh()
            directory.away = True
            now[0] += 10  # the outage: reads fail, no heartbeat is written
            with pytest.raises(ConnectionError):
                await placement.refresh()
            directory.away = False
            await placement.refresh()  # back: the agent's last heartbeat is 10 s old
            await placement.run(target, InvocationRequest("r1", b"{}", function.arn))
            now[0] += STALE_AFTER + 1  # and still silent well after: now it is out
            await placement.refresh()
            with pytest.raises(ServiceError):
                await placement.run(target, InvocationRequest("r2", b"{}", function.arn))

    asyncio.run(scenario())
    assert hop.sent == ["a:1"]
