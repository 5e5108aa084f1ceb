"""An execution environment: one sandboxed runtime process serving one invocation at a time.

    STARTING ──ready──> READY ──invoke──> BUSY ──done──> READY ──retire──> DEAD
        └──────────── crash, timeout, init failure: the process is reset ────────┘

An environment outlives its runtime process: after a crash or a timeout the process is gone, but
the environment keeps its log stream and its `/tmp`, and the next invocation re-runs Init inside
it (a "suppressed init": its time is part of that invocation's Duration, spec 6.1). It dies for
good when the pool retires it.

Logs: the process's stdout and stderr are one pipe. Every line becomes an event in the
environment's log stream, framed by START / END / REPORT lines in AWS's exact format (spec 6.2);
the invocation's own lines are kept for `LogType=Tail`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from gureum.lambda_.domain import platform_log
from gureum.lambda_.domain.credentials import RoleCredentials
from gureum.lambda_.domain.errors import SnapStartFailure, SnapStartTimeout
from gureum.lambda_.domain.file_systems import Mount
from gureum.lambda_.domain.log_format import LogSettings
from gureum.lambda_.domain.platform_log import PlatformLine
from gureum.lambda_.sandbox.cgroups import MemoryGroups
from gureum.lambda_.sandbox.debugging import Debugger, DebugSession
from gureum.lambda_.sandbox.id_maps import IdMaps
from gureum.lambda_.sandbox.mounts import EnvironmentMounts
from gureum.lambda_.sandbox.network import NetworkNamespace, Networks
from gureum.lambda_.sandbox.peers import RuntimePeers
from gureum.lambda_.sandbox.response_stream import ResponseStream
from gureum.lambda_.sandbox.restores import (
    RESTORE_LIMIT,
    SNAP_START_FAILED,
    SNAP_START_TIMED_OUT,
    Restores,
    start,
)
from gureum.lambda_.sandbox.runtime_api import (
    Invocation,
    Outcome,
    OutcomeKind,
    RuntimeSession,
    serve_channel,
    serve_runtime_api,
)
from gureum.lambda_.sandbox.runtime_process import (
    INIT_TIMED_OUT,
    Ending,
    RuntimeProcess,
    exit_error,
)
from gureum.lambda_.sandbox.scratch import ScratchSpace, ScratchSpaces
from gureum.lambda_.sandbox.scratch_disks import detached_copy
from gureum.lambda_.sandbox.stock import ReadySandbox, SandboxStock
from gureum.lambda_.sandbox.zygotes import ExitStatus, Zygote
from gureum.logs.domain.events import LogEvent

log = logging.getLogger("gureum.environment")

INIT_LIMIT = 10.0
SNAP_START = "snap-start"
# Where SnapStart environments fetch their role's credentials (services/container_credentials).
CREDENTIALS_PATH = "/_gureum/credentials"
RESPONSE_LIMIT = 6 * 1024 * 1024 + 100
# AWS's X-Ray daemon address (spec 3.2). gureum runs no daemon: an X-Ray SDK's UDP segments to
# it are lost, as they are on AWS when tracing is off.
XRAY_DAEMON_HOST, XRAY_DAEMON_PORT = "127.0.0.1", "2000"


class EnvironmentState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    BUSY = "busy"
    DEAD = "dead"


_MOVES: dict[EnvironmentState, frozenset[EnvironmentState]] = {
    EnvironmentState.STARTING: frozenset({EnvironmentState.READY, EnvironmentState.DEAD}),
    EnvironmentState.READY: frozenset({EnvironmentState.BUSY, EnvironmentState.DEAD}),
    EnvironmentState.BUSY: frozenset({EnvironmentState.READY, EnvironmentState.DEAD}),
    EnvironmentState.DEAD: frozenset(),
}


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    """Everything needed to start environments of one function version."""

    account: str
    region: str
    function_name: str
    version: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    ephemeral_mb: int
    code_dir: Path
    opt_dir: Path | None
    zygote: str
    program: tuple[str, ...] | None
    reveal: tuple[str, ...]
    python_version: tuple[int, int] | None
    execution_env: str | None
    log_group: str
    variables: Mapping[str, str] = field(default_factory=dict)
    runtime_version_arn: str = ""
    # The runtime's language tree (a fetched Node.js, a Python's prefix), at /var/lang as on AWS.
    lang: Path | None = None
    logging: LogSettings = field(default_factory=LogSettings)
    # AWS_LAMBDA_INITIALIZATION_TYPE: "provisioned-concurrency" for environments initialised
    # ahead of any invocation, immutable for the environment's life (spec 3.2).
    initialization_type: str = "on-demand"
    # EFS access points mounted at Init (spec 7.1), decided as each environment starts.
    mounts: tuple[Mount, ...] = ()
    # SnapStart: new environments are restored from this template instead of running Init.
    snapshot: RestoreSource | None = None
    # The execution role's session, minted as each environment starts (None: no AWS
    # credentials in its variables at all).
    credentials: RoleCredentials | None = None
    # SnapStart: no keys in the variables but the address and token of container credentials
    # (services/container_credentials.py), so restored environments always get fresh ones.
    container_credentials: str | None = None


class RestoreSource(Protocol):
    """A SnapStart version's initialized template (sandbox/snapshots.py)."""

    @property
    def restores(self) -> Restores: ...


