"""Where a front door sends an invocation: which agent of the cluster runs it.

Agents (`gureum agent`) own a host's sandboxes and say every heartbeat what they hold: how many
invocations run there, and how many idle environments each version key has (a key names a
version at one revision, `services.invoker.slot_of`). A front door keeps the latest of these and
chooses, for each invocation:
- among live agents (heard from within `stale_after` seconds: a stopped or cut-off agent drops
  out of placement, and comes back with its next heartbeat),
- one holding provisioned environments of the version, more of them than this front door has
  invocations of the version in flight there: AWS serves a version from its provisioned
  concurrency first and spills over on demand only past it. They count busy or idle: a
  heartbeat taken during an invocation says the provisioned environment is not idle, and an
  idle on-demand environment elsewhere (a spillover's) or a lighter load would otherwise draw
  the version's invocations away from it, to cold starts and on-demand environments (issue #24),
- else one with an idle environment of the version, so a warm invoke stays warm; the
  invocations the front door sent there since that heartbeat are counted against those idle
  environments, so a burst does not pile onto one environment while others sit idle elsewhere,
- else the least loaded (running plus what this front door has in flight there): the cold start
  goes where it waits least.
Ties go to the agent id, so the choice is stable.

While the store itself was away, no agent could write a heartbeat and no front door read one:
silence then says nothing of the agents. `back` is when this front door's reads came back after
failing; an agent's staleness counts from then at the earliest, so a store restart does not take
every agent out of placement until each writes again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """One agent as its latest heartbeat described it."""

    agent_id: str
    address: str  # host:port of its hop listener
    seen: float  # epoch seconds of the heartbeat
    running: int = 0
    idle: Mapping[str, int] = field(default_factory=dict)
    provisioned: Mapping[str, int] = field(default_factory=dict)  # serving, busy or idle


@dataclass(slots=True)
class InFlight:
    """What this front door has sent to agents and not had answered yet."""

    by_agent: dict[str, int] = field(default_factory=dict)
    by_key: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, agent_id: str, key: str) -> None:
        self.by_agent[agent_id] = self.by_agent.get(agent_id, 0) + 1
        self.by_key[(agent_id, key)] = self.by_key.get((agent_id, key), 0) + 1

    def done(self, agent_id: str, key: str) -> None:
        left = self.by_agent.get(agent_id, 0) - 1
        if left > 0:
            self.by_agent[agent_id] = left
        else:
            self.by_agent.pop(agent_id, None)
        pair = (agent_id, key)
        left = self.by_key.get(pair, 0) - 1
        if left > 0:
            self.by_key[pair] = left
        else:
            self.by_key.pop(pair, None)


def live(
    agents: Sequence[AgentStatus], now: float, stale_after: float, back: float = 0.0
) -> list[AgentStatus]:
    return [agent for agent in agents if now - max(agent.seen, back) <= stale_after]


def choose(
    agents: Sequence[AgentStatus],
    key: str,
    now: float,
    stale_after: float,
    in_flight: InFlight,
    back: float = 0.0,
) -> AgentStatus | None:
    """The agent to run an invocation of version `key`; None when no agent is live."""
    candidates = live(agents, now, stale_after, back)

    def load(agent: AgentStatus) -> tuple[int, str]:
        return agent.running + in_flight.by_agent.get(agent.agent_id, 0), agent.agent_id

    def sent(agent: AgentStatus) -> int:
        return in_flight.by_key.get((agent.agent_id, key), 0)

    provisioned = [agent for agent in candidates if agent.provisioned.get(key, 0) > sent(agent)]
    warm = [agent for agent in candidates if agent.idle.get(key, 0) > sent(agent)]
    pool = provisioned or warm or candidates
    return min(pool, key=load) if pool else None
