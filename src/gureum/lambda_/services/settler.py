"""The settler: finishes what CreateFunction, UpdateFunction* and PublishVersion started.

A write leaves its version `Pending` (create, publish) or `InProgress` (update), exactly as AWS
reports it. The settler then prepares the version: it makes the version's runtime available (a
Node.js runtime this host lacks is fetched now, so CreateFunction answers at once and the wait
shows as `Pending`, as AWS's own preparation does), then extracts its package and layers into
read-only trees that execution environments mount (compiling a Python runtime's sources for its
interpreter, so no cold start compiles them), and moves it to `Active` /
`Successful` with a new RevisionId (AWS issues one on completion too), or to `Failed` with a
reason. It runs after every such write and once at start-up, so a crash mid-way only delays it.

A version published from a settled `$LATEST` is born `Active` (spec 1.3): nothing is left to
prepare. Until an update of `$LATEST` succeeds, invocations run the `$LATEST` from before it
(spec 11.1); settling it hands them the new one.

`settle_delay` holds versions in their transitional state for at least that long (scaled by
`--time-scale`), so clients that skip boto3's waiters can be caught locally as they would be on AWS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Protocol

from gureum.lambda_.domain import snap_start
from gureum.lambda_.domain.arns import LATEST
from gureum.lambda_.domain.file_systems import mount_refused
from gureum.lambda_.domain.functions import Function, FunctionVersion, fail, finish_latest, settle
from gureum.lambda_.services.context import Ports
from gureum.lambda_.services.network import FileSystems
from gureum.lambda_.store.codestore import ArchiveTooLarge, UnreadableArchive

log = logging.getLogger("gureum.settler")

# AWS's LastUpdateStatusReasonCode / StateReasonCode for a package it cannot extract (spec 11.1),
# with the message of the matching InvalidZipFileException (spec 10.6).
UNZIP_FAILED_CODE = "InvalidZipFileException"
UNZIP_FAILED = "Lambda could not unzip the deployment package."
# The reason code of a version whose file system cannot be mounted as it settles (spec 7.1).
EFS_MOUNT_FAILURE_CODE = "EFSMountFailure"
RETRY_FIRST = 1.0
RETRY_CAP = 60.0
# Where an environment sees the code and the layers (the trees' .pyc files name these paths).
TASK_ROOT = "/var/task"
OPT_ROOT = "/opt"


class Python(Protocol):
    """The interpreter that imports a Python runtime's code."""

    @property
    def executable(self) -> str: ...

    @property
    def version(self) -> tuple[int, int]: ...


class RuntimeSupply(Protocol):
    """Makes a runtime available before its first environment starts (the sandbox's catalog)."""

    def ensure(self, runtime: str) -> str | None:
        """None once `runtime` can start; otherwise why it cannot, for StateReason."""
        ...

    def python(self, runtime: str) -> Python | None:
        """The interpreter of a Python runtime this host has; None for any other runtime."""
        ...


