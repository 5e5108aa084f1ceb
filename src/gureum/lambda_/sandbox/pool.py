"""The environment pool: which environment serves an invocation, and when environments go.

Per function version (a `key` that changes whenever the version's code or configuration does):
idle environments, most recently used first (the warmest); a new one when none is idle. A lease
is a context manager that always gives the environment back, or resets it when the invocation
was abandoned half-way (the client went away, the server is stopping). The reaper retires
environments idle longer than the keep-alive, and every environment of a key that is no longer
current. One environment that fails to retire is logged and left out, never the end of the
reaper: its uid is not handed out again, since its process may still be running.

An environment whose execution role session ends soon (`retire_at`, see
`lambda_.domain.credentials`) takes no more invocations: it is retired when next found idle,
and a new one starts with a new session. A provisioned one is recycled by the provisioner
instead (`renewal_due`: its replacement initialised first); only one whose session has expired
is dropped at once.

Provisioned environments (spec 6.3) live apart, per version slot: started and initialised ahead
of any invocation by the provisioner, never reaped for idleness, handed out only once their
slot is serving (its configuration READY), and retired when they crash or time out, after which
`on_lost` tells the provisioner to start a replacement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from gureum.lambda_.domain.errors import TooManyRequests
from gureum.lambda_.sandbox.environment import (
    EnvironmentState,
    ExecutionEnvironment,
    LaunchPlan,
    Platform,
)
from gureum.lambda_.sandbox.uids import UidLease, UidLeases

log = logging.getLogger("gureum.pool")

PROVISIONED_TYPE = "provisioned-concurrency"
# AWS's Init limit for provisioned environments: 130 seconds or the function's timeout,
# whichever is higher (spec 6.1).
PROVISIONED_INIT_LIMIT = 130.0


@dataclass(eq=False)
class _Provisioned:
    """One version slot's provisioned environments."""

    idle: list[ExecutionEnvironment] = field(default_factory=list)
    busy: set[ExecutionEnvironment] = field(default_factory=set)
    # Initialised for an allocation still in progress: not handed out before it completes.
    held: list[ExecutionEnvironment] = field(default_factory=list)
    serving: bool = False
    limit: int | None = None  # after a decrease: busy environments beyond it go when done
    born: dict[ExecutionEnvironment, float] = field(default_factory=dict)  # monotonic
    key: str = ""  # the version's key they serve; one with another is retired when free

    @property
    def count(self) -> int:
        return len(self.idle) + len(self.busy) + len(self.held)

    def take_free(self, environment: ExecutionEnvironment) -> bool:
        """Removes a free (idle or held) environment; False when it is busy."""
        for free in (self.idle, self.held):
            if environment in free:
                free.remove(environment)
                return True
        return False


