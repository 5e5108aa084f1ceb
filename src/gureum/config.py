"""Server settings: one frozen value, built once from flags and `GUREUM_*` variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("gureum", appauthor=False))


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path = Path()
    # Multiplies every delay, period and age limit the platform enforces on its own (DESIGN.md
    # "Time"); never a function's own Timeout.
    time_scale: float = 1.0
    # Seconds (before scaling) a new or updated function stays Pending / InProgress.
    settle_delay: float = 0.0
    account_concurrency: int = 1000
    unreserved_minimum: int = 100
    # The scaling rate: new execution environments per function per period (seconds, scaled).
    scaling_limit: int = 1000
    scaling_period: float = 10.0
    # Largest Event (asynchronous) payload, in bytes: 1 MB since October 2025, 256 KB before.
    async_payload_limit: int = 1_048_576
    # Seconds (before scaling) an idle execution environment is kept warm.
    keep_alive: float = 600.0
    # EFS client connections per file system (AWS: 25,000), and how many open at once before
    # the creation rate (500 a scaled minute) applies (AWS: 3,000).
    efs_connection_limit: int = 25_000
    efs_connection_burst: int = 3_000
    # MB of memory SnapStart snapshots (initialized templates) may hold together.
    snapshot_memory: int = 4_096
    # The KMS root key file (key material is encrypted under it); default <shared>/root.key.
    kms_root_key_file: Path | None = None
    # "auto" (namespaces when the machine allows them), "namespaces" (required) or "none".
    isolation: str = "auto"
    # "off" (the default, as local emulators are: only resource policies, such as trust
    # policies and EFS file system policies, apply) or "enforce" (every request's action is
    # authorized against the caller's identity policies before it runs).
    iam: str = "off"
    # The S3Bucket whose S3Key is a directory on this machine: hot reload (domain.hot_reload).
    hot_reload_bucket: str = "hot-reload"
    # Debug mode (lambda_.sandbox.debugging): the functions (comma-separated names) whose
    # runtimes start under a debugger, the host ports (127.0.0.1 only) of debugpy and Node's
    # inspector, and how long Init waits for a debugger to attach (0: it does not wait).
    debug_functions: str = ""
    debug_port: int = 5678
    inspect_port: int = 9229
    debug_wait: float = 0.0
    log_level: str = "info"
    # The concurrency ledger: "" in process (the default), or a Redis URL (issue #24): the
    # limits then hold across every process that shares that Redis.
    ledger: str = ""
    # Seconds a Redis lease outlives the last renewal of a process that went away (wall time:
    # a dead host's invocations stop counting this long after it died).
    lease_ttl: float = 30.0
    # Where every service's store lives: "" (SQLite files in the data directory, the default)
    # or a PostgreSQL URL (scale-out, issue #24).
    store: str = ""
    # Where what every process of a cluster must read is kept (code and layer archives, S3's
    # objects, EFS's data, the KMS root key and STS's sealing key): the data directory unless
    # set; in a cluster, one directory every host mounts (README, "Running a cluster").
    shared_dir: Path | None = None
    # "local" (this server runs the sandboxes) or "agents" (a front door of a cluster: the
    # agents registered in the shared store run them).
    sandboxes: str = "local"
    # An agent's hop (`gureum agent`): HOST:PORT it listens on for front doors, and the
    # HOST:PORT front doors reach it at when that differs (listening on 0.0.0.0).
    hop: str = ""
    hop_advertise: str = ""

    @property
    def shared(self) -> Path:
        return self.shared_dir if self.shared_dir is not None else self.data_dir

    @property
    def scaling_scaled_period(self) -> float:
        return self.scaled(self.scaling_period)

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale
