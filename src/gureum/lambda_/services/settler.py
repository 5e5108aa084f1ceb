"""The settler: finishes what CreateFunction, UpdateFunction* and PublishVersion started.

A write leaves its version `Pending` (create, publish) or `InProgress` (update), exactly as AWS
reports it. The settler then prepares the version, which today means extracting its package and
layers into read-only trees that execution environments mount, and moves it to `Active` /
`Successful` with a new RevisionId (AWS issues one on completion too), or to `Failed` with a
reason. It runs after every such write and once at start-up, so a crash mid-way only delays it.

`settle_delay` holds versions in their transitional state for at least that long (scaled by
`--time-scale`), so clients that skip boto3's waiters can be caught locally as they would be on AWS.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor

from gureum.lambda_.domain.functions import fail, settle
from gureum.lambda_.services.context import Ports

log = logging.getLogger("gureum.settler")


class Settler:
    def __init__(self, ports: Ports, executor: Executor, settle_delay: float) -> None:
        self._ports = ports
        self._executor = executor
        self._delay = settle_delay
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake_from_any_thread(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Settles until cancelled; owned by the app's task group."""
        self._loop = asyncio.get_running_loop()
        self._wake.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._delay > 0:
                await asyncio.sleep(self._delay)
            await self._loop.run_in_executor(self._executor, self.settle_all)

    def settle_all(self) -> int:
        """Settles every unsettled version once; returns how many it moved."""
        with self._ports.store.transaction() as tx:
            pending = tx.unsettled()
        moved = 0
        for function, version in pending:
            layers = [layer.blob for layer in version.settings.layers]
            problem = self._prepare(version.code.blob, layers)
            new_revision = self._ports.new_id()
            with self._ports.store.transaction() as tx:
                current = tx.get_function(function.account, function.region, function.name)
                if current is None or current.id != function.id:
                    continue
                stored = tx.get_version(current, version.version)
                if stored is None or stored.revision_id != version.revision_id:
                    continue  # changed meanwhile; the next round takes the newer state
                if problem is None:
                    finished = settle(stored, new_revision)
                else:
                    finished = fail(stored, problem, "InvalidZipFileException", new_revision)
                tx.put_version(current, finished)
            moved += 1
        return moved

    def _prepare(self, code: str, layers: list[str]) -> str | None:
        """Unpacks the code, and the layers merged as /opt will show them."""
        try:
            self._ports.code.tree(code)
            if layers:
                self._ports.code.merged(layers)
        except (OSError, ValueError) as exc:
            log.warning("could not unpack the package of %s: %s", code, exc)
            return "Lambda could not unzip the deployment package."
        return None
