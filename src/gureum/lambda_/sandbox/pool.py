"""The environment pool: which environment serves an invocation, and when environments go.

Per function version (a `key` that changes whenever the version's code or configuration does):
idle environments, most recently used first (the warmest); a new one when none is idle. A lease
is a context manager that always gives the environment back, or resets it when the invocation
was abandoned half-way (the client went away, the server is stopping). The reaper retires
environments idle longer than the keep-alive, and every environment of a key that is no longer
current. One environment that fails to retire is logged and left out, never the end of the
reaper: its uid is not handed out again, since its process may still be running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from gureum.lambda_.domain.errors import TooManyRequests
from gureum.lambda_.sandbox.environment import (
    EnvironmentState,
    ExecutionEnvironment,
    LaunchPlan,
    Platform,
)
from gureum.lambda_.sandbox.uids import UidLease, UidLeases

log = logging.getLogger("gureum.pool")


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
        self._current: dict[str, str] = {}  # function version -> its current key
        # Each live environment has a uid no other environment on the host has (the kernel
        # tells them apart by it), leased host-wide and given back only once it is gone.
        self._uids = uids
        self._uid_leases: dict[ExecutionEnvironment, UidLease] = {}
        self._retiring: set[asyncio.Task[None]] = set()

    @property
    def environment_count(self) -> int:
        return len(self._busy) + sum(len(idle) for idle in self._idle.values())

    @asynccontextmanager
    async def lease(
        self,
        slot: str,
        key: str,
        plan: LaunchPlan,
        before_new: Callable[[], None] = lambda: None,
    ) -> AsyncIterator[ExecutionEnvironment]:
        """An environment for one invocation of `slot` (a function version) at `key`.

        `before_new` runs before a new environment is made (the scaling rate; it may refuse).
        """
        if self._current.get(slot) != key:
            self._current[slot] = key
            self._retire_stale(slot, key)
        idle = self._idle.setdefault(key, [])
        if idle:
            environment = idle.pop()
        else:
            before_new()
            uid = self._uids.acquire()
            if uid is None:
                raise TooManyRequests("Rate Exceeded.", Reason="ConcurrentInvocationLimitExceeded")
            try:
                environment = self._make(plan, self._platform, uid.uid)
            except BaseException:
                uid.release()
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
            if environment.state is EnvironmentState.DEAD or self._current.get(slot) != key:
                self._retire(environment)
            else:
                self._idle.setdefault(key, []).append(environment)

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
        for idle in self._idle.values():
            for environment in list(idle):
                try:
                    if now - environment.last_used <= self._keep_alive:
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
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._retiring, return_exceptions=True)
