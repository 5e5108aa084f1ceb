"""What the workloads run against: gureum, the floor servers, and (in `peers.py`) the peers.

A `Target` starts its server under the run's `Supervisor`, says which workloads it cannot do
(and why, for the table), and hands out function names that are ready to invoke. Functions are
created with boto3: set-up is not measured, except by the control-plane workload.
"""

from __future__ import annotations

import io
import json
import re
import sys
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.memory import SANDBOX_UID_MIN, command_name, uid
from benchmarks.processes import Server, Supervisor, family
from benchmarks.sigv4 import Signer

HOST = "127.0.0.1"
NOOP_SOURCE = "def handler(e, c):\n    return None\n"
SLEEP_SOURCE = "import time\n\n\ndef handler(e, c):\n    time.sleep(e.get('sleep', 1))\n"
ROLE = "arn:aws:iam::000000000000:role/bench"


def zip_of(source: str, name: str = "index.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class Workloads:
    """How many of each thing the run asks for; peers that declare functions up front need it."""

    cold_functions: int
    scale: int


class Target:
    """A server under test. Subclasses fill in how to start it and how to get functions."""

    name = "target"
    role = "target"  # "gureum", "floor" or "peer"
    # Descendants of the server down to this depth are shared infrastructure, not environments
    # (gureum: its zygotes, depth 1); deeper ones belong to execution environments.
    infrastructure_depth = 0
    notes = ""  # what the results page says about how this target runs functions

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.server: Server | None = None
        self._created = 0

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def signer(self) -> Signer:
        return Signer(f"{HOST}:{self.port}")

    def start(self, supervisor: Supervisor) -> None:
        raise NotImplementedError

    def cannot(self, workload: str) -> str | None:
        """Why this target cannot run `workload`, or None if it can."""
        if workload == "efs":
            return "mounts no EFS file systems (FileSystemConfigs ignored)"
        return None

    def version(self) -> str:
        return ""

    # --- functions ---------------------------------------------------------------------------

    def boto3_client(self, service: str = "lambda") -> Any:
        """A boto3 client of `service` on this target, with the default account's key."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, read_timeout=300, connect_timeout=10),
        )

    def create(
        self,
        prefix: str,
        source: str = NOOP_SOURCE,
        timeout: int = 30,
        options: dict[str, Any] | None = None,
    ) -> str:
        """A new function, Active; `options`: more of CreateFunction's parameters."""
        self._created += 1
        name = f"{prefix}-{self._created}"
        client = self.boto3_client()
        client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Handler="index.handler",
            Role=ROLE,
            Code={"ZipFile": zip_of(source)},
            Timeout=timeout,
            **(options or {}),
        )
        client.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 600}
        )
        return name

    def noop(self) -> str:
        return self.create("bench-noop")

    def cold_functions(self, count: int, cap: float) -> list[str]:
        """`count` new functions, Active and never invoked; fewer if creating takes over `cap` s."""
        names: list[str] = []
        deadline = time.monotonic() + cap
        while len(names) < count and (not names or time.monotonic() < deadline):
            names.append(self.create("bench-cold"))
        return names

    def sleeper(self) -> str:
        return self.create("bench-sleep", SLEEP_SOURCE, timeout=120)

    def async_function(self) -> str:
        return self.create("bench-async")

    def executed(self, function: str) -> int | None:
        """How many invocations of `function` have run to completion, if the target can tell."""
        return None

    def environments(self) -> int | None:
        """Execution environments alive now: the Python processes under the server."""
        if self.server is None:
            return None
        pids = family(self.server.pid)
        return sum(1 for pid in pids if command_name(pid).startswith("python"))


class Gureum(Target):
    name = "gureum"
    role = "gureum"
    infrastructure_depth = 1

    def __init__(
        self,
        port: int,
        workdir: Path,
        account_concurrency: int | None = None,
        iam: str | None = None,
        ledger: str | None = None,
        store: str | None = None,
        extra: tuple[str, ...] = (),
        subcommand: str = "serve",
    ) -> None:
        super().__init__(port, workdir)
        self.extra = extra  # more options (a cluster's: --shared-dir, --sandboxes, --hop, ...)
        self.subcommand = subcommand  # `agent` for a cluster's agent
        self.account_concurrency = account_concurrency
        self.iam = iam  # `--iam` (enforce: every request authorized)
        self.ledger = ledger  # `--ledger` (a Redis URL: the concurrency ledger on Redis)
        self.store = store  # `--store` (a PostgreSQL URL)
        self.data_dir = workdir / f"gureum-data-{port}"

    def cannot(self, workload: str) -> str | None:
        return None

    def start(self, supervisor: Supervisor) -> None:
        executable = Path(sys.executable).with_name("gureum")
        command = [str(executable)] if executable.exists() else [sys.executable, "-m", "gureum"]
        argv = [*command, self.subcommand, "--port", str(self.port)]
        argv += ["--data-dir", str(self.data_dir), *self.extra]
        if self.account_concurrency is not None:
            argv += ["--account-concurrency", str(self.account_concurrency)]
        if self.iam is not None:
            argv += ["--iam", self.iam]
        if self.ledger is not None:
            argv += ["--ledger", self.ledger]
        if self.store is not None:
            argv += ["--store", self.store]
        log = self.workdir / f"gureum-{self.port}.log"
        self.server = supervisor.start(Server(self.name, argv, log))
        self.server.wait_http(f"{self.endpoint}/_gureum/health", timeout=60)

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.endpoint}/_gureum/health", timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    def version(self) -> str:
        return str(self.health()["version"])

    def environments(self) -> int | None:
        """Environments alive: each runs as a uid of its own (>= 20000), so count distinct uids.

        Counted from the processes rather than `/_gureum/health`, which may still count an
        environment whose start failed."""
        if self.server is None:
            return None
        uids = {uid(pid) for pid in family(self.server.pid)}
        return sum(1 for owner in uids if owner is not None and owner >= SANDBOX_UID_MIN)

    def executed(self, function: str) -> int | None:
        with urllib.request.urlopen(f"{self.endpoint}/_gureum/metrics", timeout=10) as response:
            text = response.read().decode()
        pattern = rf'^aws_lambda_Invocations_total\{{[^}}]*FunctionName="{re.escape(function)}"'
        total = 0.0
        for line in text.splitlines():
            if re.match(pattern, line):
                total += float(line.rsplit(" ", 1)[1])
        return int(total)


class Floor(Target):
    """The do-nothing server. Every route answers `null`, so control-plane requests get it too."""

    name = "floor"
    role = "floor"
    kind = "asgi"

    def start(self, supervisor: Supervisor) -> None:
        argv = [sys.executable, "-m", "benchmarks.floor", "--port", str(self.port)]
        argv += ["--kind", self.kind]
        log = self.workdir / f"{self.name}.log"
        root = Path(__file__).resolve().parent.parent
        self.server = supervisor.start(Server(self.name, argv, log, cwd=root))
        self.server.wait_http(f"{self.endpoint}/", timeout=30)

    def cannot(self, workload: str) -> str | None:
        if workload in ("cold", "cold_isolated", "scale", "drain", "efs"):
            return "a do-nothing server has no functions to start or run"
        return None

    def create(
        self,
        prefix: str,
        source: str = NOOP_SOURCE,
        timeout: int = 30,
        options: dict[str, Any] | None = None,
    ) -> str:
        self._created += 1
        return f"{prefix}-{self._created}"  # anything answers


class RawFloor(Floor):
    name = "floor-raw"
    kind = "raw"
