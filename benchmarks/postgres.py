"""Event accepts with Lambda's control plane and event queue on PostgreSQL (issue #24): the
same workload as `concurrent.async_events`, on a gureum started with `--store`, against a
private PostgreSQL cluster the harness starts in its working directory (the test suite's
`tests.support.postgres`). Delivery runs meanwhile: every accepted event is also run, and the
drain is timed as for SQLite."""

from __future__ import annotations

from pathlib import Path

from tests.support.postgres import PostgresCluster, find_binaries

from benchmarks import concurrent
from benchmarks.plan import Plan
from benchmarks.results import Results
from benchmarks.targets import Gureum

ROWS = ("async_accept_pg", "async_drain_pg", "async_cpu_accept_pg")


def cluster(workdir: Path) -> PostgresCluster | None:
    """A private PostgreSQL for the run, started; None where this machine has none."""
    binaries = find_binaries()
    if binaries is None:
        return None
    return PostgresCluster(binaries, workdir / "postgres", basetemp=workdir).start()


def async_on_postgres(target: Gureum, results: Results, plan: Plan) -> None:
    concurrent.async_events(target, target.async_function(), results, plan, suffix="_pg")
