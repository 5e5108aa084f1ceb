"""Provisioned concurrency (issue #12): what a first invoke costs on a provisioned environment,
how long allocations take to be READY, and what idle provisioned environments cost the server.

Only gureum has it among the targets: the peers store the setting (or not) and warm nothing.
"""

from __future__ import annotations

import base64
import os
import time
from collections import Counter
from typing import Any

from benchmarks.client import BlockingConnection
from benchmarks.memory import tree_memory
from benchmarks.plan import Plan
from benchmarks.results import Results, median, percentile
from benchmarks.sequential import _note
from benchmarks.sigv4 import invoke_request
from benchmarks.targets import HOST, Target

_TICK = 0.05


def _published(target: Target, prefix: str) -> tuple[str, Any]:
    """A new function with version 1 published and alias `live` on it."""
    name = target.create(prefix)
    client = target.boto3_client()
    version = client.publish_version(FunctionName=name)["Version"]
    client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier=version, WaiterConfig={"Delay": 0.05, "MaxAttempts": 600}
    )
    client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    return name, client


def _ready(client: Any, name: str, cap: float) -> float | None:
    """Seconds from now until the alias's configuration is READY; None past `cap`."""
    began = time.perf_counter()
    while time.perf_counter() - began < cap:
        config = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
        if config["Status"] == "READY":
            return time.perf_counter() - began
        if config["Status"] == "FAILED":
            raise RuntimeError(f"provisioned concurrency FAILED: {config.get('StatusReason')}")
        time.sleep(_TICK)
    return None


def provisioned(target: Target, results: Results, plan: Plan) -> None:
    first_invoke(target, results, plan)
    allocation(target, results, plan)


def first_invoke(target: Target, results: Results, plan: Plan) -> None:
    """The first invoke of fresh aliases whose one provisioned environment is READY: what a
    cold start costs when provisioned concurrency took it away (it should equal a warm invoke)."""
    names = []
    for _ in range(plan.provisioned_count):
        name, client = _published(target, "bench-pc")
        client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1
        )
        names.append((name, client))
    for name, client in names:
        if _ready(client, name, plan.cold_cap) is None:
            raise RuntimeError(f"{name} was not READY within {plan.cold_cap} s")
    signer, connection = target.signer(), BlockingConnection(HOST, target.port, timeout=120)
    # The same aliases twice, each invoke after the same quiet spell as the isolated cold start:
    # first on the provisioned environment, then again, warm. After a quiet spell a warm invoke
    # costs more than back to back (the processes wake from idle), so this is the fair match.
    for key in ("pc_first", "pc_warm_after_pause"):
        samples: list[float] = []
        statuses: Counter[int] = Counter()
        inits = 0
        try:
            for name, _ in names:
                data = signer.render(invoke_request(f"{name}:live", tail=True))
                time.sleep(plan.cold_pause)
                before = time.perf_counter()
                response = connection.exchange(data)
                samples.append((time.perf_counter() - before) * 1000)
                statuses[response.outcome] += 1
                log = base64.b64decode(response.headers.get("x-amz-log-result", "")).decode()
                inits += "Init Duration" in log
        finally:
            connection.close()
        note = _note(statuses, 200, len(samples))
        if inits:
            note = f"{note}; {inits} reported an Init Duration".lstrip("; ")
        results.set(f"{key}_p50", target.name, median(samples), note)
        if key == "pc_first":
            results.set("pc_first_p99", target.name, percentile(samples, 0.99), note)


def allocation(target: Target, results: Results, plan: Plan) -> None:
    """Time from Put to READY for 10 and for `plan.provisioned_many` environments, then the
    server's CPU and the memory the large allocation added while it sits idle."""
    server = target.server
    memory = tree_memory(server.pid, target.infrastructure_depth) if server else None
    for count, key in ((10, "pc_ready_10"), (plan.provisioned_many, "pc_ready_many")):
        name, client = _published(target, f"bench-pc{count}")
        client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=count
        )
        seconds = _ready(client, name, plan.scale_cap)
        results.set(key, target.name, seconds, f"{count} environments")
    if server is None or memory is None:
        return
    time.sleep(1.0)  # the allocation's own work done
    cpu = _cpu_seconds(server.pid)
    time.sleep(plan.idle_window)
    busy = (_cpu_seconds(server.pid) - cpu) / plan.idle_window * 100
    results.set("pc_idle_cpu", target.name, busy, f"{plan.provisioned_many} idle environments")
    after = tree_memory(server.pid, target.infrastructure_depth)
    added = (after.total_kib - memory.total_kib) / 1024 / (10 + plan.provisioned_many)
    results.set("pc_idle_mem", target.name, added, "PSS added per provisioned environment")


def _cpu_seconds(pid: int) -> float:
    """User and system time of the process itself (its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")
