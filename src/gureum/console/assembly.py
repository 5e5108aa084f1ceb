"""The console, built from the kernel and the public services it reads and acts through.

It is no AWS service: it has no endpoint on the front door; the composition root routes
`/_gureum/console` to `web` before the front door, as it routes function URLs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gureum.aws.kernel import Kernel
from gureum.console.services.actions import Actions
from gureum.console.services.readings import Readings
from gureum.console.services.sessions import SessionBook
from gureum.console.services.sources import Sources
from gureum.console.web.router import ConsoleWeb

PREFIX = "/_gureum/console"


@dataclass(eq=False)
class Console:
    web: ConsoleWeb
    sessions: SessionBook

    def handles(self, path: str) -> bool:
        return path == PREFIX or path.startswith(PREFIX + "/")

    def stop(self) -> None:
        """Ends the open live streams (browsers reconnect to the next server). Safe from a
        signal handler: the event is set by the loop itself."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.web.stopping.set()
            return
        loop.call_soon_threadsafe(self.web.stopping.set)


def assemble(kernel: Kernel, sources: Sources) -> Console:
    sessions = SessionBook(sources.accounts, lambda: kernel.clock.now().timestamp())
    # The live figures are read every two (scaled) seconds per open stream, at most twice a
    # real second: CloudWatch's points are a minute wide, and each read takes a worker thread
    # (and the GIL) from the invoke path for a moment.
    interval = max(0.5, min(2.0, kernel.settings.scaled(2.0)))
    web = ConsoleWeb(sessions, Readings(sources), Actions(sources), kernel.executor, interval)
    return Console(web, sessions)
