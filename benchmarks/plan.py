"""How much of each workload a run does: `--quick` (about a minute) or full (about ten).

Every workload also has a time cap, so a slow peer shortens its own sample (the table says how
many samples a figure stands on) instead of stretching the run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Plan:
    mode: str
    latency_count: int  # sequential warm invokes per target
    latency_warmup: int
    latency_cap: float  # seconds
    clients: tuple[int, ...]  # concurrent clients for warm throughput
    tput_seconds: float
    tput_warmup: float
    cold_count: int  # freshly created functions, each invoked once
    cold_cap: float
    cold_isolated_count: int  # more of them, each invoked once after a pause
    cold_pause: float  # seconds of nothing before each isolated cold invoke
    async_count: int  # Event invocations
    async_clients: int
    async_cap: float  # seconds of sending, at most
    drain_cap: float
    scale: int  # concurrent sleeping invocations of one function
    scale_sleep: float  # seconds each of them sleeps
    scale_cap: float
    control_count: int  # CreateFunction / PublishVersion / GetFunction each
    control_cap: float
    boto3_count: int
    boto3_cap: float
    provisioned_count: int  # aliases with one provisioned environment, each invoked once
    provisioned_many: int  # environments of the large allocation timed to READY
    idle_window: float  # seconds the server's CPU is read while they sit idle
    snap_count: int  # SnapStart versions (Init of 1 s each), each restored once
    s3_small: int  # 1 KB PutObject / GetObject each, sequential
    s3_large: int  # 64 MB PutObject / GetObject each
    s3_events: int  # uploads to a bucket that notifies a function


QUICK = Plan(
    mode="quick",
    latency_count=1000,
    latency_warmup=100,
    latency_cap=4.0,
    clients=(1, 8, 32),
    tput_seconds=1.5,
    tput_warmup=0.5,
    cold_count=30,
    cold_cap=10.0,
    cold_isolated_count=20,
    cold_pause=0.25,
    async_count=3000,
    async_clients=32,
    async_cap=10.0,
    drain_cap=30.0,
    scale=100,
    scale_sleep=2.0,
    scale_cap=30.0,
    control_count=30,
    control_cap=10.0,
    boto3_count=200,
    boto3_cap=4.0,
    provisioned_count=10,
    provisioned_many=30,
    idle_window=2.0,
    snap_count=10,
    s3_small=300,
    s3_large=2,
    s3_events=300,
)

FULL = Plan(
    mode="full",
    latency_count=10_000,
    latency_warmup=500,
    latency_cap=15.0,
    clients=(1, 8, 32),
    tput_seconds=5.0,
    tput_warmup=1.0,
    cold_count=200,
    cold_cap=60.0,
    cold_isolated_count=100,
    cold_pause=0.25,
    async_count=20_000,
    async_clients=32,
    async_cap=30.0,
    drain_cap=60.0,
    scale=1000,
    scale_sleep=30.0,  # longer than starting 1,000 environments takes, so all are alive at once
    scale_cap=120.0,
    control_count=200,
    control_cap=30.0,
    boto3_count=2000,
    boto3_cap=15.0,
    provisioned_count=30,
    provisioned_many=100,
    idle_window=5.0,
    snap_count=30,
    s3_small=3000,
    s3_large=5,
    s3_events=3000,
)