class Settler:
    """Moves unsettled versions to their final state; owned by the app's task group.

    Invariant: one version never holds up another. Whatever preparing a version raises fails that
    version (`Failed`, InvalidZipFileException); whatever recording it raises leaves that version
    unsettled for a later round; the loop itself outlives every error but its cancellation.
    """

    def __init__(
        self,
        ports: Ports,
        executor: Executor,
        settle_delay: float,
        runtimes: RuntimeSupply | None = None,
        file_systems: FileSystems | None = None,
    ) -> None:
        self._ports = ports
        self._runtimes = runtimes
        self._file_systems = file_systems
        self._executor = executor
        self._delay = settle_delay
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._incomplete = False  # the last round left a version it should have moved
        # Told, on the event loop, the (runtime, /tmp MB) of every version that became Active:
        # the sandbox stock gets one ready for its first invocation.
        self.on_settled: Callable[[str, int], None] = lambda runtime, tmp_mb: None
        self._settled: list[tuple[str, int]] = []
        # SnapStart (services/snapshots.py): asked from this thread whether a published
        # version's snapshot is taken (None), being taken ("pending") or failed (reason, code).
        self.snapshot: Callable[[Function, FunctionVersion], object] = lambda f, v: None

    def wake_from_any_thread(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Settles until cancelled; owned by the app's task group."""
        self._loop = asyncio.get_running_loop()
        self._wake.set()
        retry: float | None = None  # set while a round left something it should have moved
        while True:
            await self._woken(retry)
            self._wake.clear()
            if self._delay > 0:
                await asyncio.sleep(self._delay)
            try:
                await self._loop.run_in_executor(self._executor, self.settle_all)
            except Exception:
                log.exception("a settling round failed; it is tried again")
                self._incomplete = True
            settled, self._settled = self._settled, []
            for runtime, tmp_mb in dict.fromkeys(settled):
                self.on_settled(runtime, tmp_mb)
            # What is left is tried again without waiting for a change that may never come,
            # less and less often.
            retry = min(retry * 2, RETRY_CAP) if retry else RETRY_FIRST
            retry = retry if self._incomplete else None

    async def _woken(self, timeout: float | None) -> None:
        # asyncio.wait, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
        # arrives as the event is set, and shutdown would wait for this loop forever.
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            waiter.cancel()

    def settle_all(self) -> int:
        """Settles every unsettled version once; returns how many it moved."""
        self._incomplete = False
        with self._ports.store.transaction() as tx:
            pending = tx.unsettled()
        moved = 0
        for function, version in pending:
            try:
                moved += self._settle(function, version)
            except Exception:
                self._incomplete = True
                log.exception(
                    "could not record the outcome for %s (version %s) [trace %s]; it stays "
                    "unsettled and is tried again",
                    function.arn,
                    version.version,
                    self._ports.new_id(),
                )
        return moved

    def _settle(self, function: Function, version: FunctionVersion) -> int:
        failure = (
            self._provide(version.settings.runtime)
            or self._mountable(function, version)
            or self._prepare(function, version)
        )
        if failure is None and snap_start.applies(version.settings.snap_start, version.version):
            status = self.snapshot(function, version)
            if status is not None and not isinstance(status, tuple):
                return 0  # Init is running; the snapshot service wakes us when it is done
            if isinstance(status, tuple):
                failure = (str(status[0]), str(status[1]))
        new_revision = self._ports.new_id()
        with self._ports.store.transaction() as tx:
            current = tx.get_function(function.account, function.region, function.name)
            if current is None or current.id != function.id:
                return 0
            is_latest = version.version == LATEST
            stored = current.latest if is_latest else tx.get_version(current, version.version)
            if stored is None or stored.revision_id != version.revision_id:
                return 0  # changed meanwhile; the next round takes the newer state
            if failure is None:
                finished = settle(stored, new_revision)
                settings = finished.settings
                if settings.runtime is not None:
                    self._settled.append((settings.runtime, settings.ephemeral_storage))
            else:
                finished = fail(stored, *failure, new_revision)
            if is_latest:  # the function record says which `$LATEST` invocations run
                tx.put_function(finish_latest(current, finished))
            else:
                tx.put_version(current, finished)
        return 1

    def _provide(self, runtime: str | None) -> tuple[str, str] | None:
        """The runtime, fetched if this host lacks it; a failure is AWS's `InvalidRuntime`."""
        if self._runtimes is None or runtime is None:
            return None
        problem = self._runtimes.ensure(runtime)
        if problem is None:
            return None
        log.warning("runtime %s is not available: %s", runtime, problem)
        return problem, "InvalidRuntime"

    def _mountable(self, function: Function, version: FunctionVersion) -> tuple[str, str] | None:
        """The version's access points checked again as its network is set up: one deleted
        since the request was accepted fails the version with EFSMountFailure, as AWS reports a
        file system it cannot mount while preparing a function. The network (groups, routes,
        peering) is not a reason: AWS finds that out per environment, at Invoke
        (EFSMountConnectivityException)."""
        settings = version.settings
        if self._file_systems is None or not settings.file_system_configs:
            return None
        for config in settings.file_system_configs:
            arn = str(config["Arn"])
            if not self._file_systems.access_point_exists(function.account, function.region, arn):
                return mount_refused(arn).message, EFS_MOUNT_FAILURE_CODE
        return None

    def _prepare(self, function: Function, version: FunctionVersion) -> tuple[str, str] | None:
        """Unpacks the code, and the layers merged as /opt will show them; why, if it fails.

        Every error fails this version alone: the archives were verified when uploaded, so one
        that cannot be unpacked now was kept before that check, or was damaged on disk since.
        """
        code = version.code.blob
        layers = [layer.blob for layer in version.settings.layers]
        try:
            task = self._ports.code.tree(code)
            opt = self._ports.code.merged(layers) if layers else None
        except Exception as exc:
            expected = isinstance(exc, (UnreadableArchive, ArchiveTooLarge, OSError))
            log.error(
                "%s (version %s) failed: could not unpack its package %s or its layers: %s "
                "[trace %s]",
                function.arn,
                version.version,
                code,
                exc,
                self._ports.new_id(),
                exc_info=not expected,
            )
            return UNZIP_FAILED, UNZIP_FAILED_CODE
        self._compile(version, task, opt)
        return None

    def _compile(self, version: FunctionVersion, task: Path, opt: Path | None) -> None:
        """Compiles the trees for the version's interpreter; a failure costs only speed.

        The runtime then compiles in memory at each cold start, as it did before: never a
        reason to fail the version.
        """
        runtime = version.settings.runtime
        python = self._runtimes.python(runtime) if self._runtimes and runtime else None
        if python is None:
            return
        trees = [(task, TASK_ROOT)] + ([(opt, OPT_ROOT)] if opt is not None else [])
        for tree, mounted_at in trees:
            try:
                self._ports.code.compile(tree, python.executable, python.version, mounted_at)
            except Exception as exc:
                log.warning("could not compile %s for %s: %s", tree.name, runtime, exc)
