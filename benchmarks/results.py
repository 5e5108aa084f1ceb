"""The figures of one run: rows (what was measured) by targets (what it was measured on).

A cell holds a value or says why there is none ("cannot: ...", "skipped: ..."), so a peer's
missing figure is explained in the table instead of left blank.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Cell:
    value: float | None
    note: str = ""  # why there is no value, or what qualifies it (e.g. "84/100 done")


@dataclass(slots=True)
class Row:
    key: str
    label: str
    unit: str  # "ms", "us", "/s", "s", "MB"
    better: str  # "lower" or "higher"
    # What the floor column holds when it cannot run this workload itself (e.g. its warm p50).
    floor_basis: str = ""
    cells: dict[str, Cell] = field(default_factory=dict)

    def value(self, target: str) -> float | None:
        cell = self.cells.get(target)
        return None if cell is None else cell.value

    def ratio(self, target: str, floor: str = "floor") -> float | None:
        """The target's figure divided by the floor's (>1 means more: slower or faster)."""
        mine, base = self.value(target), self.value(floor)
        if mine is None or base is None or base == 0:
            return None
        return mine / base


ROWS: tuple[tuple[str, str, str, str, str], ...] = (
    ("cold_p50", "cold start, end to end, p50", "ms", "lower", "floor: its warm p50"),
    ("cold_p99", "cold start, end to end, p99", "ms", "lower", "floor: its warm p99"),
    ("cold_init_p50", "cold start, server's Init Duration, p50", "ms", "lower", ""),
    ("cold_iso_p50", "cold start, isolated, end to end, p50", "ms", "lower", "floor: its warm p50"),
    ("cold_iso_p99", "cold start, isolated, end to end, p99", "ms", "lower", "floor: its warm p99"),
    ("cold_iso_init_p50", "cold start, isolated, Init Duration, p50", "ms", "lower", ""),
    ("warm_p50", "warm invoke latency p50", "ms", "lower", ""),
    ("warm_p99", "warm invoke latency p99", "ms", "lower", ""),
    (
        "warm_console_p50",
        "warm invoke latency p50, console dashboard streaming",
        "ms",
        "lower",
        "floor: its warm p50",
    ),
    (
        "warm_console_p99",
        "warm invoke latency p99, console dashboard streaming",
        "ms",
        "lower",
        "floor: its warm p99",
    ),
    ("tput_1", "warm throughput, 1 client", "/s", "higher", ""),
    ("tput_8", "warm throughput, 8 clients", "/s", "higher", ""),
    ("tput_32", "warm throughput, 32 clients", "/s", "higher", ""),
    ("async_accept", "Event accepts, 32 clients", "/s", "higher", ""),
    ("async_drain", "Event end-to-end (accept to all run)", "/s", "higher", "floor: its accepts"),
    ("async_tail", "Event drain time after the last accept", "s", "lower", ""),
    ("async_cpu_accept", "Event: server CPU per accept, while accepting", "us", "lower", ""),
    ("async_cpu_all", "Event: server CPU per event, accept to all run", "us", "lower", ""),
    (
        "async_accept_pg",
        "Event accepts on PostgreSQL, 32 clients, delivery running",
        "/s",
        "higher",
        "",
    ),
    ("async_drain_pg", "Event end-to-end on PostgreSQL", "/s", "higher", ""),
    ("hop_warm_p50", "cluster: warm invoke, front door to agent, p50", "ms", "lower", ""),
    ("hop_warm_p99", "cluster: warm invoke, front door to agent, p99", "ms", "lower", ""),
    ("hop_agent_p50", "cluster: warm invoke, the agent's own API, p50", "ms", "lower", ""),
    ("hop_agent_p99", "cluster: warm invoke, the agent's own API, p99", "ms", "lower", ""),
    ("hop_extra_p50", "cluster: the hop's cost (front door p50 - agent p50)", "us", "lower", ""),
    ("hop_cold_p50", "cluster: cold start through an agent, p50", "ms", "lower", ""),
    ("hop_cold_p99", "cluster: cold start through an agent, p99", "ms", "lower", ""),
    ("hop_cold_init_p50", "cluster: cold start through an agent, Init Duration", "ms", "lower", ""),
    (
        "hop_cold_iso_p50",
        "cluster: cold start through an agent, isolated, p50",
        "ms",
        "lower",
        "",
    ),
    (
        "hop_cold_iso_p99",
        "cluster: cold start through an agent, isolated, p99",
        "ms",
        "lower",
        "",
    ),
    (
        "hop_cold_iso_init_p50",
        "cluster: cold start through an agent, isolated, Init Duration",
        "ms",
        "lower",
        "",
    ),
    ("cluster_tput_1x1", "cluster: warm throughput, 1 front door + 1 agent", "/s", "higher", ""),
    ("cluster_tput_2x2", "cluster: warm throughput, 2 front doors + 2 agents", "/s", "higher", ""),
    ("async_cpu_accept_pg", "Event on PostgreSQL: server CPU per accept", "us", "lower", ""),
    (
        "scale_time",
        "N sleeping invokes at once: time to all done",
        "s",
        "lower",
        "floor: the sleep",
    ),
    ("scale_envs", "N sleeping invokes at once: environments", "", "higher", ""),
    ("scale_env_mb", "memory per environment, its processes (PSS)", "MB", "lower", ""),
    ("scale_all_mb", "memory per environment, all-in (PSS)", "MB", "lower", ""),
    ("scale_server_mb", "server process itself (PSS)", "MB", "lower", ""),
    ("cp_create", "CreateFunction, sequential", "/s", "higher", ""),
    ("cp_publish", "PublishVersion, sequential", "/s", "higher", ""),
    ("cp_get", "GetFunction, sequential", "/s", "higher", ""),
    ("boto3_p50", "warm invoke latency via boto3, p50", "ms", "lower", ""),
    ("boto3_p99", "warm invoke latency via boto3, p99", "ms", "lower", ""),
    (
        "pc_first_p50",
        "provisioned: first invoke, p50",
        "ms",
        "lower",
        "floor: its warm p50",
    ),
    ("pc_first_p99", "provisioned: first invoke, p99", "ms", "lower", "floor: its warm p99"),
    (
        "pc_warm_after_pause_p50",
        "provisioned: the same, invoked again (warm), p50",
        "ms",
        "lower",
        "floor: its warm p50",
    ),
    ("pc_ready_10", "provisioned: Put to READY, 10 environments", "s", "lower", ""),
    ("pc_ready_many", "provisioned: Put to READY, N environments", "s", "lower", ""),
    ("pc_idle_cpu", "provisioned: server CPU with N idle", "%", "lower", ""),
    ("pc_idle_mem", "provisioned: memory per idle environment (PSS)", "MB", "lower", ""),
    (
        "snap_restore_p50",
        "SnapStart (Init 1 s): first invoke, restored, p50",
        "ms",
        "lower",
        "floor: its warm p50",
    ),
    ("snap_restore_p99", "SnapStart (Init 1 s): first invoke, restored, p99", "ms", "lower", ""),
    ("snap_cold_p50", "SnapStart's function on $LATEST: cold start, p50", "ms", "lower", ""),
    ("snap_warm_p50", "SnapStart version: warm invoke, p50", "ms", "lower", ""),
    ("snap_publish", "SnapStart: PublishVersion to Active", "s", "lower", ""),
    ("snap_env_mb", "SnapStart: memory per restored environment (PSS)", "MB", "lower", ""),
    (
        "enforce_warm_p50",
        "warm invoke latency p50, --iam enforce (an IAM user)",
        "ms",
        "lower",
        "floor: its warm p50",
    ),
    (
        "enforce_warm_p99",
        "warm invoke latency p99, --iam enforce (an IAM user)",
        "ms",
        "lower",
        "floor: its warm p99",
    ),
    (
        "authorize_p50",
        "--iam enforce: authorization per request, in process, p50",
        "us",
        "lower",
        "",
    ),
    (
        "redis_warm_p50",
        "warm invoke latency p50, --ledger redis://",
        "ms",
        "lower",
        "floor: its warm p50",
    ),
    (
        "redis_warm_p99",
        "warm invoke latency p99, --ledger redis://",
        "ms",
        "lower",
        "floor: its warm p99",
    ),
    ("ledger_lease_p50", "Redis ledger: one lease taken and given back, p50", "us", "lower", ""),
    ("s3_put_1k", "S3 PutObject 1 KB, sequential", "/s", "higher", "floor: the raw disk"),
    ("s3_get_1k", "S3 GetObject 1 KB, sequential", "/s", "higher", "floor: the raw disk"),
    ("s3_put_64m", "S3 PutObject 64 MB", "MB/s", "higher", "floor: the raw disk"),
    ("s3_get_64m", "S3 GetObject 64 MB", "MB/s", "higher", "floor: the raw disk"),
    ("s3_events", "S3 uploads to Lambda invocations, end to end", "/s", "higher", ""),
    ("dev_reload_p50", "hot reload: save to the next invoke running it, p50", "ms", "lower", ""),
    ("dev_ttfb_stream_p50", "time to first byte, streamed (function URL), p50", "ms", "lower", ""),
    (
        "dev_ttfb_buffered_p50",
        "time to first byte, the same function buffered, p50",
        "ms",
        "lower",
        "",
    ),
    ("dev_stream_mbs", "streaming throughput, RESPONSE_STREAM URL", "MB/s", "higher", ""),
    ("dev_raw_mbs", "the same bytes over a raw loopback socket", "MB/s", "higher", ""),
    ("url_tput_8", "function URL requests, 8 clients", "/s", "higher", ""),
    ("url_invoke_tput_8", "the same function through Invoke, 8 clients", "/s", "higher", ""),
    ("sqs_mapping_mps", "SQS event source mapping, BatchSize 10", "msg/s", "higher", ""),
    ("efs_cold_p50", "EFS: isolated cold start with a mount, p50", "ms", "lower", ""),
    ("efs_cold_p99", "EFS: isolated cold start with a mount, p99", "ms", "lower", ""),
    ("efs_cold_plain_p50", "EFS: the same, paired, without a mount, p50", "ms", "lower", ""),
    ("efs_cold_added_p50", "EFS: what the mount adds to a cold start, p50", "ms", "lower", ""),
    ("efs_cold_init_p50", "EFS: Init Duration with a mount, p50", "ms", "lower", ""),
    ("efs_write_mbs", "EFS: write through the mount (fsync)", "MB/s", "higher", ""),
    ("efs_write_direct_mbs", "EFS: write, same directory on the host", "MB/s", "higher", ""),
    ("efs_write_ratio", "EFS: write through the mount / direct", "", "higher", ""),
    ("efs_read_mbs", "EFS: read through the mount", "MB/s", "higher", ""),
    ("efs_read_direct_mbs", "EFS: read, same directory on the host", "MB/s", "higher", ""),
    ("efs_read_ratio", "EFS: read through the mount / direct", "", "higher", ""),
)


class Results:
    def __init__(self) -> None:
        self.rows = {
            key: Row(key, label, unit, better, basis) for key, label, unit, better, basis in ROWS
        }
        self.targets: list[str] = []
        self.meta: dict[str, Any] = {}

    def add_target(self, name: str) -> None:
        if name not in self.targets:
            self.targets.append(name)

    def set(self, key: str, target: str, value: float | None, note: str = "") -> None:
        self.add_target(target)
        self.rows[key].cells[target] = Cell(value, note)

    def explain(self, keys: tuple[str, ...], target: str, note: str) -> None:
        """Mark every row in `keys` that has no figure for `target` with `note`."""
        for key in keys:
            cell = self.rows[key].cells.get(target)
            if cell is None or (cell.value is None and not cell.note):
                self.set(key, target, None, note)

    def value(self, key: str, target: str) -> float | None:
        return self.rows[key].value(target)

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "targets": self.targets,
            "rows": [
                {
                    **{k: v for k, v in asdict(row).items() if k != "cells"},
                    "cells": {t: asdict(c) for t, c in row.cells.items()},
                    "ratio_to_floor": {t: row.ratio(t) for t in row.cells if t != "floor"},
                }
                for row in self.rows.values()
            ],
        }


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 30 samples is the largest but none)."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


# The rows each workload fills, so a workload that fails or cannot run marks all of them.
WORKLOAD_ROWS: dict[str, tuple[str, ...]] = {
    "cold": ("cold_p50", "cold_p99", "cold_init_p50"),
    "cold_isolated": ("cold_iso_p50", "cold_iso_p99", "cold_iso_init_p50"),
    "warm": ("warm_p50", "warm_p99"),
    "warm_console": ("warm_console_p50", "warm_console_p99"),
    "throughput": ("tput_1", "tput_8", "tput_32"),
    "async": ("async_accept", "async_drain", "async_tail", "async_cpu_accept", "async_cpu_all"),
    "async_pg": ("async_accept_pg", "async_drain_pg", "async_cpu_accept_pg"),
    "cluster": (
        "hop_warm_p50",
        "hop_warm_p99",
        "hop_agent_p50",
        "hop_agent_p99",
        "hop_extra_p50",
        "hop_cold_p50",
        "hop_cold_p99",
        "hop_cold_init_p50",
        "hop_cold_iso_p50",
        "hop_cold_iso_p99",
        "hop_cold_iso_init_p50",
        "cluster_tput_1x1",
        "cluster_tput_2x2",
    ),
    "scale": ("scale_time", "scale_envs", "scale_env_mb", "scale_all_mb", "scale_server_mb"),
    "control": ("cp_create", "cp_publish", "cp_get"),
    "boto3": ("boto3_p50", "boto3_p99"),
    "s3": ("s3_put_1k", "s3_get_1k", "s3_put_64m", "s3_get_64m", "s3_events"),
    "provisioned": (
        "pc_first_p50",
        "pc_first_p99",
        "pc_warm_after_pause_p50",
        "pc_ready_10",
        "pc_ready_many",
        "pc_idle_cpu",
        "pc_idle_mem",
    ),
    "snapstart": (
        "snap_restore_p50",
        "snap_restore_p99",
        "snap_cold_p50",
        "snap_warm_p50",
        "snap_publish",
        "snap_env_mb",
    ),
    "warm_enforce": ("enforce_warm_p50", "enforce_warm_p99", "authorize_p50"),
    "warm_redis": ("redis_warm_p50", "redis_warm_p99", "ledger_lease_p50"),
    "development": (
        "dev_reload_p50",
        "dev_ttfb_stream_p50",
        "dev_ttfb_buffered_p50",
        "dev_stream_mbs",
        "dev_raw_mbs",
    ),
    "triggers": ("url_tput_8", "url_invoke_tput_8", "sqs_mapping_mps"),
    "efs": (
        "efs_cold_p50",
        "efs_cold_p99",
        "efs_cold_plain_p50",
        "efs_cold_added_p50",
        "efs_cold_init_p50",
        "efs_write_mbs",
        "efs_write_direct_mbs",
        "efs_write_ratio",
        "efs_read_mbs",
        "efs_read_direct_mbs",
        "efs_read_ratio",
    ),
}
