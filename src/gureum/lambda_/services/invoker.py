"""The Invoke use case (spec 10): resolve, check, run on an environment, shape the answer.

Synchronous invocations come here from the Invoke API, and the asynchronous queue's delivery
workers call the same `run`, so both paths share resolution, checks and environments. The
routing draw for weighted aliases comes from an injected random source, one per invocation.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import random
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from gureum.aws.documents import UnreadableDocument, read_document
from gureum.aws.errors import RequestEntityTooLarge, SerializationError
from gureum.clock import Clock
from gureum.lambda_.domain import file_systems, recursion, snap_start
from gureum.lambda_.domain.aliases import route
from gureum.lambda_.domain.arns import LATEST, FunctionRef, function_arn, is_version_number
from gureum.lambda_.domain.connections import (
    ConnectionLedger,
    ConnectionRateExceeded,
    TooManyConnections,
)
from gureum.lambda_.domain.credentials import LIFETIME_S, kms_denied, session_arn
from gureum.lambda_.domain.errors import (
    InvalidParameterValue,
    KMSAccessDenied,
    RecursiveInvocation,
    ResourceConflict,
)
from gureum.lambda_.domain.file_systems import Mount
from gureum.lambda_.domain.functions import Function, FunctionVersion
from gureum.lambda_.domain.lifecycle import State
from gureum.lambda_.domain.log_format import LogSettings
from gureum.lambda_.domain.retries import Progress, QueuedEvent
from gureum.lambda_.domain.runtimes import runtime_version_arn
from gureum.lambda_.sandbox.catalog import RuntimeCatalog
from gureum.lambda_.sandbox.environment import (
    ExecutionEnvironment,
    InvocationRequest,
    InvocationResult,
    LaunchPlan,
)
from gureum.lambda_.sandbox.pool import EnvironmentPool
from gureum.lambda_.services.admission import Admission
from gureum.lambda_.services.container_credentials import ContainerCredentials
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.event_queue import EventQueue
from gureum.lambda_.services.functions import not_found
from gureum.lambda_.services.metrics import LambdaMetrics
from gureum.lambda_.services.network import FileSystems, NoNetwork
from gureum.lambda_.services.roles import ExecutionRoles, RolePermissions
from gureum.lambda_.services.snapshots import Snapshots
from gureum.lambda_.services.vault import kms_error
from gureum.lambda_.store.codestore import CodeStore
from gureum.lambda_.store.ports import NeedsWorker, Store, Transaction

log = logging.getLogger("gureum.invoker")

SYNC_PAYLOAD_LIMIT = 6_291_456
PLAN_CACHE = 4096
TAIL_BYTES = 4096


class InvocationType(StrEnum):
    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"
    DRY_RUN = "DryRun"


@dataclass(frozen=True, slots=True)
class Target:
    """The version an invocation runs, and the ARN it was invoked through."""

    function: Function
    version: FunctionVersion
    invoked_arn: str


@dataclass(frozen=True, slots=True)
class InvokeResult:
    status: int
    payload: bytes
    executed_version: str | None = None
    function_error: str | None = None
    log_result: str | None = None


def check_payload(payload: bytes) -> bytes:
    """AWS's checks of a synchronous payload: size, UTF-8, JSON (spec 10.6)."""
    if len(payload) > SYNC_PAYLOAD_LIMIT:
        raise RequestEntityTooLarge(
            f"Request must be smaller than {SYNC_PAYLOAD_LIMIT} bytes for the InvokeFunction "
            "operation"
        )
    if not payload:
        return b"{}"
    try:
        read_document(payload)
    except UnreadableDocument as exc:
        raise SerializationError(
            "Could not parse request body into json: Could not parse payload into json: "
            + exc.reason
        ) from None
    return payload


