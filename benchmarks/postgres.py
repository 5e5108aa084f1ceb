"""Event accepts with Lambda's control plane and event queue on PostgreSQL (issue #24): the
same workload as `concurrent.async_events`, on a gureum started with `--store`, against a
private PostgreSQL cluster the harness starts in its working directory (the test suite's
`tests.support.postgres`). Delivery runs meanwhile: every accepted event is also run, and the
drain is timed as for SQLite."""

from __future__ import annotations

import time
from pathlib import Path

import uvloop
from tests.support.postgres import PostgresCluster, find_binaries

from benchmarks.concurrent import _errors, _for_count, cpu_seconds
from benchmarks.plan import Plan
from benchmarks.results import Results
from benchmarks.sigv4 import invoke_request
from benchmarks.targets import Gureum

ROWS = ("async_accept_pg", "async_drain_pg", "async_cpu_accept_pg")


def cluster(workdir: Path) -> PostgresCluster | None:
    """A private PostgreSQL for the run, started; None where this machine has none."""
    binaries = find_binaries()
    if binaries is None:
        return None
    return PostgresCluster(binaries, workdir / "postgres", basetemp=workdir).start()


def async_on_postgres(target: Gureum, results: Results, plan: Plan) -> None:
    function = target.async_function()
    signer, request = target.signer(), invoke_request(function, event=True)
    pid = target.server.pid if target.server is not None else None
    cpu_start = cpu_seconds(pid)
    start = time.perf_counter()
    tally = uvloop.run(
        _for_count(
            target.port, signer, request, plan.async_clients, plan.async_count, plan.async_cap
        )
    )
    cpu_accepted = cpu_seconds(pid)
    accepted = tally.statuses[202]
    errors = _errors(tally.statuses, 202)
    note = f"{accepted} accepted, delivery running" + (f", errors {errors}" if errors else "")
    results.set("async_accept_pg", target.name, accepted / tally.seconds, note)
    if cpu_start is not None and cpu_accepted is not None and accepted:
        per_event = (cpu_accepted - cpu_start) / accepted * 1e6
        results.set("async_cpu_accept_pg", target.name, per_event, "server process, all threads")
    deadline = time.perf_counter() + plan.drain_cap
    done = target.executed(function) or 0
    while done < accepted and time.perf_counter() < deadline:
        time.sleep(0.1)
        done = target.executed(function) or 0
    note = f"{done}/{accepted} run"
    if done < accepted:
        note += f" when stopped after {plan.drain_cap:g} s"
    results.set("async_drain_pg", target.name, done / (time.perf_counter() - start), note)
