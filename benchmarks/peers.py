"""The peers: serverless-offline (npm) and MiniStack (PyPI), installed into a scratch directory.

Nothing is installed into the project. A peer that cannot be installed or started raises
`PeerUnavailable` with the reason, which the run prints and shows in the table.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.processes import Server, Supervisor
from benchmarks.targets import HOST, Target, Workloads

MINISTACK_VERSION = "1.5.33"
SERVERLESS_SPEC = ("serverless@3", "serverless-offline@13")
# Appends one byte per run to a file, so completed Event invocations can be counted on a peer
# that exports no metrics. The path is absolute: peers run functions as plain local processes.
DRAIN_SOURCE = (
    "def handler(e, c):\n"
    "    with open({path!r}, 'ab') as f:\n"
    "        f.write(b'.')\n"
    "    return {result}\n"
)


class PeerUnavailable(Exception):
    """The peer could not be installed or started; the message says why."""


def _run(argv: list[str], cwd: Path, what: str, timeout: float = 600) -> None:
    try:
        done = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PeerUnavailable(f"{what} failed: {error}") from error
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise PeerUnavailable(f"{what} failed ({done.returncode}): {' / '.join(tail)}")


def real_python(version: str) -> Path | None:
    """A real `pythonX.Y` interpreter (never a pyenv shim: a shim adds ~170 ms per start)."""
    candidates = [os.path.join(d, f"python{version}") for d in os.environ["PATH"].split(":")]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python3")))
    for candidate in candidates:
        if "shims" not in candidate and os.access(candidate, os.X_OK):
            return Path(os.path.realpath(candidate))
    return None


class CountingPeer(Target):
    """A peer whose Event invocations are counted by the drain handler's files."""

    role = "peer"
    drain_result = "None"

    def __init__(self, port: int, workdir: Path, scratch: Path) -> None:
        super().__init__(port, workdir)
        self.scratch = scratch
        self.counts = scratch / f"counts-{self.name}"

    def drain_source(self) -> str:
        return DRAIN_SOURCE.format(path=str(self.counts / "drain"), result=self.drain_result)

    def executed(self, function: str) -> int | None:
        """Runs of the one drain function (`function` is always it)."""
        try:
            return (self.counts / "drain").stat().st_size
        except FileNotFoundError:
            return 0

    def reset_counts(self) -> None:
        shutil.rmtree(self.counts, ignore_errors=True)
        self.counts.mkdir(parents=True)


