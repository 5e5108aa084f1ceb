"""Workloads with many clients at once, as asyncio tasks in the harness's one process (uvloop,
one keep-alive connection per client): warm throughput, Event accepts and drain, and scale."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import uvloop

from benchmarks.client import AsyncConnection, describe
from benchmarks.memory import tree_memory
from benchmarks.plan import Plan
from benchmarks.results import Results
from benchmarks.sigv4 import Request, Signer, invoke_request
from benchmarks.targets import HOST, Target


@dataclass(slots=True)
class _Tally:
    statuses: Counter[int]
    seconds: float


async def _for_duration(
    port: int, signer: Signer, request: Request, clients: int, seconds: float
) -> _Tally:
    statuses: Counter[int] = Counter()
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        connection = AsyncConnection(HOST, port)
        try:
            while time.perf_counter() < deadline:
                statuses[await connection.outcome(signer.render(request))] += 1
        finally:
            connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return _Tally(statuses, time.perf_counter() - start)


async def _for_count(
    port: int, signer: Signer, request: Request, clients: int, count: int, cap: float
) -> _Tally:
    statuses: Counter[int] = Counter()
    remaining = count
    deadline = time.perf_counter() + cap

    async def client() -> None:
        nonlocal remaining
        connection = AsyncConnection(HOST, port)
        try:
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                statuses[await connection.outcome(signer.render(request))] += 1
        finally:
            connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return _Tally(statuses, time.perf_counter() - start)


def _errors(statuses: Counter[int], expected: int) -> str:
    wrong = {s: n for s, n in statuses.items() if s != expected}
    return ", ".join(f"{n}x {describe(s)}" for s, n in sorted(wrong.items()))


def throughput(target: Target, function: str, results: Results, plan: Plan) -> None:
    signer, request = target.signer(), invoke_request(function)
    for clients in plan.clients:
        uvloop.run(_for_duration(target.port, signer, request, clients, plan.tput_warmup))
        tally = uvloop.run(_for_duration(target.port, signer, request, clients, plan.tput_seconds))
        errors = _errors(tally.statuses, 200)
        note = f"{tally.statuses[200]} in {tally.seconds:.1f} s" + (
            f", errors {errors}" if errors else ""
        )
        results.set(f"tput_{clients}", target.name, tally.statuses[200] / tally.seconds, note)


def async_events(
    target: Target, function: str, results: Results, plan: Plan, suffix: str = ""
) -> None:
    """Event invocations: how fast they are accepted (202), then how fast all of them have run,
    and the server process's CPU time per event (steadier than rates on a shared machine).
    `suffix`: the same rows of another store (`_pg`), those of them the results have."""

    def put(key: str, value: float, note: str) -> None:
        if f"{key}{suffix}" in results.rows:
            results.set(f"{key}{suffix}", target.name, value, note)

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
    note = f"{accepted} accepted" + (f", errors {errors}" if errors else "")
    put("async_accept", accepted / tally.seconds, note)
    if cpu_start is not None and cpu_accepted is not None and accepted:
        per_event = (cpu_accepted - cpu_start) / accepted * 1e6
        put("async_cpu_accept", per_event, "server process, all threads")
    if (reason := target.cannot("drain")) is not None:
        put("async_drain", accepted / tally.seconds, "its accepts: " + reason)
        return
    accepted_at = time.perf_counter()
    deadline = accepted_at + plan.drain_cap
    done = target.executed(function) or 0
    while done < accepted and time.perf_counter() < deadline:
        time.sleep(0.1)
        done = target.executed(function) or 0
    finished = time.perf_counter()
    cpu_done = cpu_seconds(pid)
    if cpu_start is not None and cpu_done is not None and done:
        per_event = (cpu_done - cpu_start) / done * 1e6
        put("async_cpu_all", per_event, "server process, all threads")
    note = f"{done}/{accepted} run"
    if done < accepted:
        note += f" when stopped after {plan.drain_cap:g} s"
    put("async_drain", done / (finished - start), note)
    put("async_tail", finished - accepted_at, note)


def cpu_seconds(pid: int | None) -> float | None:
    """CPU time (user + system) of process `pid` so far, all its threads; None if unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _all_at_once(port: int, signer: Signer, requests: list[Request], cap: float) -> _Tally:
    statuses: Counter[int] = Counter()

    async def client(request: Request) -> None:
        connection = AsyncConnection(HOST, port)
        try:
            statuses[await connection.outcome(signer.render(request))] += 1
        finally:
            connection.close()

    start = time.perf_counter()
    tasks = [asyncio.create_task(client(r)) for r in requests]
    _, pending = await asyncio.wait(tasks, timeout=cap)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return _Tally(statuses, time.perf_counter() - start)


def scale(target: Target, function: str, results: Results, plan: Plan, count: int) -> None:
    """`count` invocations of one sleeping function at once: time to all done, then memory."""
    signer = target.signer()
    payload = json.dumps({"sleep": plan.scale_sleep}).encode()
    requests = [invoke_request(function, payload) for _ in range(count)]
    tally = uvloop.run(_all_at_once(target.port, signer, requests, plan.scale_cap))
    done = tally.statuses[200]
    errors = _errors(tally.statuses, 200)
    note = f"N={count}, {done} done" + (f", errors {errors}" if errors else "")
    if (unanswered := count - tally.statuses.total()) > 0:
        note += f", {unanswered} unanswered after {plan.scale_cap:g} s"
    results.set("scale_time", target.name, tally.seconds if done == count else None, note)
    assert target.server is not None
    environments = target.environments()
    memory = tree_memory(target.server.pid, infrastructure_depth=target.infrastructure_depth)
    results.set("scale_envs", target.name, environments, f"N={count}")
    results.meta.setdefault("memory", {})[target.name] = {
        "environments": environments,
        "count": count,
        "server_kib": memory.server_kib,
        "infrastructure_kib": memory.infrastructure_kib,
        "environment_kib": memory.environment_kib,
        "environment_processes": memory.environment_count,
        "sandboxed_uid_kib": memory.sandboxed_kib,
    }
    if environments:
        mib = 1024 * environments
        results.set("scale_env_mb", target.name, memory.environment_kib / mib, f"N={count}")
        results.set("scale_all_mb", target.name, memory.total_kib / mib, f"N={count}")
    results.set("scale_server_mb", target.name, memory.server_kib / 1024, f"N={count}")