class EnvironmentPool:
    """Idle and busy environments by version key; every environment has a uid of its own.

    Event loop only. An environment leased is given back, reset or retired on every path.
    """

    def __init__(
        self,
        platform: Platform,
        keep_alive: float,
        uids: UidLeases,
        make: Callable[[LaunchPlan, Platform, int], ExecutionEnvironment] = ExecutionEnvironment,
    ) -> None:
        self._platform = platform
        self._keep_alive = keep_alive
        self._make = make  # how an environment is made (tests give environments that fail)
        self._idle: dict[str, list[ExecutionEnvironment]] = {}
        self._busy: set[ExecutionEnvironment] = set()
        # Busy environments to retire when their invocation ends (their code changed).
        self._outdated: set[ExecutionEnvironment] = set()
        self._current: dict[str, str] = {}  # function version -> its current key
        # Each live environment has a uid no other environment on the host has (the kernel
        # tells them apart by it), leased host-wide and given back only once it is gone.
        self._uids = uids
        self._uid_leases: dict[ExecutionEnvironment, UidLease] = {}
        self._retiring: set[asyncio.Task[None]] = set()
        self._provisioned: dict[str, _Provisioned] = {}
        # Called with a slot whose provisioned environment was lost (crash, timeout).
        self.on_lost: Callable[[str], None] = lambda slot: None
        # Called with the plan of an environment that is gone, or was never made: what it held
        # outside the sandbox (its EFS connections) is given back.
        self.released: Callable[[LaunchPlan], None] = lambda plan: None

    @property
    def environment_count(self) -> int:
        provisioned = sum(group.count for group in self._provisioned.values())
        return len(self._busy) + sum(len(idle) for idle in self._idle.values()) + provisioned

    @property
    def running(self) -> int:
        """Invocations running now, on demand and provisioned (an agent's heartbeat)."""
        return len(self._busy) + sum(len(group.busy) for group in self._provisioned.values())

    def idle_by_key(self) -> dict[str, int]:
        """Idle environments by version key, provisioned ones of serving slots among them:
        where a front door sends a warm invoke (an agent's heartbeat)."""
        found = {key: len(idle) for key, idle in self._idle.items() if idle}
        for group in self._provisioned.values():
            if group.serving and group.idle:
                found[group.key] = found.get(group.key, 0) + len(group.idle)
        return found

    def provisioned_by_key(self) -> dict[str, int]:
        """Provisioned environments of serving slots by version key, busy or idle: where a
        front door sends the version's invocations first (an agent's heartbeat)."""
        found: dict[str, int] = {}
        for group in self._provisioned.values():
            if group.serving and (count := len(group.idle) + len(group.busy)):
                found[group.key] = found.get(group.key, 0) + count
        return found

    # --- provisioned environments -------------------------------------------------------------

    async def provision_one(
        self, slot: str, key: str, plan: LaunchPlan, hold: bool = False
    ) -> bool:
        """Starts one provisioned environment of `slot` and runs its Init now; False (and the
        environment retired) when Init failed, or no uid was free. `hold`: part of an
        allocation in progress, kept from invocations until `serve` (spec 6.3: none of them is
        accessible before Lambda finishes allocating them all)."""
        uid = self._uids.acquire()
        if uid is None:
            self.released(plan)
            return False
        plan = replace(plan, initialization_type=PROVISIONED_TYPE)
        try:
            environment = self._make(plan, self._platform, uid.uid)
        except BaseException:
            uid.release()
            self.released(plan)
            raise
        environment.key = key
        self._uid_leases[environment] = uid
        limit = max(PROVISIONED_INIT_LIMIT, float(plan.timeout_s))
        try:
            ready = await environment.initialize(limit)
        except BaseException:
            self._retire(environment)
            raise
        if not ready:
            self._retire(environment)
            return False
        group = self._provisioned.setdefault(slot, _Provisioned(key=key))
        (group.held if hold else group.idle).append(environment)
        group.born[environment] = time.monotonic()
        group.limit = None
        return True

    def oldest(self, slot: str) -> float | None:
        """When the oldest provisioned environment of `slot` was started (monotonic)."""
        group = self._provisioned.get(slot)
        return min(group.born.values(), default=None) if group is not None else None

    def recycle_oldest(self, slot: str) -> None:
        """Retires the oldest idle provisioned environment of `slot` (its replacement is up
        already), or, when every one is busy, the first whose invocation ends."""
        group = self._provisioned.get(slot)
        if group is None or not group.born:
            return
        oldest = min(group.born, key=group.born.__getitem__)
        if group.take_free(oldest):
            del group.born[oldest]
            self._retire(oldest)
        else:
            group.limit = group.count - 1

    def provisioned_count(self, slot: str) -> int:
        group = self._provisioned.get(slot)
        return group.count if group is not None else 0

    def rekey(self, slot: str, key: str) -> None:
        """The slot's version has a new key (its revision changed, as when it settled):
        environments started for the old one go, idle ones now, busy ones when done."""
        group = self._provisioned.get(slot)
        if group is None or group.key == key:
            return
        group.key = key
        for environment in [e for e in [*group.idle, *group.held] if e.key != key]:
            group.take_free(environment)
            group.born.pop(environment, None)
            self._retire(environment)

    def provisioned_usage(self, slot: str) -> tuple[int, int]:
        """(environments of `slot` running an invocation, environments of `slot` that serve)."""
        group = self._provisioned.get(slot)
        if group is None:
            return 0, 0
        return len(group.busy), group.count - len(group.held)

    def provisioned_slots(self) -> list[str]:
        return list(self._provisioned)

    def serve(self, slot: str, serving: bool) -> None:
        """Opens (or closes) a slot's provisioned environments to invocations; opening hands
        out the held ones too."""
        group = self._provisioned.get(slot)
        if group is not None:
            group.serving = serving
            if serving:
                group.idle.extend(group.held)
                group.held.clear()

    def serving(self, slot: str) -> bool:
        group = self._provisioned.get(slot)
        return group is not None and group.serving

    def deprovision(self, slot: str, keep: int = 0) -> None:
        """Retires a slot's provisioned environments beyond `keep`: idle ones now, busy ones
        when their invocation ends."""
        group = self._provisioned.get(slot)
        if group is None:
            return
        if keep == 0:
            del self._provisioned[slot]  # busy ones are retired when given back
        while group.count > keep and (group.held or group.idle):
            environment = (group.held or group.idle).pop(0)
            group.born.pop(environment, None)
            self._retire(environment)
        group.limit = keep

    @contextmanager
    def provisioned(self, slot: str, key: str) -> Iterator[ExecutionEnvironment | None]:
        """A free provisioned environment of `slot` for one invocation, or None (spill over to
        on-demand). Given back on every path; one that crashed or timed out is retired and
        reported lost, so that the provisioner replaces it."""
        group = self._provisioned.get(slot)
        environment = None
        if group is not None and group.serving:
            self._drop_expired(slot, group)
            for candidate in reversed(group.idle):
                if candidate.key == key:
                    environment = candidate
                    break
        if environment is None or group is None:
            yield None
            return
        group.idle.remove(environment)
        group.busy.add(environment)
        try:
            yield environment
        finally:
            group.busy.discard(environment)
            if environment.state is EnvironmentState.BUSY:
                environment.abandon()
            over = group.limit is not None and group.count >= group.limit
            if self._provisioned.get(slot) is not group or over:  # deprovisioned meanwhile
                group.born.pop(environment, None)
                self._retire(environment)
            elif environment.state is not EnvironmentState.READY or environment.key != group.key:
                group.born.pop(environment, None)
                self._retire(environment)
                self.on_lost(slot)
            else:
                group.idle.append(environment)

    @asynccontextmanager
    async def lease(
        self,
        slot: str,
        key: str,
        plan: LaunchPlan,
        before_new: Callable[[], Awaitable[LaunchPlan | None]] | None = None,
    ) -> AsyncIterator[ExecutionEnvironment]:
        """An environment for one invocation of `slot` (a function version) at `key`.

        `before_new` runs before a new environment is made (the scaling rate; it may refuse),
        and may answer the plan to make it with (its file system mounts, decided per start).
        """
        if self._current.get(slot) != key:
            self._current[slot] = key
            self._retire_stale(slot, key)
        idle = self._idle.setdefault(key, [])
        while idle and idle[-1].retire_at <= self._wall():
            self._retire(idle.pop())  # its role's session ends soon: a new one takes over
        if idle:
            environment = idle.pop()
        else:
            if before_new is not None:
                plan = await before_new() or plan
            uid = self._uids.acquire()
            if uid is None:
                self.released(plan)
                raise TooManyRequests("Rate Exceeded.", Reason="ConcurrentInvocationLimitExceeded")
            try:
                environment = self._make(plan, self._platform, uid.uid)
            except BaseException:
                uid.release()
                self.released(plan)
                raise
            environment.key = key
            self._uid_leases[environment] = uid
        self._busy.add(environment)
        try:
            yield environment
        finally:
            self._busy.discard(environment)
            if environment.state is EnvironmentState.BUSY:
                # Abandoned mid-invocation: its runtime is still working on it. Reset it.
                environment.abandon()
            outdated = environment in self._outdated
            self._outdated.discard(environment)
            if (
                environment.state is EnvironmentState.DEAD
                or self._current.get(slot) != key
                or outdated
            ):
                self._retire(environment)
            else:
                self._idle.setdefault(key, []).append(environment)

    def _wall(self) -> float:
        return self._platform.now().timestamp()

    def renewal_due(self, slot: str) -> bool:
        """Whether a provisioned environment of `slot` holds a role session that ends soon: the
        provisioner then recycles it (a replacement initialised first, as every few hours)."""
        group = self._provisioned.get(slot)
        if group is None:
            return False
        now = self._wall()
        return any(e.retire_at <= now for e in group.born)

    def _drop_expired(self, slot: str, group: _Provisioned) -> None:
        """The last resort when no replacement came in time: an idle provisioned environment
        whose session has expired is retired (and replaced, `on_lost`), never handed out."""
        now = self._wall()
        for environment in [e for e in group.idle if e.expires_at <= now]:
            group.idle.remove(environment)
            group.born.pop(environment, None)
            self._retire(environment)
            self.on_lost(slot)

    def retire_code(self, directory: Path) -> int:
        """Retires the environments whose code or /opt is `directory` (hot reload): idle ones
        now, busy ones when their invocation ends. How many were found."""

        def uses(environment: ExecutionEnvironment) -> bool:
            plan = environment.plan
            return directory in (plan.code_dir, plan.opt_dir)

        found = 0
        for key, idle in self._idle.items():
            keep = [e for e in idle if not uses(e)]
            for environment in idle:
                if uses(environment):
                    self._retire(environment)
                    found += 1
            self._idle[key] = keep
        for environment in self._busy:
            if uses(environment):
                self._outdated.add(environment)
                found += 1
        return found

    def _retire_stale(self, slot: str, key: str) -> None:
        for stale_key in [k for k in self._idle if k.startswith(slot + "#") and k != key]:
            for environment in self._idle.pop(stale_key):
                self._retire(environment)

    def _retire(self, environment: ExecutionEnvironment) -> None:
        task = asyncio.get_running_loop().create_task(self._retired(environment))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _retired(self, environment: ExecutionEnvironment) -> None:
        try:
            await environment.retire()
        except Exception:
            self.released(environment.plan)
            # Its process may outlive this: the uid stays leased, out of use on the whole host,
            # rather than be shared.
            log.exception(
                "could not retire environment %s of %s (version %s, uid %d); its uid is not reused",
                environment.id,
                environment.plan.function_name,
                environment.plan.version,
                environment.uid,
            )
            return
        uid = self._uid_leases.pop(environment, None)  # None: retired twice (at close)
        if uid is not None:
            uid.release()
            self.released(environment.plan)

    async def reap(self) -> None:
        """Retires idle environments past the keep-alive, until cancelled."""
        while True:
            await asyncio.sleep(min(self._keep_alive / 4, 30))
            try:
                self.reap_once(time.monotonic())
            except Exception:
                log.exception("a reaper round failed; trying again at the next one")

    def reap_once(self, now: float) -> int:
        retired = 0
        wall = self._wall()
        for slot, group in list(self._provisioned.items()):
            self._drop_expired(slot, group)
        for idle in self._idle.values():
            for environment in list(idle):
                try:
                    fresh = environment.retire_at > wall
                    if fresh and now - environment.last_used <= self._keep_alive:
                        continue
                    idle.remove(environment)
                    self._retire(environment)
                except Exception:  # one environment's fault; the others are still reaped
                    name = environment.plan.function_name
                    log.exception("could not reap environment %s of %s", environment.id, name)
                    continue
                retired += 1
        busy_keys = {e.key for e in self._busy}
        for key in [k for k, idle in self._idle.items() if not idle and k not in busy_keys]:
            del self._idle[key]  # versions no longer invoked leave nothing behind
        return retired

    async def close(self) -> None:
        """Retires every environment; nothing of them is left running afterwards."""
        for idle in self._idle.values():
            for environment in idle:
                self._retire(environment)
        self._idle.clear()
        for environment in list(self._busy):
            self._retire(environment)
        for group in self._provisioned.values():
            for environment in [*group.idle, *group.busy, *group.held]:
                self._retire(environment)
        self._provisioned.clear()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._retiring, return_exceptions=True)
