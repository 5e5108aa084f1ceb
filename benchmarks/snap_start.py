"""SnapStart (issue #22): the first invoke of a version restored from its snapshot, against the
same function's cold start on `$LATEST` and its warm invoke, with Init made slow on purpose (a
second of imports and sleep), plus what publishing costs and what a restored environment holds.

Only gureum has it among the targets: the peers store the setting (or not) and restore nothing.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.client import BlockingConnection
from benchmarks.memory import tree_memory
from benchmarks.plan import Plan
from benchmarks.results import Results, median, percentile
from benchmarks.sequential import _note
from benchmarks.sigv4 import invoke_request
from benchmarks.targets import HOST, Target

SLOW_INIT = """\
import decimal, email.parser, http.client, json, logging, uuid, xml.dom.minidom  # noqa
import os
import time

time.sleep(1.0)


def handler(event, context):
    time.sleep(event.get("sleep", 0) if isinstance(event, dict) else 0)
    return None
"""
WAIT = {"Delay": 0.05, "MaxAttempts": 1200}


def snap_start(target: Target, results: Results, plan: Plan) -> None:
    client = target.boto3_client()
    name = target.create("bench-snap", SLOW_INIT, timeout=60)
    client.update_function_configuration(
        FunctionName=name, SnapStart={"ApplyOn": "PublishedVersions"}
    )
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    signer, connection = target.signer(), BlockingConnection(HOST, target.port, timeout=120)
    samples: dict[str, list[float]] = {"restore": [], "cold": [], "warm": [], "publish": []}
    statuses: Counter[int] = Counter()
    restores = 0
    try:
        for round_ in range(plan.snap_count):
            # A change, so that PublishVersion makes a new version, and $LATEST a new key (its
            # next invoke is a cold start).
            client.update_function_configuration(FunctionName=name, Description=f"round {round_}")
            client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
            began = time.perf_counter()
            version = client.publish_version(FunctionName=name)["Version"]
            client.get_waiter("published_version_active").wait(
                FunctionName=name, Qualifier=version, WaiterConfig=WAIT
            )
            samples["publish"].append(time.perf_counter() - began)
            for key, qualifier in (
                ("restore", version),
                ("warm", version),
                ("cold", "$LATEST"),
            ):
                time.sleep(plan.cold_pause)
                data = signer.render(invoke_request(f"{name}:{qualifier}", tail=True))
                before = time.perf_counter()
                response = connection.exchange(data)
                samples[key].append((time.perf_counter() - before) * 1000)
                statuses[response.outcome] += 1
                if key == "restore":
                    log = base64.b64decode(response.headers.get("x-amz-log-result", "")).decode()
                    restores += "Restore Duration" in log
    finally:
        connection.close()
    note = _note(statuses, 200, len(samples["restore"]))
    restored = f"{restores}/{len(samples['restore'])} reported a Restore Duration"
    results.set("snap_restore_p50", target.name, median(samples["restore"]), f"{note}; {restored}")
    results.set("snap_restore_p99", target.name, percentile(samples["restore"], 0.99), note)
    results.set("snap_cold_p50", target.name, median(samples["cold"]), "Init of 1 s each")
    results.set("snap_warm_p50", target.name, median(samples["warm"]), note)
    results.set("snap_publish", target.name, median(samples["publish"]), "median, Init of 1 s")
    _memory(target, results, client, name)


def _memory(target: Target, results: Results, client: Any, name: str, count: int = 8) -> None:
    """PSS added by `count` environments restored at once from one version (busy, then idle)."""
    server = target.server
    if server is None:
        return
    client.update_function_configuration(FunctionName=name, Description="memory")
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    version = client.publish_version(FunctionName=name)["Version"]
    client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier=version, WaiterConfig=WAIT
    )
    before = tree_memory(server.pid, target.infrastructure_depth)
    with ThreadPoolExecutor(count) as pool:
        calls = [
            pool.submit(
                client.invoke, FunctionName=name, Qualifier=version, Payload=b'{"sleep": 0.5}'
            )
            for _ in range(count)
        ]
        for call in calls:
            call.result()["Payload"].read()
    after = tree_memory(server.pid, target.infrastructure_depth)
    added = (after.total_kib - before.total_kib) / 1024 / count
    results.set("snap_env_mb", target.name, added, f"PSS added per environment, {count} restored")
