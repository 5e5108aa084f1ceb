"""Placement (domain.placement): provisioned first, then warm, else least loaded, live agents
only."""

from __future__ import annotations

import pytest

from gureum.lambda_.domain.placement import AgentStatus, InFlight, choose

NOW, STALE = 1000.0, 3.0


def agent(name: str, running: int = 0, seen: float = NOW, **idle: int) -> AgentStatus:
    return AgentStatus(
        name, f"{name}:1", seen, running, {k.replace("_", "#"): v for k, v in idle.items()}
    )


@pytest.mark.parametrize(
    ("agents", "sent", "expected", "back"),
    [
        # No agent, or none heard from lately: nowhere to run.
        ([], [], None, 0.0),
        ([agent("a", seen=NOW - 10)], [], None, 0.0),
        # Warm wins over less loaded.
        ([agent("a", running=5, v_1=1), agent("b")], [], "a", 0.0),
        # Cold: the least loaded; ties to the id.
        ([agent("a", running=2), agent("b", running=1)], [], "b", 0.0),
        ([agent("b"), agent("a")], [], "a", 0.0),
        # Another version's idle environment is no reason to go there.
        ([agent("a", v_2=3), agent("b")], [], "a", 0.0),
        ([agent("a", running=1, v_2=3), agent("b")], [], "b", 0.0),
        # What this front door sent since the heartbeat uses up idle environments ...
        ([agent("a", v_1=1), agent("b", running=1, v_1=1)], [("a", "v#1")], "b", 0.0),
        # ... and counts as load.
        ([agent("a"), agent("b", running=1)], [("a", "v#9"), ("a", "v#9")], "b", 0.0),
        # A stale agent is skipped even when it is warm.
        ([agent("a", seen=NOW - 4, v_1=1), agent("b", running=7)], [], "b", 0.0),
        # The store was away (no heartbeat written or read): silence counts from its return.
        ([agent("a", seen=NOW - 10)], [], "a", NOW - 1),
        ([agent("a", seen=NOW - 10)], [], None, NOW - 4),
    ],
)
def test_choose(
    agents: list[AgentStatus], sent: list[tuple[str, str]], expected: str | None, back: float
) -> None:
    in_flight = InFlight()
    for agent_id, key in sent:
        in_flight.add(agent_id, key)
    chosen = choose(agents, "v#1", NOW, STALE, in_flight, back)
    assert (chosen.agent_id if chosen else None) == expected


def holding(name: str, provisioned: int, running: int = 0, **idle: int) -> AgentStatus:
    """An agent with `provisioned` serving environments of v#1."""
    plain = agent(name, running, **idle)
    return AgentStatus(name, plain.address, NOW, running, plain.idle, {"v#1": provisioned})


@pytest.mark.parametrize(
    ("agents", "sent", "expected"),
    [
        # Provisioned first, even busy (a heartbeat taken during an invocation), even against
        # an idle on-demand environment elsewhere (a spillover's) and a lighter load.
        ([agent("a", v_1=1), holding("b", 1, running=1)], [], "b"),
        ([agent("a", v_1=1), holding("b", 1, running=1, v_1=1)], [], "b"),
        # Past what this front door has in flight there: spill over, warm first ...
        ([agent("a", running=3, v_1=1), holding("b", 1)], [("b", "v#1")], "a"),
        # ... else the least loaded.
        ([agent("a"), holding("b", 1)], [("b", "v#1")], "a"),
        ([holding("a", 1), holding("b", 2)], [("a", "v#1"), ("b", "v#1")], "b"),
        # Another version's provisioned environments are no reason to go there.
        ([agent("a", v_1=1), AgentStatus("b", "b:1", NOW, 0, {}, {"v#2": 1})], [], "a"),
    ],
)
def test_provisioned_environments_come_first(
    agents: list[AgentStatus], sent: list[tuple[str, str]], expected: str
) -> None:
    in_flight = InFlight()
    for agent_id, key in sent:
        in_flight.add(agent_id, key)
    chosen = choose(agents, "v#1", NOW, STALE, in_flight)
    assert chosen is not None
    assert chosen.agent_id == expected


def test_in_flight_counts_come_back_to_nothing() -> None:
    in_flight = InFlight()
    in_flight.add("a", "k")
    in_flight.add("a", "k")
    in_flight.done("a", "k")
    assert in_flight.by_agent == {"a": 1}
    in_flight.done("a", "k")
    assert in_flight.by_agent == {}
    assert in_flight.by_key == {}
