"""Each execution environment's `/tmp`, sized by `EphemeralStorage`, ready before it is asked for.

With isolation, `/tmp` is disk, as on AWS: a file system of exactly the configured size of its
own (`scratch_disks.py`), mounted on the host side and bound into the environment, so it
outlives a reset of the runtime (AWS keeps `/tmp` across a crash or timeout, spec 6.1) and
disappears with the environment. Its pages are ordinary page cache, which the kernel writes back
and reclaims under the function's memory limit: a 128 MB function can write 200 MB to `/tmp`,
and a write past `EphemeralStorage` fails with ENOSPC.

Disks are pooled: a few ready ones per size in demand (512 MB, AWS's default, from the start),
refilled by `refill`, a loop the app owns and cancels. A new environment takes a ready disk; only
when a burst empties the pool does one pay for making its own (a few ms, off the event loop).
A disk is never reused: the next environment must not see the last one's files.

Without isolation (not root), or on a machine that cannot make disks (no mke2fs, no loop
devices), `/tmp` is a plain directory handed to the function as `TMPDIR`, with no size limit,
and gureum says so at start-up and in its health endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from gureum.lambda_.sandbox.scratch_disks import (
    destroy_disk,
    make_disk,
    unavailable_reason,
    unmount,
)

log = logging.getLogger("gureum.scratch")

DEFAULT_SIZE_MB = 512
READY_PER_SIZE = 4
SIZES_KEPT = 4  # pools are kept for the sizes most recently asked for


class ScratchBacking(StrEnum):
    DISK = "disk"  # an ext4 file system of EphemeralStorage's size on a loop device
    DIRECTORY = "directory"  # a directory of the data directory's file system, unlimited


@dataclass(frozen=True, slots=True)
class ScratchSpace:
    """One environment's /tmp: `path` is what the environment sees there."""

    path: Path
    size_mb: int
    image: Path | None = None


class ScratchSpaces:
    """Hands out scratch spaces under one root and takes them back.

    Event loop only. Invariants: a space is handed out once and removed by whoever took it;
    every space under the root that is not handed out is in the ready pool or being made; the
    ready pool holds at most READY_PER_SIZE disks of each of SIZES_KEPT sizes.
    """

    def __init__(self, root: Path, disks: bool) -> None:
        self._root = root
        self._backing = ScratchBacking.DISK if disks else ScratchBacking.DIRECTORY
        self._reason = (
            "" if disks else "functions are not isolated, so nothing can be mounted for them"
        )
        self._ready: dict[int, list[ScratchSpace]] = {}
        self._demand: OrderedDict[int, None] = OrderedDict()
        self._wanted = asyncio.Event()
        root.mkdir(parents=True, exist_ok=True)

    @property
    def root(self) -> Path:
        return self._root

    def describe(self) -> dict[str, object]:
        return {"backing": self._backing.value, "sizeLimited": self.sized, "reason": self._reason}

    @property
    def sized(self) -> bool:
        return self._backing is ScratchBacking.DISK

    def start(self) -> None:
        """Removes what a previous run left, and checks that disks can be made here."""
        self.sweep()
        if self._backing is ScratchBacking.DIRECTORY:
            return
        reason = unavailable_reason()
        if reason is None:
            try:  # the first disk, made now, proves the machine can and seeds the pool
                self._ready[DEFAULT_SIZE_MB] = [self._make(DEFAULT_SIZE_MB)]
            except OSError as exc:
                reason = f"a scratch disk could not be made: {exc}"
        if reason is not None:
            self._backing, self._reason = ScratchBacking.DIRECTORY, reason
            return
        self._reason = "an ext4 file system of EphemeralStorage's size per environment"
        self._want(DEFAULT_SIZE_MB)

    # --- handing out and taking back ---------------------------------------------------------

    async def take(self, size_mb: int) -> ScratchSpace:
        """A fresh /tmp of `size_mb`: a ready one when the pool has one."""
        if self._backing is ScratchBacking.DIRECTORY:
            return self._make(size_mb)
        self._want(size_mb)
        ready = self._ready.get(size_mb)
        if ready:
            return ready.pop()
        log.debug("no ready %d MB scratch disk: making one on the cold-start path", size_mb)
        return await self._make_off_loop(size_mb)

    async def remove(self, space: ScratchSpace) -> None:
        await asyncio.to_thread(self._destroy, space)

    # --- the pool ----------------------------------------------------------------------------

    def _want(self, size_mb: int) -> None:
        self._demand[size_mb] = None
        self._demand.move_to_end(size_mb)
        while len(self._demand) > SIZES_KEPT:
            stale, _ = self._demand.popitem(last=False)
            for space in self._ready.pop(stale, []):
                self._destroy(space)
        self._wanted.set()

    async def refill(self) -> None:
        """Keeps READY_PER_SIZE disks ready for each size in demand, until cancelled."""
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            for size_mb in list(reversed(self._demand)):  # the most recently asked for first
                try:
                    await self._top_up(size_mb)
                except OSError as exc:  # the next demand tries again; takers make their own
                    log.warning("could not make a %d MB scratch disk: %s", size_mb, exc)
                    break

    async def _top_up(self, size_mb: int) -> None:
        while size_mb in self._demand and len(self._ready.get(size_mb, [])) < READY_PER_SIZE:
            space = await self._make_off_loop(size_mb)
            if size_mb in self._demand:
                self._ready.setdefault(size_mb, []).append(space)
            else:
                self._destroy(space)

    async def _make_off_loop(self, size_mb: int) -> ScratchSpace:
        """Makes a disk in a worker thread; a disk made after the caller is cancelled is removed."""
        made = asyncio.ensure_future(asyncio.to_thread(self._make, size_mb))
        try:
            return await asyncio.shield(made)
        except asyncio.CancelledError:
            await asyncio.wait({made})
            if not made.cancelled() and made.exception() is None:
                self._destroy(made.result())
            raise

    # --- making and removing -----------------------------------------------------------------

    def _make(self, size_mb: int) -> ScratchSpace:
        name = uuid.uuid4().hex
        path = self._root / name
        if self._backing is ScratchBacking.DIRECTORY:
            path.mkdir(mode=0o1777)
            path.chmod(0o1777)
            return ScratchSpace(path, size_mb)
        image = self._root / f"{name}.img"
        make_disk(image, path, size_mb)
        return ScratchSpace(path, size_mb, image)

    def _destroy(self, space: ScratchSpace) -> None:
        if space.image is not None:
            destroy_disk(space.image, space.path)
        else:
            shutil.rmtree(space.path, ignore_errors=True)

    def sweep(self) -> None:
        """Removes every scratch space under the root: a previous run's, or at shutdown."""
        self._ready.clear()
        for path in self._root.iterdir():
            with contextlib.suppress(OSError):
                if path.is_dir():
                    unmount(path)
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink()