class LogSink(Protocol):
    """Where a function's log lines go: CloudWatch Logs' streams (the composition root wires it)."""

    def append(
        self, account: str, region: str, group: str, stream: str, events: Iterable[LogEvent]
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Platform:
    """What environments share: set up once by the composition root."""

    zygote_for: Callable[[str], Zygote]
    scratch: ScratchSpaces
    memory: MemoryGroups | None
    logs: LogSink
    isolate: bool
    runtime_dir: Path
    sandbox_root: Path
    endpoint: str
    now: Callable[[], datetime]
    # With isolation: a network namespace per environment (None: the host's network).
    networks: Networks | None = None
    # With isolation: sandboxes built ahead of cold starts (None: each built on its own).
    stock: SandboxStock | None = None
    # With isolation: the user namespaces of id-mapped EFS mounts (None: each sandbox makes its
    # own, forking).
    id_maps: IdMaps | None = None
    # Debug mode's ports and sessions (`--debug-functions`; None: no function is debugged).
    debugger: Debugger | None = None


@dataclass(frozen=True, slots=True)
class InvocationRequest:
    request_id: str
    payload: bytes
    invoked_function_arn: str
    client_context: str | None = None
    # The caller reads the response as a stream (spec 9.5): a runtime that streams feeds it.
    stream: ResponseStream | None = None
    # The caller's X-Ray trace header (recursion detection reads its Lineage); None: a new one.
    trace_id: str | None = None


@dataclass(frozen=True, slots=True)
class InvocationResult:
    payload: bytes
    function_error: bool
    logs: bytes
    duration_ms: float
    init_duration_ms: float | None
    # The function's error type (`Unhandled`, or what a runtime reported), when it failed.
    error_type: str | None = None
    # The payload went to the request's ResponseStream as it came (`payload` holds an error).
    streamed: bool = False
    # The trace header it ran with: what it sends on carries its chain's lineage.
    trace_id: str | None = None


def _trace_id(epoch: float) -> str:
    return (
        f"Root=1-{int(epoch):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
    )


def runtime_version(runtime: str) -> str:
    """AWS's runtime version label: `python3.12` -> `python:3.12.v1`, `nodejs20.x` ->
    `nodejs:20.v1`, `provided.al2023` -> `provided:al2023.v1`."""
    match = re.fullmatch(r"([a-z]+)\.?(.*)", runtime)
    name, release = (match.group(1), match.group(2)) if match else (runtime, "")
    return f"{name}:{release.removesuffix('.x')}.v1"


def _language_paths(runtime: str, task: str, opt: str, runtime_dir: str) -> dict[str, str]:
    """The module search path AWS gives a runtime's language (spec 3.2): `PYTHONPATH` for
    Python, `NODE_PATH` for Node.js, none for an OS-only runtime."""
    if runtime.startswith("python"):
        return {"PYTHONPATH": runtime_dir}
    if runtime.startswith("nodejs"):
        return {"NODE_PATH": f"{opt}/nodejs/node_modules:{runtime_dir}/node_modules:{task}"}
    return {}


def _platform_error(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class ExecutionEnvironment:
    """An environment of one function version; see the module docstring for its life."""

    def __init__(
        self, plan: LaunchPlan, platform: Platform, uid: int, template: bool = False
    ) -> None:
        """`template`: this environment becomes a SnapStart template (`snapshot_socket`)."""
        self.plan = plan
        self.id = uuid.uuid4().hex
        self.state = EnvironmentState.STARTING
        self.last_used = time.monotonic()
        self._platform = platform
        self._uid = uid
        self.uid = uid
        self.key = ""  # the pool's version key, set by the pool
        # When it stops taking invocations, before its role's session expires (epoch seconds).
        credentials = plan.credentials
        self.retire_at = credentials.retire_at(plan.timeout_s) if credentials else math.inf
        self.expires_at = credentials.expires.timestamp() if credentials else math.inf
        self.log_stream = f"{platform.now().strftime('%Y/%m/%d')}/[{plan.version}]{self.id}"
        self._scratch: ScratchSpace | None = None
        self._network: NetworkNamespace | None = None
        self._server: asyncio.Server | None = None
        self._address = ""
        self._process: RuntimeProcess | None = None
        self._spawns = 0
        self._captured: list[str] | None = None
        self._initialized = False
        # A template's end of its control connection (the restore orders), made at its spawn.
        self.snapshot_socket: socket.socket | None = None
        self._template = template
        self.init_error: str | None = None  # why Init failed (`initialize`), None: timed out
        self._debug: DebugSession | None = None
        self._mounts = EnvironmentMounts(plan.mounts, uid, platform.id_maps)

    def _move(self, target: EnvironmentState) -> None:
        if target not in _MOVES[self.state]:
            raise RuntimeError(f"environment {self.id}: {self.state} -> {target} is not allowed")
        self.state = target

    # --- the runtime process -----------------------------------------------------------------

    async def _spawn(self) -> RuntimeProcess:
        platform, plan = self._platform, self.plan
        self._mounts.ask()  # the keeper makes their namespaces while this spawn goes on
        # The first start takes a ready sandbox when there is one; a restart after a crash or
        # a timeout keeps the environment's network, so it builds its own on the spot.
        if plan.snapshot is not None:
            return await self._restore(plan.snapshot)
        stock = platform.stock
        ready = None
        if self._spawns == 0 and stock is not None and not self._template:
            ready = stock.take(plan.zygote, plan.ephemeral_mb)
        if ready is not None:
            self._network, ready.network = ready.network, None
            self._scratch, ready.scratch = ready.scratch, None
        if self._scratch is None:
            self._scratch = await platform.scratch.take(plan.ephemeral_mb)
        networks = platform.networks
        if self._network is None and networks is not None and networks.isolated:
            self._network = await networks.open()
        network = self._network
        if self._server is None:
            try:
                self._server = await serve_runtime_api(
                    self._current_session, network.runtime_api if network else None
                )
            except BaseException:
                if stock is not None and ready is not None:
                    stock.discard(ready)
                raise
            self._address = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        self._spawns += 1
        debugger = platform.debugger
        if debugger is not None and self._debug is None:
            port = debugger.port_for(plan.function_name, plan.runtime)
            if port is not None:
                self._debug = debugger.register(port, network)
        memory = platform.memory
        release = memory.release if memory is not None else (lambda group: None)
        process = RuntimeProcess(
            ready.id if ready is not None else f"{self.id}-{self._spawns}",
            self._function_line,
            release,
            ready.log_fd if ready is not None else None,
        )
        if platform.isolate:
            process.session.peers = RuntimePeers(self._uid, network.diag if network else None)
        self._process = process
        try:
            keeper = await self._start(process, ready)
            process.keeper = keeper
            if process.session.peers is not None:
                process.session.peers.spawned(keeper)
        except Exception:
            process.exit(ExitStatus("exit status 126", 126, None))
            raise
        finally:
            if process.write_fd is not None:
                os.close(process.write_fd)
        return process

    async def _start(self, process: RuntimeProcess, ready: ReadySandbox | None) -> int:
        """Starts the runtime in a ready sandbox, or in one built now; its keeper's pid."""
        platform, plan = self._platform, self.plan
        zygote = platform.zygote_for(plan.zygote)
        if ready is not None:
            process.group, ready.group = ready.group, None
            if process.group is not None:
                process.group.limit(plan.memory_mb)
                process.oom_kills_before = process.group.oom_kills()
            channel, ready.channel = ready.channel, None
            ready.start(self._spec(process), process.exit)
            if channel is not None:  # after the word to go: what the runtime sends waits in it
                await serve_channel(process.session, channel)
            return ready.keeper
        write_fd = process.write_fd
        assert write_fd is not None  # without a ready sandbox, the process made its log pipe
        if platform.memory is not None:
            process.group = platform.memory.acquire(plan.memory_mb)
            process.oom_kills_before = process.group.oom_kills()
        network = self._network
        fds = {"log": write_fd}
        if network is not None:
            fds["network"] = network.fd
        tmp = -1
        if platform.isolate and self._scratch is not None:
            tmp = fds["tmp"] = detached_copy(self._scratch.path)
        try:
            if not self._template:
                return await zygote.spawn(process.id, self._spec(process), fds, process.exit)
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self.snapshot_socket = ours
            fds["snapshot"] = theirs.fileno()
            try:
                return await zygote.spawn(process.id, self._spec(process), fds, process.exit)
            finally:
                theirs.close()
        finally:
            if tmp >= 0:
                os.close(tmp)

    async def _restore(self, template: RestoreSource) -> RuntimeProcess:
        """Starts this environment as a restore of `template`: a child prepared ahead (or now)
        takes this environment's uid and goes on (restores.py says how)."""
        restores = template.restores
        self._spawns += 1
        prepared = await restores.take()
        memory = self._platform.memory
        release = memory.release if memory is not None else (lambda group: None)
        process = RuntimeProcess(
            prepared.id, self._function_line, release, prepared.log_fd, restoring=True
        )
        self._process = process
        self._scratch = prepared.scratch
        process.group = prepared.group
        process.keeper = prepared.keeper
        if process.group is not None:
            process.oom_kills_before = process.group.oom_kills()
        if prepared.ended is not None:
            process.exit(prepared.ended)
            prepared.channel.close()
            raise SnapStartFailure(SNAP_START_FAILED, Type="User")
        prepared.on_exit = process.exit
        try:
            start(prepared, self._uid, restores.plan.owner, self._platform.isolate)
        except OSError:
            restores.plan.control.kill(prepared.id)
            prepared.channel.close()
            raise SnapStartFailure(SNAP_START_FAILED, Type="User") from None
        await serve_channel(process.session, prepared.channel)
        return process

    def _current_session(self) -> RuntimeSession:
        assert self._process is not None
        return self._process.session

    async def _init(self, limit: float, announce: bool = True) -> Ending:
        """Starts a runtime and waits until it asks for work; None when it did.

        A suppressed init (re-running Init inside an invocation after a reset) is not announced
        with INIT_START, as on AWS.
        """
        plan = self.plan
        if announce:
            # Not part of the invocation's tail: AWS's LogResult starts at START (spec 10.4).
            line = platform_log.init_start(
                runtime_version(plan.runtime),
                plan.runtime_version_arn,
                plan.function_name,
                plan.version,
                plan.initialization_type,
            )
            self._platform_line(line, tail=False)
        process = await self._spawn()
        waiting: set[asyncio.Future[Any]] = {process.ready, process.exited}
        done, _ = await asyncio.wait(waiting, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
        if process.ready in done and process.ready.result() is None:
            self._move(EnvironmentState.READY)
            return None
        if process.ready in done:
            return process.ready.result()
        if process.exited in done:
            return process.exited.result()
        return INIT_TIMED_OUT

    async def initialize(self, limit: float) -> bool:
        """Runs Init ahead of any invocation (provisioned concurrency), reported with
        INIT_REPORT either way (spec 6.2). True when the runtime waits for work; False when Init
        failed or timed out (the caller retires the environment)."""
        self._initialized = True
        began = time.monotonic()
        ending = await self._init(limit)
        init_ms = (time.monotonic() - began) * 1000
        kind = self.plan.initialization_type
        if ending is None:
            self._platform_line(platform_log.init_report(init_ms, "success", None, kind), False)
            self.last_used = time.monotonic()
            return True
        if ending is INIT_TIMED_OUT:
            line = platform_log.init_report(init_ms, "timeout", None, kind)
        else:
            error = ending.error_type if isinstance(ending, Outcome) else exit_error(ending)
            self.init_error = error or "Unhandled"
            line = platform_log.init_report(init_ms, "error", error, kind)
        self._platform_line(line, False)
        return False

    @property
    def tmp_path(self) -> Path | None:
        """Where this environment's /tmp is on the host."""
        return self._scratch.path if self._scratch is not None else None

    def runtime_pid(self) -> int | None:
        """The runtime's first process as the host sees it: the keeper's child when sandboxed,
        else the keeper, which became the runtime."""
        process = self._process
        return process.runtime_pid() if process is not None else None

    def memory_bytes(self) -> int:
        """What the runtime holds now: its proportional set size (the pages it shares with
        its zygote counted in part), or its memory group's usage if that is more."""
        process = self._process
        if process is None:
            return 0
        group = process.group.usage_bytes() if process.group is not None else 0
        pid = self.runtime_pid()
        pss = 0
        if pid is not None:
            with (
                contextlib.suppress(OSError, ValueError),
                open(f"/proc/{pid}/smaps_rollup") as rollup,
            ):
                for line in rollup:
                    if line.startswith("Pss:"):
                        pss = int(line.split()[1]) * 1024
                        break
        return max(group, pss)

    def abandon(self) -> None:
        """The caller gave up on the running invocation (client gone, server stopping)."""
        self._reset()

    def stop(self) -> None:
        """Stops the runtime for good: the pool retires this environment when it is given back
        (its file system went away under it, say)."""
        self._reset()
        self.state = EnvironmentState.DEAD

    def _reset(self) -> None:
        """Stops the runtime process; the environment, its /tmp and log stream stay."""
        process = self._process
        snapshot = self.plan.snapshot
        if process is not None and process.alive:
            if snapshot is not None:
                snapshot.restores.plan.control.kill(process.id)
            else:
                self._platform.zygote_for(self.plan.zygote).kill(process.id)
        # A restored environment has no Init of its own to run again: it goes, and the next
        # invocation restores another.
        self.state = EnvironmentState.STARTING if snapshot is None else EnvironmentState.DEAD

    def _spec(self, process: RuntimeProcess) -> dict[str, object]:
        plan, platform = self.plan, self._platform
        isolate = platform.isolate
        task = "/var/task" if isolate else str(plan.code_dir)
        opt = "/opt" if isolate else str(plan.opt_dir or "/opt")
        runtime_dir = "/var/runtime" if isolate else str(platform.runtime_dir)
        binds: list[tuple[str, str, bool]] = [
            (str(plan.code_dir), "/var/task", False),
            (str(platform.runtime_dir), "/var/runtime", False),
        ]
        if plan.opt_dir is not None:
            binds.append((str(plan.opt_dir), "/opt", False))
        lang = "/var/lang"
        if plan.lang is not None:
            binds.append((str(plan.lang), "/var/lang", False))
            lang = lang if isolate else str(plan.lang)
        program: list[str] | None = None
        if plan.program is not None:
            program = [
                p.replace("/var/runtime", runtime_dir, 1).replace("/var/lang", lang, 1)
                for p in plan.program
            ]
            program = program or [self._bootstrap(task, opt)]
        sys_path = [task, f"{opt}/python", runtime_dir]
        if plan.python_version is not None:
            major, minor = plan.python_version
            sys_path.insert(1, f"{opt}/python/lib/python{major}.{minor}/site-packages")
        return {
            "isolate": isolate,
            "root": str(platform.sandbox_root),
            "reveal": list(plan.reveal),
            "binds": binds,
            "cgroups": [process.group.procs] if process.group else [],
            "uid": self._uid,
            "gid": self._uid,
            "groups": self._mounts.groups(),
            "hostname": "localhost",
            "env": self._variables(task, opt, runtime_dir),
            "cwd": task,
            "argv": program,
            "sys_path": sys_path,
            "runtime_dir": runtime_dir,
            "mounts": self._mounts.spec(),
        }

    def _bootstrap(self, task: str, opt: str) -> str:
        opt_dir = self.plan.opt_dir
        in_code = (self.plan.code_dir / "bootstrap").exists()
        if not in_code and opt_dir is not None and (opt_dir / "bootstrap").exists():
            return f"{opt}/bootstrap"
        return f"{task}/bootstrap"

    def _variables(self, task: str, opt: str, runtime_dir: str) -> dict[str, str]:
        """The runtime's environment: AWS's set and no other (spec 3.2, as observed in a
        python3.14 function), plus `AWS_ENDPOINT_URL`, gureum's own, so that SDKs in the
        function reach this server's services instead of AWS's."""
        plan = self.plan
        variables = {
            "PATH": f"/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:{opt}/bin",
            "LD_LIBRARY_PATH": f"/var/lang/lib:/lib64:/usr/lib64:{runtime_dir}:"
            f"{runtime_dir}/lib:{task}:{task}/lib:{opt}/lib",
            "LANG": "en_US.UTF-8",
            "LC_CTYPE": "C.UTF-8",
            "TZ": ":UTC",
            "PWD": task,
            "SHLVL": "0",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": f"{XRAY_DAEMON_HOST}:{XRAY_DAEMON_PORT}",
            "_AWS_XRAY_DAEMON_ADDRESS": XRAY_DAEMON_HOST,
            "_AWS_XRAY_DAEMON_PORT": XRAY_DAEMON_PORT,
            **_language_paths(plan.runtime, task, opt, runtime_dir),
        }
        variables.update(plan.variables)
        variables.update(
            {
                "_HANDLER": plan.handler,
                "AWS_REGION": plan.region,
                "AWS_DEFAULT_REGION": plan.region,
                "AWS_LAMBDA_FUNCTION_NAME": plan.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": plan.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(plan.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": plan.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
                "AWS_LAMBDA_RUNTIME_API": self._address,
                "AWS_LAMBDA_INITIALIZATION_TYPE": plan.initialization_type,
                "LAMBDA_TASK_ROOT": task,
                "LAMBDA_RUNTIME_DIR": runtime_dir,
                # The execution role's own session (never the account's key): code in the
                # function acts as its role and no more.
                **(plan.credentials.variables() if plan.credentials is not None else {}),
                "AWS_ENDPOINT_URL": self._platform.endpoint,
            }
        )
        variables.update(plan.logging.variables())
        if plan.container_credentials is not None:
            endpoint = self._platform.endpoint.rstrip("/")
            variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"{endpoint}{CREDENTIALS_PATH}"
            variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = plan.container_credentials
        if plan.initialization_type == SNAP_START:
            # One snapshot, many environments, each with a stream of its own: AWS leaves these
            # out of SnapStart functions' environments.
            del variables["AWS_LAMBDA_LOG_GROUP_NAME"], variables["AWS_LAMBDA_LOG_STREAM_NAME"]
        debugger = self._platform.debugger
        if self._debug is not None and debugger is not None:
            # gureum's own, read and removed by its runtimes before any function code runs.
            variables["_GUREUM_DEBUG_PORT"] = str(self._debug.inner_port)
            variables["_GUREUM_DEBUG_WAIT"] = "1" if debugger.settings.wait > 0 else "0"
        if plan.execution_env:
            variables["AWS_EXECUTION_ENV"] = plan.execution_env
        if not self._platform.isolate:
            variables["TMPDIR"] = str(self._scratch.path) if self._scratch else ""
        return variables

    # --- logs --------------------------------------------------------------------------------

    def _emit(self, message: str, tail: bool = True) -> None:
        if self._captured is not None and tail:
            self._captured.append(message)
        plan = self.plan
        stamp = int(self._platform.now().timestamp() * 1000)
        event = LogEvent(stamp, message)
        self._platform.logs.append(
            plan.account, plan.region, plan.log_group, self.log_stream, [event]
        )

    def _function_line(self, line: str) -> None:
        """One line of the runtime's output, unless LoggingConfig's level filters it out."""
        if self.plan.logging.keeps_function_line(line):
            self._emit(line)

    def _platform_line(self, line: PlatformLine, tail: bool = True) -> None:
        """A platform line, as text or as AWS's JSON record (LoggingConfig decides)."""
        if not self.plan.logging.json:  # the usual case, on every invoke: no timestamp to format
            self._emit(line.text, tail)
            return
        stamp = self._platform.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        message = self.plan.logging.render(line, stamp)
        if message is not None:
            self._emit(message, tail)

    # --- invoking ----------------------------------------------------------------------------

    async def invoke(self, request: InvocationRequest) -> InvocationResult:
        """Runs one invocation, starting (or restarting) the runtime first if needed."""
        self._captured = []
        init_ms: float | None = None
        restore_ms: float | None = None
        if not self._initialized and self.plan.snapshot is not None:
            self._initialized = True
            restore_ms = await self._restore_phase()
        if not self._initialized:
            self._initialized = True
            began = time.monotonic()
            ending = await self._init(self._init_limit())
            init_ms = (time.monotonic() - began) * 1000
            self._check_mounted(ending, restarted=False)
            if ending is INIT_TIMED_OUT and self._waits_for_debugger():
                return self._fail_init(request, self._no_debugger(), init_ms)
            if ending is not None and ending is not INIT_TIMED_OUT:
                return self._fail_init(request, ending, init_ms)
            if ending is INIT_TIMED_OUT:
                # AWS retries Init within the first invocation, under the function's timeout.
                self._platform_line(platform_log.init_report(init_ms, "timeout"))
                self._reset()
                init_ms = None
        self._platform_line(platform_log.start(request.request_id, self.plan.version))
        started = time.monotonic()
        if self.state is EnvironmentState.STARTING:
            ending = await self._init(self.plan.timeout_s, announce=False)
            self._check_mounted(ending, restarted=True)
            if ending is not None:
                return self._finish(
                    request, ending if ending is not INIT_TIMED_OUT else None, started, None
                )
        return await self._run(request, started, init_ms, restore_ms)

    async def _restore_phase(self) -> float:
        """RESTORE_START, the restore, RESTORE_REPORT; its duration in ms. A failed restore
        (an after-restore hook raised, the runtime ended, 10 s passed) retires the environment
        and raises AWS's SnapStart error: the invocation never ran."""
        plan = self.plan
        line = platform_log.restore_start(runtime_version(plan.runtime), plan.runtime_version_arn)
        self._platform_line(line, tail=False)
        began = time.monotonic()
        ending = await self._init(RESTORE_LIMIT, announce=False)
        restore_ms = (time.monotonic() - began) * 1000
        if ending is None:
            self._platform_line(platform_log.restore_report(restore_ms), tail=False)
            return restore_ms
        self.state = EnvironmentState.DEAD
        if ending is INIT_TIMED_OUT:
            self._platform_line(platform_log.restore_report(restore_ms, "timeout"), tail=False)
            raise SnapStartTimeout(SNAP_START_TIMED_OUT, Type="User")
        error = ending.error_type if isinstance(ending, Outcome) else exit_error(ending)
        self._platform_line(platform_log.restore_report(restore_ms, "error", error), tail=False)
        raise SnapStartFailure(SNAP_START_FAILED, Type="User")

    def _init_limit(self) -> float:
        """Init's limit; with `--debug-wait`, long enough to wait for the debugger."""
        debugger = self._platform.debugger
        if self._waits_for_debugger() and debugger is not None:
            return max(INIT_LIMIT, debugger.settings.wait)
        return INIT_LIMIT

    def _waits_for_debugger(self) -> bool:
        debugger = self._platform.debugger
        if debugger is None or debugger.settings.wait <= 0:
            return False
        return debugger.port_for(self.plan.function_name, self.plan.runtime) is not None

    def _no_debugger(self) -> Outcome:
        debugger = self._platform.debugger
        assert debugger is not None
        port = debugger.port_for(self.plan.function_name, self.plan.runtime)
        message = (
            f"No debugger attached to 127.0.0.1:{port} within {debugger.settings.wait:g} "
            "seconds (--debug-wait): the function did not run."
        )
        self._emit(message + "\n")
        document = {"errorType": "Runtime.DebuggerNotAttached", "errorMessage": message}
        return Outcome(OutcomeKind.INIT_ERROR, json.dumps(document).encode(), document["errorType"])

    async def _outcome(
        self, outcome: asyncio.Future[Outcome], process: RuntimeProcess, started: float
    ) -> set[asyncio.Future[Any]]:
        """Waits for the invocation's end or its timeout (the empty set); while a debugger is
        attached the timeout is suspended, and the time attached is given back after."""
        timeout, session = self.plan.timeout_s, self._debug
        while True:
            waiting: set[asyncio.Future[Any]] = {outcome, process.exited}
            limit: float | None = None
            if session is not None:
                waiting.add(session.change())
            if session is None or not session.attached:
                now = time.monotonic()
                extra = session.attached_seconds(now) if session is not None else 0.0
                limit = max(started + timeout + extra - now, 0)
            done, _ = await asyncio.wait(
                waiting, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
            if outcome in done or process.exited in done or not done:
                return done

    def _check_mounted(self, ending: Ending, *, restarted: bool) -> None:
        """Raises Lambda's EFS error, the environment done, when its sandbox could not mount."""
        code = ending.code if isinstance(ending, ExitStatus) else None
        error = self._mounts.failure(code, restarted=restarted)
        if error is not None:
            self.state = EnvironmentState.DEAD
            raise error

    async def _run(
        self,
        request: InvocationRequest,
        started: float,
        init_ms: float | None,
        restore_ms: float | None = None,
    ) -> InvocationResult:
        process = self._process
        assert process is not None
        self._move(EnvironmentState.BUSY)
        timeout = self.plan.timeout_s
        invocation = Invocation(
            request.request_id,
            request.payload,
            int((time.time() + timeout - (time.monotonic() - started)) * 1000),
            request.invoked_function_arn,
            request.trace_id or _trace_id(time.time()),
            request.client_context,
            request.stream,
        )
        outcome = process.session.submit(invocation)
        done = await self._outcome(outcome, process, started)
        process.read_logs()
        ending: Ending = None
        if outcome in done:
            ending = outcome.result()
        elif process.exited in done:
            ending = process.exited.result()
        return self._finish(request, ending, started, init_ms, restore_ms)

    def _fail_init(
        self, request: InvocationRequest, ending: Outcome | ExitStatus, init_ms: float
    ) -> InvocationResult:
        error_type = ending.error_type if isinstance(ending, Outcome) else exit_error(ending)
        self._platform_line(platform_log.init_report(init_ms, "error", error_type))
        self._platform_line(platform_log.start(request.request_id, self.plan.version))
        result = self._finish(request, ending, time.monotonic(), None)
        # An environment whose Init failed is discarded; the next invocation gets a new one.
        self.state = EnvironmentState.DEAD
        return result

    def _finish(
        self,
        request: InvocationRequest,
        ending: Ending,
        started: float,
        init_ms: float | None,
        restore_ms: float | None = None,
    ) -> InvocationResult:
        duration = (time.monotonic() - started) * 1000
        payload, error_type = self._payload(request.request_id, ending)
        clean = isinstance(ending, Outcome) and ending.kind in (
            OutcomeKind.RESPONSE,
            OutcomeKind.ERROR,
        )
        if clean:
            self._move(EnvironmentState.READY)
        else:
            self._reset()
        process = self._process
        if process is not None:
            process.flush()
        self._platform_line(platform_log.end(request.request_id))
        status = "timeout" if ending is None else ("error" if not clean else None)
        peak = process.peak_bytes() if process else 0
        memory = self.plan.memory_mb
        self._platform_line(
            platform_log.report(
                request.request_id, duration, init_ms, memory, peak, status, error_type, restore_ms
            )
        )
        captured = "".join(self._captured or [])
        self._captured = None
        self.last_used = time.monotonic()
        failed = not (isinstance(ending, Outcome) and ending.kind is OutcomeKind.RESPONSE)
        streamed = isinstance(ending, Outcome) and ending.streamed
        kind = (error_type or "Unhandled") if failed else None
        return InvocationResult(
            payload, failed, captured.encode(), duration, init_ms, kind, streamed, request.trace_id
        )

    def _payload(self, request_id: str, ending: Ending) -> tuple[bytes, str | None]:
        if ending is None:
            seconds = f"{self.plan.timeout_s:.2f}"
            stamp = self._platform.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            self._emit(f"{stamp} {request_id} Task timed out after {seconds} seconds\n")
            message = f"RequestId: {request_id} Error: Task timed out after {seconds} seconds"
            return _platform_error("Sandbox.Timedout", message), None
        if isinstance(ending, ExitStatus):
            if ending.code == 0:
                reason = "Runtime exited without providing a reason"
            else:
                reason = f"Runtime exited with error: {ending.text}"
            error_type = exit_error(ending)
            self._emit(f"RequestId: {request_id} Error: {reason}\n{error_type}\n")
            message = f"RequestId: {request_id} Error: {reason}"
            return _platform_error(error_type, message), error_type
        if ending.kind is OutcomeKind.TOO_LARGE:
            message = (
                "Response payload size exceeded maximum allowed payload size "
                f"({RESPONSE_LIMIT} bytes)."
            )
            document = {"errorMessage": message, "errorType": "Function.ResponseSizeTooLarge"}
            return json.dumps(document).encode(), "Function.ResponseSizeTooLarge"
        if ending.kind is OutcomeKind.RESPONSE:
            return ending.body, None
        return ending.body, ending.error_type or "Unhandled"

    # --- the end -----------------------------------------------------------------------------

    async def retire(self) -> None:
        """Stops the runtime for good and frees the environment's resources."""
        process = self._process
        self._reset()
        self.state = EnvironmentState.DEAD
        if process is not None and process.alive:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.exited), 5)
        if self._server is not None:
            self._server.close()
            self._server = None
        debugger, self_debug = self._platform.debugger, self._debug
        if debugger is not None and self_debug is not None:
            debugger.unregister(self_debug)
            self._debug = None
        network, self._network = self._network, None
        if network is not None:
            network.close()
        space, self._scratch = self._scratch, None
        if space is not None:
            await self._platform.scratch.remove(space)
