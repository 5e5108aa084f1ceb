"""The benchmark suite's entry point.

    python -m benchmarks.run [--quick] [--peers] [--out DIR] [--peers-dir DIR]

Starts the floor servers, gureum and (with `--peers`) the peers, one after another, runs every
workload each can do, stops everything (on Ctrl-C too), prints the table and writes
`results.json`, `RESULTS.md` and `results.png` into `--out` (default: `benchmarks/`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import importlib.metadata
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks import concurrent, ledger, s3, sequential, triggers
from benchmarks.cluster import ROWS as CLUSTER_ROWS
from benchmarks.cluster import on_a_cluster
from benchmarks.development import development
from benchmarks.efs import efs
from benchmarks.enforce import warm_enforced
from benchmarks.page import chart, machine, page
from benchmarks.peers import MiniStack, PeerUnavailable, ServerlessOffline
from benchmarks.plan import FULL, QUICK, Plan
from benchmarks.postgres import ROWS as POSTGRES_ROWS
from benchmarks.postgres import async_on_postgres, cluster
from benchmarks.processes import Supervisor
from benchmarks.provisioned import provisioned
from benchmarks.report import plain, write_json
from benchmarks.results import WORKLOAD_ROWS, Results
from benchmarks.snap_start import snap_start
from benchmarks.targets import Floor, Gureum, RawFloor, Target, Workloads

HERE = Path(__file__).resolve().parent
_START = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - _START:6.1f}s] {text}", flush=True)


def free_ports(count: int = 1) -> int:
    """The first of `count` consecutive free loopback ports."""
    for _ in range(200):
        base = random.randrange(20_000, 40_000)
        with contextlib.ExitStack() as stack:
            try:
                for port in range(base, base + count):
                    probe = stack.enter_context(socket.socket())
                    probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise RuntimeError("no free ports")


def selected(results: Results, workload: str) -> bool:
    """Whether `--only` (kept in the results' metadata, which the page shows) lets it run."""
    only = results.meta.get("only")
    return not only or workload in only


def attempt(results: Results, target: Target, workload: str, action: Callable[[], None]) -> None:
    """Run one workload; a target that cannot, or that fails, gets the reason in its cells."""
    rows = WORKLOAD_ROWS[workload]
    if not selected(results, workload):
        results.explain(rows, target.name, "not run: --only")
        return
    if (reason := target.cannot(workload)) is not None:
        results.explain(rows, target.name, f"cannot: {reason}")
        return
    say(f"{target.name}: {workload}")
    try:
        action()
    except Exception as error:
        say(f"{target.name}: {workload} failed: {type(error).__name__}: {error}")
        traceback.print_exc()
        results.explain(rows, target.name, f"failed: {type(error).__name__}: {error}"[:200])


@contextlib.contextmanager
def started(target: Target, supervisor: Supervisor, results: Results) -> Iterator[Target]:
    """The target's server, running for the block and stopped after it, whatever happens."""
    say(f"starting {target.name} on port {target.port}")
    loads = results.meta.setdefault("load_at_start", {})
    key = f"{target.name} (scale)" if target.name in loads else target.name
    loads[key] = round(os.getloadavg()[0], 2)
    try:
        target.start(supervisor)
        yield target
    finally:
        if target.server is not None:
            say(f"stopping {target.name}")
            supervisor.stop(target.server)
            target.server = None


def common(target: Target, results: Results, plan: Plan) -> None:
    """Warm latency, throughput, Event accepts (and drain) and boto3, on no-op functions."""
    noop = target.noop()
    attempt(results, target, "warm", lambda: sequential.warm_latency(target, noop, results, plan))
    attempt(
        results, target, "throughput", lambda: concurrent.throughput(target, noop, results, plan)
    )
    events = target.async_function()
    attempt(
        results, target, "async", lambda: concurrent.async_events(target, events, results, plan)
    )
    attempt(results, target, "boto3", lambda: sequential.boto3_latency(target, noop, results, plan))


def run_floor(supervisor: Supervisor, results: Results, plan: Plan, workdir: Path) -> None:
    floor = Floor(free_ports(), workdir)
    with started(floor, supervisor, results):
        common(floor, results, plan)
        attempt(results, floor, "control", lambda: sequential.control_plane(floor, results, plan))
    cold_rows = (
        "cold_p50",
        "cold_p99",
        "cold_iso_p50",
        "cold_iso_p99",
        "pc_first_p50",
        "pc_first_p99",
        "warm_console_p50",
        "warm_console_p99",
        "pc_warm_after_pause_p50",
        "enforce_warm_p50",
        "enforce_warm_p99",
        "redis_warm_p50",
        "redis_warm_p99",
    )
    sources = ("warm_p50", "warm_p99") * 4 + ("warm_p50",) + ("warm_p50", "warm_p99") * 2
    for key, source in zip(cold_rows, sources, strict=True):
        results.set(key, "floor", results.value(source, "floor"), "floor: its warm latency")
    results.set("scale_time", "floor", plan.scale_sleep, "floor: the handler's sleep (ideal)")
    for key in ("pc_ready_10", "pc_ready_many", "pc_idle_cpu", "pc_idle_mem"):
        results.explain((key,), "floor", "cannot: a do-nothing server has no functions to start")
    warm = results.value("warm_p50", "floor")
    results.set("snap_restore_p50", "floor", warm, "floor: its warm p50")
    snap_rows = tuple(key for key in WORKLOAD_ROWS["snapstart"] if key != "snap_restore_p50")
    results.explain(snap_rows, "floor", "cannot: a do-nothing server has no functions to start")
    results.explain(("authorize_p50",), "floor", "cannot: a do-nothing server authorizes nothing")
    results.explain(("ledger_lease_p50",), "floor", "cannot: a do-nothing server leases nothing")
    no_functions = "cannot: a do-nothing server has no functions"
    results.explain(WORKLOAD_ROWS["development"], "floor", no_functions)
    results.explain(WORKLOAD_ROWS["efs"], "floor", "cannot: a do-nothing server mounts nothing")
    results.explain(
        WORKLOAD_ROWS["triggers"], "floor", "cannot: a do-nothing server has no triggers"
    )
    if not (selected(results, "warm") or selected(results, "throughput")):
        return
    raw = RawFloor(free_ports(), workdir)
    with started(raw, supervisor, results):
        attempt(results, raw, "warm", lambda: sequential.warm_latency(raw, "f", results, plan))
        attempt(results, raw, "throughput", lambda: concurrent.throughput(raw, "f", results, plan))
    note = "not run: the raw floor is shown for warm latency and throughput only"
    workloads = ("cold", "async", "scale", "control", "boto3", "provisioned", "warm_console")
    more = ("warm_enforce", "snapstart", "s3", "development", "efs", "triggers")
    for workload in (*workloads, *more):
        results.explain(WORKLOAD_ROWS[workload], raw.name, note)


def run_full_set(target: Target, supervisor: Supervisor, results: Results, plan: Plan) -> None:
    """Every workload but scale, on one running server: cold start first, on a fresh one."""
    with started(target, supervisor, results):
        if isinstance(target, Gureum):
            sequential.verify_signing(target)
            results.meta["versions"]["gureum"] = f"{target.version()} ({git_commit()})"
        attempt(results, target, "cold", lambda: sequential.cold_start(target, results, plan))
        attempt(
            results,
            target,
            "cold_isolated",
            lambda: sequential.cold_start(target, results, plan, isolated=True),
        )
        common(target, results, plan)
        if isinstance(target, Gureum):  # the console is gureum's own
            noop = target.noop()
            attempt(
                results,
                target,
                "warm_console",
                lambda: sequential.warm_latency_watched(target, noop, results, plan),
            )
        else:
            results.explain(WORKLOAD_ROWS["warm_console"], target.name, "no console")
        attempt(results, target, "control", lambda: sequential.control_plane(target, results, plan))
        attempt(results, target, "provisioned", lambda: provisioned(target, results, plan))
        attempt(results, target, "snapstart", lambda: snap_start(target, results, plan))
        if isinstance(target, Gureum):
            scratch = target.workdir / "raw-disk"
            attempt(results, target, "s3", lambda: s3.objects(target, results, plan, scratch))
            events = target.async_function()
            attempt(results, target, "s3", lambda: s3.events(target, events, results, plan))
        else:
            results.explain(WORKLOAD_ROWS["s3"], target.name, "cannot: no S3 here")
        if isinstance(target, Gureum):
            attempt(results, target, "development", lambda: development(target, results, plan))
        else:
            note = "cannot: no hot reload, and no streaming that streams"
            results.explain(WORKLOAD_ROWS["development"], target.name, note)
        attempt(results, target, "efs", lambda: efs(target, results, plan))
        if isinstance(target, Gureum):
            noop, mapped = target.noop(), target.noop()
            attempt(
                results,
                target,
                "triggers",
                lambda: triggers.function_urls(target, noop, results, plan),
            )
            attempt(
                results,
                target,
                "triggers",
                lambda: triggers.sqs_mapping(target, mapped, results, plan),
            )
        else:
            results.explain(WORKLOAD_ROWS["triggers"], target.name, "not measured on peers")


def run_enforce(supervisor: Supervisor, results: Results, plan: Plan, workdir: Path) -> None:
    """The warm row again on a server of its own under `--iam enforce`, signed as an IAM user."""
    if not selected(results, "warm_enforce"):
        results.explain(WORKLOAD_ROWS["warm_enforce"], "gureum", "not run: --only")
        return
    target = Gureum(free_ports(), workdir, iam="enforce")
    with started(target, supervisor, results):
        attempt(results, target, "warm_enforce", lambda: warm_enforced(target, results, plan))


def run_ledger(supervisor: Supervisor, results: Results, plan: Plan, workdir: Path) -> None:
    """The warm row again on a server of its own whose ledger is on a redis-server the run
    starts, and the lease's own cost against that Redis."""
    rows = WORKLOAD_ROWS["warm_redis"]
    if not selected(results, "warm_redis"):
        results.explain(rows, "gureum", "not run: --only")
        return
    binary = ledger.redis_binary()
    if binary is None:
        results.explain(rows, "gureum", "cannot: no redis-server (apt-get install redis-server)")
        return
    port = free_ports()
    url = f"redis://127.0.0.1:{port}/0"
    target = Gureum(free_ports(), workdir, ledger=url)
    # Registered with the supervisor as it starts: stopped below, or with everything on exit.
    redis = ledger.start_redis(supervisor, binary, port, workdir)
    try:
        with started(target, supervisor, results):
            warm = functools.partial(ledger.warm_on_redis, target, results, plan)
            attempt(results, target, "warm_redis", warm)
        attempt(results, target, "warm_redis", lambda: ledger.lease_cost(url, results, plan))
    finally:
        supervisor.stop(redis)


def run_postgres(supervisor: Supervisor, results: Results, plan: Plan, workdir: Path) -> None:
    """Event accepts on a gureum of its own with `--store` on a private PostgreSQL."""
    for other in (name for name in results.targets if name != "gureum"):
        results.explain(POSTGRES_ROWS, other, "cannot: gureum's scale-out store only")
    if not selected(results, "async_pg"):
        results.explain(POSTGRES_ROWS, "gureum", "not run: --only")
        return
    postgres = cluster(workdir)
    if postgres is None:
        results.explain(POSTGRES_ROWS, "gureum", "not run: no PostgreSQL (initdb) here")
        return
    try:
        target = Gureum(free_ports(), workdir, store=postgres.database())
        with started(target, supervisor, results):
            attempt(results, target, "async_pg", lambda: async_on_postgres(target, results, plan))
    finally:
        postgres.stop()


def run_cluster(supervisor: Supervisor, results: Results, plan: Plan, workdir: Path) -> None:
    """Front doors and agents on a private PostgreSQL and Redis (benchmarks.cluster)."""
    for other in (name for name in results.targets if name != "gureum"):
        results.explain(CLUSTER_ROWS, other, "cannot: gureum's cluster only")
    if not selected(results, "cluster"):
        results.explain(CLUSTER_ROWS, "gureum", "not run: --only")
        return
    say("gureum: cluster (front doors and agents)")
    try:
        on_a_cluster(supervisor, results, plan, workdir)
    except Exception as error:
        say(f"gureum: cluster failed: {type(error).__name__}: {error}")
        traceback.print_exc()
        results.explain(CLUSTER_ROWS, "gureum", f"failed: {type(error).__name__}: {error}"[:200])


def run_scale(
    target: Target, supervisor: Supervisor, results: Results, plan: Plan, count: int
) -> None:
    """The scale workload on a server of its own, so that memory counts nothing else."""
    if not selected(results, "scale"):  # not even the server: it takes a while to start
        results.explain(WORKLOAD_ROWS["scale"], target.name, "not run: --only")
        return
    with started(target, supervisor, results):
        sleeper = target.sleeper()
        attempt(
            results,
            target,
            "scale",
            lambda: concurrent.scale(target, sleeper, results, plan, count),
        )


def run_peers(
    supervisor: Supervisor, results: Results, plan: Plan, workdir: Path, scratch: Path
) -> None:
    cold = plan.cold_count + plan.cold_isolated_count
    workloads = Workloads(cold_functions=cold, scale=plan.scale)
    makers: list[Callable[[], Target]] = [
        lambda: ServerlessOffline(free_ports(4), workdir, scratch, workloads),
        lambda: MiniStack(free_ports(), workdir, scratch),
    ]
    for make in makers:
        peer = make()
        results.add_target(peer.name)
        try:
            run_full_set(peer, supervisor, results, plan)
            no_iam = "cannot: no IAM to enforce"
            results.explain(WORKLOAD_ROWS["warm_enforce"], peer.name, no_iam)
            results.meta["peers"][peer.name] = f"ran ({peer.version()}). {peer.notes}"
            results.meta["versions"][peer.name] = peer.version()
            # A peer's environment is a whole interpreter (MiniStack's: about 20 MB): keep the
            # peers' scale run well inside the memory this machine has free.
            count = min(plan.scale, available_mib() // 40)
            if count < plan.scale:
                results.meta["peers"][peer.name] += f" Scale run with N={count}, to fit memory."
            run_scale(make(), supervisor, results, plan, count)
        except (PeerUnavailable, RuntimeError, OSError) as error:
            reason = f"skipped: {error}".splitlines()[0][:300]
            say(f"{peer.name} {reason}")
            results.meta["peers"][peer.name] = reason
            for rows in WORKLOAD_ROWS.values():
                results.explain(rows, peer.name, reason)


def available_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


def git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "no git"
    if done.returncode != 0:
        return "no git"
    dirty = subprocess.run(
        ["git", "diff", "--quiet", "HEAD", "--", "src"], cwd=HERE.parent, check=False
    ).returncode
    return f"commit {done.stdout.strip()}" + (" + uncommitted changes in src/" if dirty else "")


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for package in ("uvicorn", "httptools", "uvloop", "boto3", "botocore"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    with contextlib.suppress(OSError):
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
        versions["node"] = node.stdout.strip()
    return versions


def method_notes(plan: Plan) -> list[str]:
    return [
        "Client: one process of its own (the harness), separate from every server. A small "
        "SigV4 signer (hmac/hashlib; signing key cached per date, signed bytes cached per second, "
        "which is the resolution of X-Amz-Date) and raw HTTP/1.1 keep-alive: a blocking socket "
        "for sequential workloads, asyncio + uvloop protocols for concurrent ones. The same "
        "client drives gureum, the floors and the peers in the same run.",
        f"Cold start: {plan.cold_count} functions created with boto3 and waited Active "
        "(untimed), then each invoked once with `X-Amz-Log-Type: Tail`; end-to-end time at the "
        "client, and the Init Duration of the REPORT line where the target reports one. The "
        "floor has no cold start: its column holds its warm latency. Back to back, then "
        f"isolated: {plan.cold_isolated_count} more functions, each invoked after "
        f"{plan.cold_pause * 1000:.0f} ms of quiet (untimed), so no cold start overlaps what the "
        "one before left running: the isolated figure is what a user feels.",
        f"Warm latency: {plan.latency_count} sequential invokes (payload `{{}}`) of one function "
        f"after {plan.latency_warmup} warm-up invokes, capped at {plan.latency_cap:g} s.",
        f"Throughput: 1, 8 and 32 clients, each with its own keep-alive connection, for "
        f"{plan.tput_seconds:g} s after a {plan.tput_warmup:g} s warm-up; 200s only.",
        f"Events: {plan.async_count} `Event` invokes from {plan.async_clients} clients; accepts/s "
        "counts 202s. End to end: until all have run, by `aws_lambda_Invocations_total` at "
        "`/_gureum/metrics` (gureum) or a handler appending a byte to a file (peers). Sending "
        f"stops after {plan.async_cap:g} s, waiting for the drain after {plan.drain_cap:g} s.",
        f"Scale: {plan.scale} invokes of one function sleeping {plan.scale_sleep:g} s, all at "
        "once on as many connections, on a freshly started server (gureum with "
        f"`--account-concurrency {plan.scale + 100}`). Memory is PSS from "
        "`/proc/PID/smaps_rollup` once all returned, while the environments are still warm: "
        "'its processes' sums everything below gureum's zygotes (each environment's sandbox "
        "keeper, init and runtime; for peers, every process under the server); 'all-in' adds "
        "the server and the zygotes; both divide by the environments alive.",
        f"Control plane: with the lean client (not boto3), sequentially: {plan.control_count} "
        "CreateFunction (a 200-byte zip), then PublishVersion and GetFunction on each.",
        "boto3: `client.invoke` sequentially, retries off, payload read.",
        "Events on PostgreSQL: the Events workload again on a gureum of its own started with "
        "`--store` on a private PostgreSQL cluster (initdb in the working directory, defaults "
        "but for the port: fsync and synchronous_commit on), delivery running meanwhile.",
        "Cluster (gureum only): on the same machine, a private PostgreSQL and Redis, one agent "
        "(`gureum agent`) and one front door (`--sandboxes agents`); warm invokes through the "
        "front door and through the agent's own API (same stores and Redis ledger, no hop), "
        "one of each in turn so that both see the same moment of the machine: the hop's cost "
        "is the difference of the p50s. Cold starts are "
        "the cold workloads through the front door, back to back and isolated. Throughput: "
        "the largest client count "
        "through one front door and agent, then split over two of each; on two cores the "
        "second pair shares the first's cores, so it shows the cost of more processes here, "
        "not what more hosts give.",
        "--iam enforce: the warm latency workload on a server of its own started with "
        "`--iam enforce`, signed as an IAM user whose inline policy allows "
        "lambda:InvokeFunction (the account's root is never checked); beside it, the "
        "authorizer's own cost per request measured in process (benchmarks/authorization.py).",
        f"EFS (gureum only): {plan.cold_isolated_count} pairs of fresh functions, one without "
        "a file system and one mounting an access point, each invoked once after the isolated "
        "pause, alternating; the mount's cost is the median of the pairs' differences. "
        "Throughput: a function writes 64 MB through its mount (fsync'd) and reads it back, "
        "three times; the harness does the same in the file system's directory on the host.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about a minute instead of ten")
    parser.add_argument("--peers", action="store_true", help="also serverless-offline, MiniStack")
    parser.add_argument("--out", type=Path, default=HERE, help="where results go (benchmarks/)")
    parser.add_argument("--peers-dir", type=Path, default=Path("/tmp/gureum-bench-peers"))
    parser.add_argument("--keep", action="store_true", help="keep the servers' logs and data")
    parser.add_argument(
        "--only",
        type=lambda text: [w for w in text.split(",") if w],
        default=[],
        metavar="WORKLOAD,...",
        help=f"run only these workloads ({', '.join(WORKLOAD_ROWS)}); the rest say 'not run'",
    )
    args = parser.parse_args(argv)
    if unknown := set(args.only) - set(WORKLOAD_ROWS):
        parser.error(f"--only: no workload {', '.join(sorted(unknown))}")
    plan = QUICK if args.quick else FULL
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    results = Results()
    flags = " --quick" * args.quick + " --peers" * args.peers
    flags += f" --only {','.join(args.only)}" if args.only else ""
    results.meta.update(
        only=args.only,
        command=f"python -m benchmarks.run{flags}",
        mode=plan.mode,
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine(),
        versions=package_versions(),
        method=method_notes(plan),
        peers={},
    )
    load_start = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="gureum-bench-"))
    say(f"{plan.mode} run; servers' logs and data in {workdir}")
    try:
        with Supervisor() as supervisor:
            run_floor(supervisor, results, plan, workdir)
            run_full_set(Gureum(free_ports(), workdir), supervisor, results, plan)
            run_enforce(supervisor, results, plan, workdir)
            run_ledger(supervisor, results, plan, workdir)
            run_postgres(supervisor, results, plan, workdir)
            run_cluster(supervisor, results, plan, workdir)
            scale_server = Gureum(free_ports(), workdir, account_concurrency=plan.scale + 100)
            run_scale(scale_server, supervisor, results, plan, plan.scale)
            if args.peers:
                run_peers(supervisor, results, plan, workdir, args.peers_dir)
    except KeyboardInterrupt:
        say("interrupted: every server was stopped")
        return 130
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    results.meta["load"] = (load_start, os.getloadavg()[0])
    results.meta["seconds"] = time.monotonic() - _START
    args.out.mkdir(parents=True, exist_ok=True)
    print()
    print(plain(results))
    write_json(results, args.out / "results.json")
    chart(results, args.out / "results.png")
    (args.out / "RESULTS.md").write_text(page(results, "results.png"))
    say(f"wrote results.json, RESULTS.md and results.png to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
