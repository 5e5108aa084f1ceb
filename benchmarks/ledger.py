"""The `--ledger redis://` rows (issue #24): warm invoke latency with the concurrency ledger on
Redis, beside the default run's in-process warm row; and the lease's own cost measured in
process: one take and one give of a lease against the same redis-server, with the scripts each
sends counted by Redis itself (`INFO commandstats`), which must be one apiece."""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from pathlib import Path

import redis.asyncio as aioredis

from benchmarks import sequential
from benchmarks.plan import Plan
from benchmarks.processes import Server, Supervisor
from benchmarks.results import Results, median, percentile
from benchmarks.targets import Gureum
from gureum.lambda_.domain.concurrency import Limits
from gureum.lambda_.store.redis_ledger import RedisLedger

SCOPE = ("000000000000", "us-east-1")


def redis_binary() -> str | None:
    return shutil.which("redis-server")


def start_redis(supervisor: Supervisor, binary: str, port: int, workdir: Path) -> Server:
    """A redis-server on loopback, without persistence, owned by the run's supervisor."""
    directory = workdir / f"redis-{port}"
    directory.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    argv += ["--save", "", "--appendonly", "no"]
    server = supervisor.start(Server("redis", argv, workdir / f"redis-{port}.log"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return server
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer:\n{server.log_tail()}")


def warm_on_redis(target: Gureum, results: Results, plan: Plan) -> None:
    function = target.noop()
    sequential.warm_latency(
        target, function, results, plan, rows=("redis_warm_p50", "redis_warm_p99")
    )


def lease_cost(url: str, results: Results, plan: Plan) -> None:
    """Take and give back one lease, sequentially: microseconds per pair, and Redis's count of
    the commands they sent."""
    count = 2_000 if plan.mode == "quick" else 20_000

    async def measure() -> tuple[list[float], float]:
        ledger = RedisLedger(url, Limits(), prefix="bench:")
        client = aioredis.Redis.from_url(url)  # INFO counts every client's commands
        try:
            for _ in range(100):  # warm-up: scripts loaded, connection open
                await ledger.release(await ledger.admit(SCOPE, "f", 0.0, 0.0))
            await client.config_resetstat()
            samples = []
            for _ in range(count):
                start = time.perf_counter()
                lease = await ledger.admit(SCOPE, "f", 0.0, 0.0)
                await ledger.release(lease)
                samples.append((time.perf_counter() - start) * 1e6)
            stats = await client.info("commandstats")
            # Redis counts the commands its scripts run too: the round trips are the scripts
            # (tests/lambda_/service/test_redis_ledger.py checks with MONITOR that nothing else
            # is sent).
            scripts = sum(
                int(stats.get(name, {}).get("calls", 0))
                for name in ("cmdstat_evalsha", "cmdstat_eval")
            )
            return samples, scripts / count
        finally:
            await ledger.close()
            await client.aclose()

    samples, per_pair = asyncio.run(measure())
    note = f"p99 {percentile(samples, 0.99):.0f} us; {per_pair:.2f} round trips (scripts) per pair"
    results.set("ledger_lease_p50", "gureum", median(samples), note)
