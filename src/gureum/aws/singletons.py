"""Background work that exactly one process of a cluster may run at a time.

Most background work runs in every process: delivering queued events (claims keep two from
taking one), reaping this host's idle environments, flushing this process's buffers. Some must
run once per cluster: the settler moving new versions to Active, the provisioner keeping
provisioned environments, the auto scaler, event source pollers. Each of those is `lead`: in
the embedded deployment it simply runs; with `--store postgresql://...` it runs while this
process holds the singleton's lease (`gureum.aws.postgres.PostgresSingletons`), and another
process takes it over within seconds when the holder dies.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol


class Singletons(Protocol):
    async def lead(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Runs `work()` while this process holds `name`'s lease, until cancelled: waits for
        the lease, starts `work`, cancels it if the lease is lost, and starts it again when
        the lease is taken again. Where leases are shared, a `work` that raises is logged and
        started again once the lease is taken anew (by this process or another)."""
        ...

    def held(self) -> list[str]:
        """The singletons this process leads now (for the health page)."""
        ...


class LocalSingletons:
    """One process, so every singleton is this one's."""

    def __init__(self) -> None:
        self._running: set[str] = set()

    async def lead(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._running.add(name)
        try:
            await work()
        finally:
            self._running.discard(name)

    def held(self) -> list[str]:
        return sorted(self._running)
