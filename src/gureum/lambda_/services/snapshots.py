"""SnapStart's snapshots, between the settler, the invoker and the sandbox's templates.

PublishVersion leaves a SnapStart version `Pending` (domain.functions.publish). The settler,
having prepared its code, asks `status`: the first time, a template is made (Init runs once,
with its before-snapshot hooks) and the version stays `Pending`; once made, the version settles
`Active`; if Init failed, it settles `Failed` with the reason. The invoker asks `template` for
the template to restore from; after a restart (templates do not outlive the server) or an
eviction, that makes it again first, and the invocation waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from gureum.lambda_.domain import snap_start
from gureum.lambda_.domain.errors import SnapStartNotReady
from gureum.lambda_.domain.functions import Function, FunctionVersion
from gureum.lambda_.domain.lifecycle import State
from gureum.lambda_.sandbox.environment import LaunchPlan
from gureum.lambda_.sandbox.snapshots import Template, TemplateFailed, Templates

log = logging.getLogger("gureum.snapshots")

PENDING: Literal["pending"] = "pending"
NOT_READY = (
    "Lambda is initializing your function. It will be ready to invoke once your function "
    "state becomes ACTIVE."
)
Status = None | Literal["pending"] | tuple[str, str]  # ready | being made | (reason, code)
Planner = Callable[[Function, FunctionVersion], Awaitable[LaunchPlan]]


def slot_of(function: Function, version: FunctionVersion) -> str:
    return f"{function.id}:{version.version}"


class Snapshots:
    """Makes templates on the event loop; `status` may be asked from the settler's thread."""

    def __init__(self, templates: Templates, plan: Planner) -> None:
        self._templates = templates
        self._plan = plan
        self._making: dict[str, asyncio.Task[Template]] = {}
        self._failed: dict[str, tuple[str, str]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.settled: Callable[[], None] = lambda: None  # wakes the settler

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    # --- the settler's side (any thread) -----------------------------------------------------

    def status(self, function: Function, version: FunctionVersion) -> Status:
        """Whether `version`'s snapshot is taken (None), being taken, or failed."""
        slot = slot_of(function, version)
        failed = self._failed.pop(slot, None)
        if failed is not None:
            return failed
        loop = self._loop
        if loop is None:
            return PENDING
        if slot in self._making:
            return PENDING
        if self._templates.get(slot) is not None:
            return None
        loop.call_soon_threadsafe(self._begin, function, version, True)
        return PENDING

    # --- the event loop's side ---------------------------------------------------------------

    def _begin(self, function: Function, version: FunctionVersion, publishing: bool) -> None:
        slot = slot_of(function, version)
        if slot in self._making:
            return
        task = asyncio.get_running_loop().create_task(self._make(slot, function, version))
        self._making[slot] = task

        def done(finished: asyncio.Task[Template]) -> None:
            self._making.pop(slot, None)
            if finished.cancelled():
                return
            failure = finished.exception()
            if isinstance(failure, TemplateFailed) and publishing:
                self._failed[slot] = (failure.reason, failure.code)
            elif failure is not None and not isinstance(failure, TemplateFailed):
                log.error("the snapshot of %s could not be made", slot, exc_info=failure)
                if publishing:
                    self._failed[slot] = ("The snapshot could not be taken.", "FunctionError")
            if publishing:
                self.settled()

        task.add_done_callback(done)

    async def _make(self, slot: str, function: Function, version: FunctionVersion) -> Template:
        plan = await self._plan(function, version)
        return await self._templates.make(slot, plan)

    async def template(self, function: Function, version: FunctionVersion) -> Template:
        """The template to restore `version`'s environments from, made first if need be."""
        slot = slot_of(function, version)
        template = self._templates.get(slot)
        if template is not None:
            return template
        self._begin(function, version, False)
        try:
            return await asyncio.shield(self._making[slot])
        except TemplateFailed:
            raise SnapStartNotReady(NOT_READY, Type="User") from None

    async def remake(self, versions: list[tuple[Function, FunctionVersion]]) -> None:
        """Makes again, one at a time, the templates of Active SnapStart versions: after a
        restart, since a template lives in the server's processes. An invocation that comes
        first waits for its version's (`template`)."""
        for function, version in versions:
            if version.lifecycle.state is not State.ACTIVE:
                continue
            if not snap_start.applies(version.settings.snap_start, version.version):
                continue
            self._begin(function, version, False)
            task = self._making.get(slot_of(function, version))
            if task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(task)

    async def keep_only(self, alive: Callable[[str], bool]) -> None:
        """Drops the templates of versions that are gone (deleted functions and versions)."""
        for slot in self._templates.slots():
            if not alive(slot):
                await self._templates.drop(slot)

    def describe(self) -> dict[str, object]:
        return {
            "templates": len(self._templates.slots()),
            "memoryBytes": self._templates.memory_bytes,
            "budgetBytes": self._templates.budget_bytes,
        }

    async def close(self) -> None:
        for task in list(self._making.values()):
            task.cancel()
        await self._templates.close()
