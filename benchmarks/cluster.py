"""A cluster on this one machine (issue #24): front doors and agents on a private PostgreSQL and
Redis, measured against the embedded server of the same run.

- the hop: warm invokes through a front door to an agent and the same invokes sent to the
  agent's own API (the same PostgreSQL stores and Redis ledger, no hop), one of each in turn,
  and the difference: what the hop itself costs. The embedded server's `warm_p50` (SQLite,
  in-process ledger) is beside them; the Redis ledger's own cost is `ledger_lease_p50`;
- a cold start through an agent (the front door's Invoke to a version no agent holds yet), back
  to back and isolated, as the embedded server's are;
- warm throughput with one front door and one agent, then with two of each (the clients split
  between the front doors). On two cores the second pair shares the same cores as the first:
  the figure shows what the extra processes cost or gain here, not what more hosts would.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvloop
from tests.support.redis import redis_server_binary
from tests.support.server import free_port

from benchmarks import concurrent, ledger, sequential
from benchmarks.plan import Plan
from benchmarks.postgres import cluster as postgres_cluster
from benchmarks.processes import Supervisor
from benchmarks.results import WORKLOAD_ROWS, Results, median, percentile
from benchmarks.sigv4 import invoke_request
from benchmarks.targets import Gureum

ROWS = WORKLOAD_ROWS["cluster"]


class Cluster:
    """The processes of one cluster, started through the run's supervisor."""

    def __init__(self, supervisor: Supervisor, workdir: Path, common: tuple[str, ...]) -> None:
        self.supervisor = supervisor
        self.workdir = workdir
        self.common = common
        self.doors: list[Gureum] = []
        self.agents: list[Gureum] = []

    def add_agent(self) -> Gureum:
        hop = ("--hop", f"127.0.0.1:{free_port()}")
        agent = Gureum(free_port(), self.workdir, extra=(*self.common, *hop), subcommand="agent")
        agent.start(self.supervisor)
        self.agents.append(agent)
        return agent

    def add_door(self) -> Gureum:
        door = Gureum(free_port(), self.workdir, extra=(*self.common, "--sandboxes", "agents"))
        door.start(self.supervisor)
        self.doors.append(door)
        self.wait_for_agents(door)
        return door

    def wait_for_agents(self, door: Gureum, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while len(door.health().get("agents", [])) < len(self.agents):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the front door sees {door.health().get('agents')}")
            time.sleep(0.2)

    def stop(self) -> None:
        for target in [*self.doors, *self.agents]:
            if target.server is not None:
                self.supervisor.stop(target.server)
                target.server = None


def _throughput(doors: list[Gureum], function: str, clients: int, seconds: float) -> float:
    """Invocations a second, `clients` split between `doors`, all sending at once."""
    rates: list[float] = []

    def drive(door: Gureum, share: int) -> None:
        signer, request = door.signer(), invoke_request(function)
        tally = uvloop.run(concurrent._for_duration(door.port, signer, request, share, seconds))
        rates.append(tally.statuses[200] / tally.seconds)

    shares = [clients // len(doors)] * len(doors)
    pairs = zip(doors, shares, strict=True)
    threads = [threading.Thread(target=drive, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(rates)


def on_a_cluster(supervisor: Supervisor, results: Results, plan: Plan, workdir: Path) -> None:
    """Every row of this module, on a cluster of its own; raises when one cannot be had."""
    postgres = postgres_cluster(workdir)
    binary = redis_server_binary()
    if postgres is None or binary is None:
        raise RuntimeError("no PostgreSQL or no redis-server here")
    redis_port = free_port()
    redis = ledger.start_redis(supervisor, binary, redis_port, workdir)
    common = (
        "--store",
        postgres.database(),
        "--ledger",
        f"redis://127.0.0.1:{redis_port}/0",
        "--shared-dir",
        str(workdir / "cluster-shared"),
    )
    made = Cluster(supervisor, workdir, common)
    try:
        made.add_agent()
        door = made.add_door()
        noop = door.noop()
        # The same function through the agent's own API (the same stores and Redis ledger, no
        # hop), taken in turn with the front door's: the difference of the p50s is what the hop
        # costs. The embedded server (in-process ledger, SQLite) is `warm_p50`.
        agent = made.agents[0]
        hopped, direct, statuses = sequential.warm_latency_paired(door, agent, noop, plan)
        note = sequential._note(statuses, 200, len(hopped) + len(direct))
        results.set("hop_warm_p50", "gureum", median(hopped), note)
        results.set("hop_warm_p99", "gureum", percentile(hopped, 0.99), note)
        results.set("hop_agent_p50", "gureum", median(direct), note)
        results.set("hop_agent_p99", "gureum", percentile(direct, 0.99), note)
        extra = (median(hopped) - median(direct)) * 1000
        note = "front door to agent p50 minus the agent's own p50, taken in turn"
        results.set("hop_extra_p50", "gureum", extra, note)
        sequential.cold_start(door, results, plan, prefix="hop_cold")
        sequential.cold_start(door, results, plan, isolated=True, prefix="hop_cold_iso")
        clients = max(plan.clients)
        _throughput([door], noop, clients, plan.tput_warmup)
        rate = _throughput([door], noop, clients, plan.tput_seconds)
        results.set("cluster_tput_1x1", "gureum", rate, f"{clients} clients")
        made.add_agent()
        second = made.add_door()
        made.wait_for_agents(door)
        _throughput([door, second], noop, clients, plan.tput_warmup)
        rate = _throughput([door, second], noop, clients, plan.tput_seconds)
        results.set("cluster_tput_2x2", "gureum", rate, f"{clients} clients over two doors")
    finally:
        made.stop()
        supervisor.stop(redis)
        postgres.stop()