def decode_client_context(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
        if not isinstance(read_document(text), dict):
            raise ValueError("not an object")
    except (binascii.Error, ValueError):
        raise SerializationError(
            "Client context must be a valid Base64-encoded JSON object."
        ) from None
    return text


def resolve_target(
    tx: Transaction, function: Function, qualifier: str | None, draw: float
) -> Target:
    """`$LATEST` is the one being served: during an update, the one before it (spec 11.1)."""
    if qualifier is None or qualifier == LATEST:
        arn = function.arn if qualifier is None else function.version_arn(LATEST)
        return Target(function, function.serving, arn)
    arn = function.version_arn(qualifier)
    if is_version_number(qualifier):
        version = tx.get_version(function, qualifier)
    else:
        alias = tx.get_alias(function, qualifier)
        chosen = route(alias, draw) if alias is not None else None
        version = None
        if chosen is not None:
            version = function.serving if chosen == LATEST else tx.get_version(function, chosen)
    if version is None:
        raise not_found(arn)
    return Target(function, version, arn)


def slot_of(function: Function, version: FunctionVersion) -> tuple[str, str]:
    """The pool's slot of a version, and its key (which changes with the version's revision)."""
    slot = f"{function.id}:{version.version}"
    return slot, f"{slot}#{version.revision_id}"


def check_invocable(version: FunctionVersion) -> None:
    state = version.lifecycle.state
    if state is not State.ACTIVE:
        raise ResourceConflict(
            "The operation cannot be performed at this time. The function is currently in the "
            f"following state: {state.value}"
        )


# A file system as connections are counted: account, region, id.
FileSystemKey = tuple[str, str, str]


def _connection(function: Function, mount: Mount) -> FileSystemKey:
    # Counted in the file system's account (another than the function's across accounts).
    return (mount.account or function.account, function.region, mount.file_system_id)


class Remote(Protocol):
    """Runs invocations elsewhere: on the agents of a cluster."""

    async def run(self, target: Target, request: InvocationRequest) -> InvocationResult: ...


class Invoker:
    """Invoke, synchronous and queued: resolve the version, check it, run it under a lease.

    Runs on the event loop. Launch plans are cached by version revision, so a warm invoke
    neither unpacks nor looks anything up beyond the function record.
    """

    def __init__(
        self,
        store: Store,
        code: CodeStore,
        catalog: RuntimeCatalog,
        pool: EnvironmentPool,
        admission: Admission,
        metrics: LambdaMetrics,
        events: EventQueue,
        executor: Executor,
        clock: Clock,
        async_limit: int,
        draw: Callable[[], float] | None = None,
        file_systems: FileSystems | None = None,
        connections: ConnectionLedger[FileSystemKey] | None = None,
        roles: ExecutionRoles | None = None,
        permissions: RolePermissions | None = None,
    ) -> None:
        self._store = store
        self._roles = roles
        self.permissions = permissions
        self._file_systems: FileSystems = file_systems or NoNetwork()
        self.connections: ConnectionLedger[FileSystemKey] = connections or ConnectionLedger()
        pool.released = self._release
        self._code = code
        self._catalog = catalog
        self._pool = pool
        self._admission = admission
        self._metrics = metrics
        self._events = events
        self._executor = executor
        self._draw = draw or random.Random().random
        self._clock = clock
        self.async_limit = async_limit
        # Launch plans by version revision: a warm invoke should not unpack or look up anything.
        self._plans: dict[str, LaunchPlan] = {}
        self._targets: dict[tuple[str, str, str, str | None], tuple[int, Target]] = {}
        # The qualifier (version or alias) whose provisioned concurrency serves a slot, for
        # the provisioned metrics' Resource; the provisioner fills it in.
        self.owner_of: Callable[[str], str | None] = lambda slot: None
        # SnapStart versions' templates (set by the assembly): environments restore from them.
        self.snapshots: Snapshots | None = None
        # A front door of a cluster (`--sandboxes agents`): where invocations run instead of
        # here (services.agents.Placement; set by the assembly).
        self.remote: Remote | None = None
        # Their role sessions, served over HTTP.
        self.container_credentials = ContainerCredentials(roles) if roles is not None else None
        # Versions whose variables opened, by the store generation they were checked at (which
        # moves with the keys too): each Event accept checks the key, and asking KMS afresh
        # every time (a read of the function and a decryption, on the loop) cost an accept more
        # than everything else it does.
        self._keys_open: dict[tuple[str, str, str], int] = {}

    def target(self, caller: Caller, ref: FunctionRef) -> Target:
        """The version to run. Cached until the store changes, except through an alias
        (each invocation draws its own route)."""
        key = (caller.account, caller.region, ref.name, ref.qualifier)
        generation = self._store.generation
        cached = self._targets.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        target = self.fresh_target(caller, ref)
        routed = ref.qualifier is not None and ref.qualifier != LATEST
        routed = routed and not is_version_number(ref.qualifier or "")
        # Variables that could not be decrypted are not remembered: the key may come back.
        if not routed and target.version.settings.environment_error is None:
            if len(self._targets) >= PLAN_CACHE:
                self._targets.clear()
            self._targets[key] = (generation, target)
        return target

    def check_key(self, target: Target) -> None:
        """Raises Lambda's KMS error when the version's variables cannot be decrypted now
        (asked afresh: a key's state is not part of the function record)."""
        if target.version.settings.environment_sealed is None:
            return
        function, version = target.function, target.version
        checked = (function.id, version.version, version.revision_id)
        generation = self._store.generation
        if self._keys_open.get(checked) == generation:
            return  # neither the function nor any key changed since the variables opened
        ref = FunctionRef(function.name, version.version)
        current = self.fresh_target(Caller(function.account, function.region), ref)
        error = current.version.settings.environment_error
        if error is not None:
            raise kms_error(error)
        if len(self._keys_open) >= PLAN_CACHE:
            self._keys_open.clear()
        self._keys_open[checked] = generation

    def fresh_target(self, caller: Caller, ref: FunctionRef) -> Target:
        # From a snapshot (the event loop reads without waiting for writers), or in a
        # transaction when the variables must be opened (that asks KMS).
        try:
            with self._store.snapshot() as tx:
                return self._resolve(tx, caller, ref)
        except NeedsWorker:
            with self._store.transaction() as tx:
                return self._resolve(tx, caller, ref)

    def _resolve(self, tx: Transaction, caller: Caller, ref: FunctionRef) -> Target:
        function = tx.get_function(caller.account, caller.region, ref.name)
        if function is None:
            # Invoke names the version it looked for (spec 0.4): `$LATEST` when unqualified.
            qualifier = ref.qualifier or LATEST
            raise not_found(function_arn(caller.region, caller.account, ref.name, qualifier))
        return resolve_target(tx, function, ref.qualifier, self._draw())

    async def invoke(
        self,
        caller: Caller,
        ref: FunctionRef,
        payload: bytes,
        invocation_type: InvocationType,
        tail: bool,
        client_context: str | None,
        request_id: str,
        trace_header: str | None = None,
    ) -> InvokeResult:
        """`trace_header`: the caller's X-Amzn-Trace-Id (an SDK inside a function sends its
        invocation's), whose lineage the invocation continues."""
        context_text = decode_client_context(client_context)
        target = self.target(caller, ref)
        check_invocable(target.version)
        if invocation_type is InvocationType.DRY_RUN:
            return InvokeResult(204, b"")
        if invocation_type is InvocationType.EVENT:
            await self.accept(target, ref, payload, request_id, self.async_limit, trace_header)
            return InvokeResult(202, b"")
        event = check_payload(payload)
        request = InvocationRequest(
            request_id, event, target.invoked_arn, context_text, trace_id=trace_header
        )
        result = await self.run(target, request)
        log_result = None
        if tail:
            log_result = base64.b64encode(result.logs[-TAIL_BYTES:]).decode("ascii")
        return InvokeResult(
            200,
            result.payload,
            executed_version=target.version.version,
            function_error="Unhandled" if result.function_error else None,
            log_result=log_result,
        )

    async def accept(
        self,
        target: Target,
        ref: FunctionRef,
        payload: bytes,
        request_id: str,
        limit: int,
        trace_header: str | None = None,
    ) -> None:
        """Queues an Event invocation durably (spec 5.1); the caller answers 202 after this."""
        self.check_key(target)  # the same checks as a synchronous call, KMS included
        if len(payload) > limit:
            raise RequestEntityTooLarge(
                f"{len(payload)} byte payload is too large for the Event invocation type "
                f"(limit {limit} bytes)"
            )
        event = check_payload(payload)
        function = target.function
        now = self._clock.now().timestamp()
        queued = QueuedEvent(
            request_id,
            function.account,
            function.region,
            function.name,
            ref.qualifier,
            event,
            Progress(now),
            now,
            trace_header=trace_header,
        )
        await self._events.accept(queued)
        self._metrics.async_received(function.region, function.name, account=function.account)

    async def run(self, target: Target, request: InvocationRequest) -> InvocationResult:
        """Runs one invocation, here or, on a front door of a cluster, on an agent (`remote`,
        which runs it with `run_here`). Its trace header is carried on (a recursive loop
        stopped) first, once, wherever it then runs."""
        request = self._traced(target, request)
        if self.remote is not None:
            return await self.remote.run(target, request)
        return await self.run_here(target, request)

    async def run_here(self, target: Target, request: InvocationRequest) -> InvocationResult:
        """Runs one invocation on this host: on a free provisioned environment of the version
        if there is one, else on demand under a concurrency lease (429 when there is none to
        be had), counted as spillover when the version has provisioned concurrency (spec 6.3).
        `request` carries its trace header already (`run`)."""
        function, version = target.function, target.version
        slot, key = slot_of(function, version)
        if not self._pool.serving(slot):  # the usual case: no provisioned concurrency here
            return await self._on_demand(target, request, slot, key)
        resource = f"{function.name}:{self.owner_of(slot) or version.version}"
        with self._pool.provisioned(slot, key) as provisioned:
            if provisioned is not None:
                async with self._admission.provisioned_lease(function):
                    self._metrics.provisioned_invocation(
                        function.region, function.name, resource, account=function.account
                    )
                    result = self._io_checked(provisioned, await provisioned.invoke(request))
                self._metrics.invocation(
                    function.region,
                    function.name,
                    result.duration_ms,
                    result.function_error,
                    account=function.account,
                    invoked_arn=target.invoked_arn,
                    executed_version=version.version,
                    init_duration_ms=result.init_duration_ms,
                )
                return result
        result = await self._on_demand(target, request, slot, key)
        # All in use: spillover (counted once it ran; a throttled request was no invocation).
        self._metrics.spillover(function.region, function.name, resource, account=function.account)
        return result

    def _traced(self, target: Target, request: InvocationRequest) -> InvocationRequest:
        """`request` with the trace header it runs with, its chain's lineage counting this
        function; RecursiveInvocationException instead when that is a loop past AWS's
        threshold and the function's RecursiveLoop is Terminate (domain.recursion)."""
        function, header = target.function, request.trace_id
        if function.recursive_loop == recursion.RecursiveLoop.TERMINATE and recursion.is_loop(
            header, function.arn
        ):
            self._metrics.recursive_dropped(
                function.region, function.name, account=function.account
            )
            log.warning(
                "function %s: invocation %s stopped: it would be invocation %d of one chain of "
                "requests (a recursive loop; PutFunctionRecursionConfig Allow lets it run)",
                function.arn,
                request.request_id,
                recursion.count(header, function.arn) + 1,
            )
            raise RecursiveInvocation()
        fresh = os.urandom(20).hex()  # a new root's 24 hex digits and the parent's 16
        root = f"1-{int(self._clock.now().timestamp()):08x}-{fresh[:24]}"
        traced = recursion.carried(header, function.arn, root, fresh[24:])
        return replace(request, trace_id=traced)

    async def _on_demand(
        self, target: Target, request: InvocationRequest, slot: str, key: str
    ) -> InvocationResult:
        function, version = target.function, target.version
        async with self._admission.lease(function):
            plan = self._plans.get(key) or await self._plan(target)
            if len(self._plans) >= PLAN_CACHE:
                self._plans.clear()
            if version.settings.environment_error is None:  # else the key may come back
                self._plans[key] = plan

            async def scale() -> LaunchPlan | None:
                # A new environment needs the variables in the clear: the key must work now
                # (asked afresh: a key's state is not the function record's).
                self.check_key(target)
                self._check_role_key(target)
                await self._admission.new_environment(function)
                started = self._started(target, plan)
                snapshots = self.snapshots
                if snapshots is not None and snap_start.applies(
                    version.settings.snap_start, version.version
                ):
                    # Restored, not cold-started: only a new environment needs the template
                    # (made again first if a restart or the memory budget let it go).
                    template = await snapshots.template(function, version)
                    started = replace(started, snapshot=template)
                return started

            async with self._pool.lease(slot, key, plan, scale) as environment:
                result = self._io_checked(environment, await environment.invoke(request))
        self._metrics.invocation(
            function.region,
            function.name,
            result.duration_ms,
            result.function_error,
            account=function.account,
            invoked_arn=target.invoked_arn,
            executed_version=version.version,
            init_duration_ms=result.init_duration_ms,
        )
        return result

    async def snapshot_plan(self, function: Function, version: FunctionVersion) -> LaunchPlan:
        """The plan a SnapStart version's template runs Init with: its role's credentials
        served over HTTP (container credentials), never keys a snapshot would keep past
        their expiry."""
        arn = function_arn(function.region, function.account, function.name, version.version)
        plan = await self.plan(Target(function, version, arn))
        served = self.container_credentials
        if served is None:
            return plan
        token = served.token(version.settings.role, function.name)
        return replace(plan, credentials=None, container_credentials=token)

    async def plan(self, target: Target) -> LaunchPlan:
        """The launch plan of a version (the provisioner starts environments with it)."""
        plan = await self._plan(target)
        self._check_role_key(target)
        return self._started(target, plan)

    def _check_role_key(self, target: Target) -> None:
        """Under `enforce`, a new environment's variables sealed with a customer managed key are
        decrypted as the execution role, which must be allowed kms:Decrypt on it (the AWS
        managed key needs no permission, spec 3.3); Lambda's KMSAccessDeniedException if not."""
        settings = target.version.settings
        key = settings.kms_key_arn
        if not key or settings.environment_sealed is None or self.permissions is None:
            return
        session = session_arn(settings.role, target.function.name)
        refused = self.permissions.denied(session, "kms:Decrypt", key)
        if refused is not None:
            raise KMSAccessDenied(kms_denied(refused))

    def _started(self, target: Target, plan: LaunchPlan) -> LaunchPlan:
        """The plan of an environment starting now: its file systems mounted, and a session of
        its execution role (the function's name as the session's)."""
        settings = target.version.settings
        plan = self._mounted(target, plan) or plan
        if self._roles is None:
            return plan
        if snap_start.applies(settings.snap_start, target.version.version):
            return plan  # restored: its variables are its snapshot's (`snapshot_plan`)
        credentials = self._roles.credentials(settings.role, target.function.name, LIFETIME_S)
        return replace(plan, credentials=credentials)

    def _mounted(self, target: Target, plan: LaunchPlan) -> LaunchPlan | None:
        """`plan` with the version's file systems, as an environment starting now mounts them
        (spec 7.2: reachability and the file system policy are evaluated at each start, so a
        group changed or an access point deleted shows on the next cold start); None when the
        version has none. EFSMount* errors refuse the start."""
        settings = target.version.settings
        if not settings.file_system_configs:
            return None
        function, vpc = target.function, settings.vpc_config or {}
        mounts: list[Mount] = []
        now = self._clock.monotonic()
        try:
            for config in settings.file_system_configs:
                arn = str(config["Arn"])
                mount = self._file_systems.mount(
                    function.account,
                    function.region,
                    arn,
                    str(config["LocalMountPath"]),
                    vpc,
                    settings.role,
                )
                # One NFS connection per environment and file system (spec 7.3). Past the
                # file system's limit the mount is refused; past its creation rate it does
                # not come up in time.
                try:
                    self.connections.open(_connection(function, mount), now)
                except TooManyConnections:
                    raise file_systems.mount_refused(arn) from None
                except ConnectionRateExceeded:
                    raise file_systems.timed_out(arn) from None
                mounts.append(mount)
        except BaseException:
            for mount in mounts:
                self.connections.close(_connection(function, mount))
            raise
        return replace(plan, mounts=tuple(mounts))

    def _io_checked(
        self, environment: ExecutionEnvironment, result: InvocationResult
    ) -> InvocationResult:
        """`result`, unless the invocation failed on an environment whose file system is gone:
        its I/O failed under it, so the environment is stopped and the caller gets
        EFSIOException (410), as Lambda answers for an instance it stopped over I/O (spec 7.2).
        Asked only of failed invocations with a mount, so a warm invoke pays nothing."""
        plan = environment.plan
        if not result.function_error or not plan.mounts:
            return result
        if all(self._file_systems.present(m, plan.region) for m in plan.mounts):
            return result
        environment.stop()
        raise file_systems.io_failed()

    def _release(self, plan: LaunchPlan) -> None:
        for mount in plan.mounts:
            owner = mount.account or plan.account
            self.connections.close((owner, plan.region, mount.file_system_id))

    def client_connections(self) -> dict[FileSystemKey, int]:
        """Open EFS connections by (account, region, file system id)."""
        return self.connections.counts()

    async def _plan(self, target: Target) -> LaunchPlan:
        function, version = target.function, target.version
        settings = version.settings
        assert settings.runtime is not None
        assert settings.handler is not None
        launcher = self._catalog.launcher(settings.runtime)
        if launcher is None:
            raise InvalidParameterValue(self._catalog.unavailable(settings.runtime))
        loop = asyncio.get_running_loop()
        # No worker thread when the tree is there already: on the cold-start path, handing work
        # to a thread and back costs more than the work.
        code_dir = self._code.made(version.code.blob)
        if code_dir is None:
            code_dir = await loop.run_in_executor(
                self._executor, self._code.tree, version.code.blob
            )
        layer_blobs = [layer.blob for layer in settings.layers]
        opt_dir = None
        if layer_blobs:
            opt_dir = await loop.run_in_executor(self._executor, self._code.merged, layer_blobs)
        python = launcher.python
        return LaunchPlan(
            account=function.account,
            region=function.region,
            function_name=function.name,
            version=version.version,
            handler=settings.handler,
            runtime=settings.runtime,
            memory_mb=settings.memory_size,
            timeout_s=settings.timeout,
            ephemeral_mb=settings.ephemeral_storage,
            code_dir=code_dir,
            opt_dir=opt_dir,
            zygote=launcher.zygote,
            program=launcher.program,
            reveal=launcher.reveal,
            lang=Path(launcher.lang) if launcher.lang is not None else None,
            python_version=python.version if python else None,
            execution_env=launcher.execution_env,
            log_group=str(settings.logging_config.get("LogGroup", f"/aws/lambda/{function.name}")),
            variables=dict(settings.environment or {}),
            runtime_version_arn=runtime_version_arn(function.region, settings.runtime),
            logging=LogSettings.from_config(settings.logging_config),
        )
