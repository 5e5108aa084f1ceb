"""Front doors and agents: invocations run on the cluster's agents (issue #24).

`gureum agent` runs sandboxes and says what it holds every heartbeat (`Heartbeat`);
`gureum serve --sandboxes agents` runs none and sends each invocation to an agent (`Placement`)
over the hop (`gureum.lambda_.api.hop`), a persistent framed connection. The invocation itself,
leases included, runs in the agent's own `Invoker.run_here`, so its rules live in one place;
the front door only chooses where (`domain.placement`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Protocol

from gureum.aws.errors import ServiceError
from gureum.lambda_.domain.placement import AgentStatus, InFlight, choose, live
from gureum.lambda_.sandbox.environment import InvocationRequest, InvocationResult
from gureum.lambda_.services.invoker import Target, slot_of

log = logging.getLogger("gureum.agents")

# How often an agent writes its heartbeat, and a front door reads them (seconds, wall time:
# not scaled by --time-scale, since they measure real hosts).
HEARTBEAT = 0.5
# An agent not heard from for this long is out of placement until its next heartbeat.
STALE_AFTER = 3.0


class AgentDirectory(Protocol):
    """Where agents' heartbeats are kept (blocking: worker threads)."""

    def beat(self, status: AgentStatus) -> None: ...

    def leave(self, agent_id: str) -> None: ...

    def agents(self) -> list[AgentStatus]: ...


class Hop(Protocol):
    """The connection to agents: runs `request` on the agent at `address`."""

    async def run(
        self, address: str, target: Target, request: InvocationRequest
    ) -> InvocationResult: ...


class Placement:
    """The front door's side: the agents' latest heartbeats, refreshed by `follow` (a task
    the assembly owns), and `run`, which sends an invocation where `domain.placement` says."""

    def __init__(
        self,
        directory: AgentDirectory,
        hop: Hop,
        executor: Executor,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._hop = hop
        self._executor = executor
        self._now = now
        self._agents: list[AgentStatus] = []
        # When reads of the heartbeats came back after failing (`domain.placement`: the agents
        # could not write meanwhile either), and whether the last read failed.
        self._back = 0.0
        self._failing = False
        self._in_flight = InFlight()
        # The tasks waiting on each agent's answer, so that an agent that goes silent (dead,
        # stopped, cut off) fails them at once instead of after the function's timeout.
        self._waiting: dict[str, set[asyncio.Task[object]]] = {}
        self._lost: set[asyncio.Task[object]] = set()

    @property
    def agents(self) -> list[AgentStatus]:
        return list(self._agents)

    async def refresh(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._agents = await loop.run_in_executor(self._executor, self._directory.agents)
        except Exception:
            self._failing = True
            raise
        if self._failing:
            self._failing, self._back = False, self._now()
        now = self._now()
        alive = {agent.agent_id for agent in live(self._agents, now, STALE_AFTER, self._back)}
        for agent_id, tasks in self._waiting.items():
            if agent_id not in alive:
                for task in tasks - self._lost:
                    self._lost.add(task)
                    task.cancel()

    async def follow(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # the store away: keep the last view, try again
                log.warning("could not read the agents' heartbeats: %s", exc)
            await asyncio.sleep(HEARTBEAT)

    async def run(self, target: Target, request: InvocationRequest) -> InvocationResult:
        _, key = slot_of(target.function, target.version)
        agent = choose(self._agents, key, self._now(), STALE_AFTER, self._in_flight, self._back)
        if agent is None:
            log.error("no agent is live to run %s (none heard from lately)", target.invoked_arn)
            raise ServiceError("An internal error occurred: no agent can run the function now.")
        self._in_flight.add(agent.agent_id, key)
        task = asyncio.current_task()
        assert task is not None
        waiting = self._waiting.setdefault(agent.agent_id, set())
        waiting.add(task)
        try:
            return await self._hop.run(agent.address, target, request)
        except asyncio.CancelledError:
            if task not in self._lost:
                raise  # the caller's own cancellation
            task.uncancel()
            log.error(
                "agent %s went silent during invocation %s", agent.agent_id, request.request_id
            )
            raise ServiceError(
                "An internal error occurred: the agent running the function was lost."
            ) from None
        finally:
            self._lost.discard(task)
            waiting.discard(task)
            if not waiting:
                self._waiting.pop(agent.agent_id, None)
            self._in_flight.done(agent.agent_id, key)


class HostState(Protocol):
    """What an agent reports of its host's environments (the pool)."""

    @property
    def running(self) -> int: ...

    def idle_by_key(self) -> dict[str, int]: ...

    def provisioned_by_key(self) -> dict[str, int]: ...


class Heartbeat:
    """The agent's side: its status written every `HEARTBEAT` seconds until cancelled; its row
    deleted when it stops cleanly (`leave`), so front doors stop sending at once."""

    def __init__(
        self,
        directory: AgentDirectory,
        host: HostState,
        agent_id: str,
        address: str,
        executor: Executor,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._host = host
        self.agent_id = agent_id
        self.address = address
        self._executor = executor
        self._now = now

    def status(self) -> AgentStatus:
        host = self._host
        return AgentStatus(
            self.agent_id,
            self.address,
            self._now(),
            host.running,
            host.idle_by_key(),
            host.provisioned_by_key(),
        )

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(self._executor, self._directory.beat, self.status())
            except Exception as exc:  # the store away: front doors will see this agent stale
                log.warning("could not write this agent's heartbeat: %s", exc)
            await asyncio.sleep(HEARTBEAT)

    async def leave(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._directory.leave, self.agent_id)
        except Exception as exc:
            log.warning("could not take this agent out of placement: %s", exc)