class MiniStack(CountingPeer):
    name = "ministack"
    notes = (
        "PyPI ministack on hypercorn, default LAMBDA_EXECUTOR=local: Python functions run in "
        "warm worker subprocesses of its own interpreter (whatever runtime the function names), "
        "signatures are not checked (AUTH=false), no Init Duration is reported. After each "
        "invoke it waits up to 50 ms for the handler's stderr (`_drain_stderr_bounded`, "
        "first_line_wait=0.050), so a handler that logs nothing costs about 50 ms, boto3 or not."
    )

    @property
    def venv(self) -> Path:
        return self.scratch / "ministack-venv"

    def install(self) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        if self.version() == MINISTACK_VERSION:
            return
        base = getattr(sys, "_base_executable", sys.executable)
        _run([base, "-m", "venv", str(self.venv)], self.scratch, "python -m venv")
        pip = [str(self.venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
        _run([*pip, f"ministack=={MINISTACK_VERSION}"], self.scratch, "pip install ministack")

    def version(self) -> str:
        metadata = glob.glob(str(self.venv / "lib/python*/site-packages/ministack-*.dist-info"))
        return metadata[0].rsplit("ministack-", 1)[1].removesuffix(".dist-info") if metadata else ""

    def start(self, supervisor: Supervisor) -> None:
        self.install()
        self.reset_counts()
        temporary = self.workdir / "ministack-tmp"  # its unpacked functions go here, not /tmp
        temporary.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "TMPDIR": str(temporary),
            "GATEWAY_PORT": str(self.port),
            "BIND_HOST": HOST,
            "LOG_LEVEL": "WARNING",
        }
        argv = [str(self.venv / "bin" / "ministack")]
        log = self.workdir / "ministack.log"
        self.server = supervisor.start(Server(self.name, argv, log, env=env, cwd=self.scratch))
        self.server.wait_http(f"{self.endpoint}/_ministack/health", timeout=60)

    def async_function(self) -> str:
        return self.create("bench-drain", self.drain_source())


class ServerlessOffline(CountingPeer):
    """serverless-offline: functions are declared in serverless.yml, not created by API."""

    name = "serverless-offline"
    notes = (
        "`serverless offline start` with serverless 3 and serverless-offline 13: one "
        "`python3 -u invoke.py` per concurrently busy function instance (spawned through "
        "/bin/sh, JSON lines over stdin/stdout; `python3` is the real 3.12 interpreter, not a "
        "shim). No control plane (functions are declared in serverless.yml), no SigV4 check, no "
        "Init Duration. Its handlers return {} instead of None: its Python runner never answers "
        "a handler that returns None (it waits for a truthy payload, and JSON null is not one), "
        "so the request hangs. An Event invoke starts the handler and answers 202 at once."
    )
    # serverless-offline 13's Python runner waits for a truthy payload: a handler returning
    # None (JSON null) is never answered, so its handlers return {} instead.
    drain_result = "{}"
    service = "gureumbench"

    def __init__(self, port: int, workdir: Path, scratch: Path, workloads: Workloads) -> None:
        super().__init__(port, workdir, scratch)
        self.workloads = workloads
        self._cold_handed = 0

    @property
    def modules(self) -> Path:
        return self.scratch / "sls"

    def install(self) -> None:
        if shutil.which("node") is None or shutil.which("npm") is None:
            raise PeerUnavailable("node and npm are not installed")
        self.modules.mkdir(parents=True, exist_ok=True)
        if self.version():
            return
        (self.modules / "package.json").write_text('{"name": "peers", "private": true}\n')
        npm = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *SERVERLESS_SPEC]
        _run(npm, self.modules, "npm install serverless@3 serverless-offline@13")

    def version(self) -> str:
        versions = []
        for package in ("serverless", "serverless-offline"):
            manifest = self.modules / "node_modules" / package / "package.json"
            if not manifest.exists():
                return ""
            versions.append(f"{package} {json.loads(manifest.read_text())['version']}")
        return ", ".join(versions)

    def _write_service(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        sources = {
            "noop": "def handler(e, c):\n    return {}\n",
            "sleeper": "import time\n\n\ndef handler(e, c):\n"
            "    time.sleep(e.get('sleep', 1))\n    return {}\n",
            "drain": self.drain_source(),
        }
        names = ["noop", "sleeper", "drain"]
        names += [f"cold{i}" for i in range(self.workloads.cold_functions)]
        for name in names:
            (directory / f"{name}.py").write_text(sources.get(name, sources["noop"]))
        functions = "".join(f"  {n}:\n    handler: {n}.handler\n    timeout: 120\n" for n in names)
        p = self.port
        (directory / "serverless.yml").write_text(
            f"service: {self.service}\nframeworkVersion: '3'\n"
            "provider:\n  name: aws\n  runtime: python3.12\n  region: us-east-1\n"
            f"functions:\n{functions}plugins:\n  - serverless-offline\n"
            "custom:\n  serverless-offline:\n"
            f"    lambdaPort: {p}\n    httpPort: {p + 1}\n"
            f"    websocketPort: {p + 2}\n    albPort: {p + 3}\n"
        )
        link = directory / "node_modules"
        if not link.exists():
            link.symlink_to(self.modules / "node_modules")

    def start(self, supervisor: Supervisor) -> None:
        self.install()
        self.reset_counts()
        python = real_python("3.12")
        if python is None:
            raise PeerUnavailable("no python3.12 interpreter for its python3.12 handlers")
        shim = self.scratch / "bin"  # it runs `python3` from PATH: make that 3.12, not a shim
        shim.mkdir(exist_ok=True)
        (shim / "python3").unlink(missing_ok=True)
        (shim / "python3").symlink_to(python)
        directory = self.scratch / f"sls-service-{self.port}"
        self._write_service(directory)
        env = {
            **os.environ,
            "PATH": f"{shim}:{os.environ['PATH']}",
            "SLS_TELEMETRY_DISABLED": "1",
            "SLS_NOTIFICATIONS_MODE": "off",
            "SLS_DEPRECATION_DISABLE": "*",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }
        cli = self.modules / "node_modules" / "serverless" / "bin" / "serverless.js"
        argv = ["node", str(cli), "offline", "start", "--host", HOST]
        log = self.workdir / "serverless-offline.log"
        self.server = supervisor.start(Server(self.name, argv, log, env=env, cwd=directory))
        self.server.wait_http(f"{self.endpoint}/", timeout=90, accept=(200, 404))

    def cannot(self, workload: str) -> str | None:
        if workload in ("control", "provisioned", "snapstart"):
            return "no control plane: functions are declared in serverless.yml"
        return super().cannot(workload)

    def _function(self, name: str) -> str:
        return f"{self.service}-dev-{name}"

    def noop(self) -> str:
        return self._function("noop")

    def cold_functions(self, count: int, cap: float) -> list[str]:
        start, self._cold_handed = self._cold_handed, self._cold_handed + count
        if self._cold_handed > self.workloads.cold_functions:
            raise PeerUnavailable("more cold functions asked for than serverless.yml declares")
        return [self._function(f"cold{i}") for i in range(start, self._cold_handed)]

    def sleeper(self) -> str:
        return self._function("sleeper")

    def async_function(self) -> str:
        return self._function("drain")
