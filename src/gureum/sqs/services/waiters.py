"""Wake-ups for long polls: a receive waiting on a queue is woken when a message may be there.

Senders run in worker threads (SendMessage handlers, Lambda's dead-letter delivery) while waiting
receives are tasks on an event loop, so a wake-up crosses threads with `call_soon_threadsafe`.
Each waiter records its own loop, so nothing here needs to know the app's loop in advance.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from gureum.sqs.domain.queues import QueueKey


@dataclass(eq=False, slots=True)
class Waiter:
    loop: asyncio.AbstractEventLoop
    event: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, timeout: float) -> None:
        """Returns when woken or after `timeout` seconds, whichever is first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.event.wait()


class Waiters:
    """Waiting receives per queue; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_queue: dict[QueueKey, set[Waiter]] = {}

    @contextlib.contextmanager
    def registered(self, key: QueueKey) -> Iterator[Waiter]:
        """A waiter on `key` for the running loop, registered until the block ends.

        Register before looking at the queue: a send that commits between the look and the wait
        then still sets the event, and the wait returns at once.
        """
        waiter = Waiter(asyncio.get_running_loop())
        with self._lock:
            self._by_queue.setdefault(key, set()).add(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                waiting = self._by_queue.get(key)
                if waiting is not None:
                    waiting.discard(waiter)
                    if not waiting:
                        del self._by_queue[key]

    def wake(self, key: QueueKey) -> None:
        """Called from any thread after a commit that may have made a message visible."""
        with self._lock:
            waiting = list(self._by_queue.get(key, ()))
        for waiter in waiting:
            with contextlib.suppress(RuntimeError):  # its loop has closed: nobody is waiting
                waiter.loop.call_soon_threadsafe(waiter.event.set)
