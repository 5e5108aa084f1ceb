"""Hot reload (domain.hot_reload): code that is a directory, and the watcher that reloads it.

`package` turns `S3Bucket` = the hot-reload bucket and `S3Key` = a directory into the code of a
function or a layer: checked (absolute, there, outside gureum's data directory, no link out of
it), digested for CodeSha256, never copied. `run` (a loop the Lambda assembly owns) watches
every such directory; when a file under one changes, environments running from it are retired
(idle ones now, busy ones once their invocation ends: warm invocations in between still work),
and each function whose `$LATEST` is that directory gets the new CodeSha256 and a new
RevisionId, so the next invocation starts on the new code.

Hot reload needs gureum's sandboxes (mount namespaces): there the directory is a read-only bind
mount at /var/task (or /opt), and links in it resolve inside the sandbox. As plain processes a
function could write to it, so gureum refuses it then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import Executor
from dataclasses import replace
from pathlib import Path

from gureum.lambda_.domain import hot_reload
from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.functions import Code
from gureum.lambda_.sandbox.pool import EnvironmentPool
from gureum.lambda_.services.context import Ports
from gureum.lambda_.store import directories

log = logging.getLogger("gureum.hot_reload")


class HotReload:
    """Hot-reload packages, and the watcher over their directories (event loop only, but
    `package`, which worker threads call)."""

    def __init__(
        self,
        ports: Ports,
        pool: EnvironmentPool,
        executor: Executor,
        bucket: str,
        data_dir: Path,
        sandboxed: bool,
    ) -> None:
        self._ports = ports
        self._pool = pool
        self._executor = executor
        self.bucket = bucket
        self._data_dir = data_dir
        self._sandboxed = sandboxed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._restart: asyncio.Event | None = None
        # Each directory's digest when it was last looked at (committed, or watched): a change
        # made while the watch restarts (to take in a new directory) is found by comparing.
        self._digests: dict[Path, str] = {}

    def package(self, bucket: str | None, key: str | None) -> Code | None:
        """The code of a hot-reload `S3Bucket` / `S3Key`; None for any other bucket."""
        if bucket is None or bucket != self.bucket:
            return None
        path = hot_reload.check_key(key)
        if not self._sandboxed:
            raise InvalidParameterValue(
                "Hot reload needs gureum's sandboxes (isolation namespaces), which mount the "
                "directory read-only; this server runs functions as plain processes, which "
                "could write to it."
            )
        real = directories.resolve(path, self._data_dir)
        sha_b64, _, size = directories.digest(real)
        return Code(sha_b64, size, hot_reload.blob_of(str(real)), size)

    def committed(self, code: Code) -> None:
        """A function or layer version holding `code` was committed: when it is a directory,
        the watcher starts over with the store's set of directories, this one now among them.
        (Any thread.)"""
        if not hot_reload.is_hot(code.blob):
            return
        self._digests.setdefault(Path(hot_reload.directory_of(code.blob)), code.sha256)
        loop, restart = self._loop, self._restart
        if loop is not None and restart is not None:
            loop.call_soon_threadsafe(restart.set)

    async def run(self) -> None:
        """Watches every hot-reload directory, until cancelled."""
        self._loop = asyncio.get_running_loop()
        while True:
            self._restart = restart = asyncio.Event()
            blobs = await self._loop.run_in_executor(self._executor, self._blobs)
            roots = [Path(hot_reload.directory_of(b)) for b in blobs]
            roots = [root for root in roots if root.is_dir()]
            # What changed while nothing watched (the server was down, the watch restarting):
            # a function whose code changed gets its new CodeSha256 and RevisionId, which
            # retires its environments at the next invocation; a directory known to have
            # changed since it was last looked at (a layer's, whose versions never change)
            # has its environments retired as a watched change would.
            for root in roots:
                if await self._loop.run_in_executor(self._executor, self._changed, root):
                    await self._reload(root)
                else:
                    await self._loop.run_in_executor(self._executor, self._update, root)
            try:
                async for changed in directories.changes(roots, restart):
                    for root in changed:
                        await self._reload(root)
            except Exception:  # a watch that failed (a directory gone under it): start over
                log.exception("hot reload: watching failed; watching again")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(restart.wait(), 1.0)

    def _changed(self, root: Path) -> bool:
        """Whether `root`'s content differs from its last look (and it is now looked at)."""
        digest = directories.digest(root)[0]
        before = self._digests.get(root)
        self._digests[root] = digest
        return before is not None and before != digest

    def _blobs(self) -> list[str]:
        with self._ports.store.transaction() as tx:
            return tx.hot_blobs()

    async def _reload(self, root: Path) -> None:
        self._digests.pop(root, None)  # looked at again when the watch next starts
        retired = self._pool.retire_code(root)
        assert self._loop is not None
        updated = await self._loop.run_in_executor(self._executor, self._update, root)
        log.info(
            "hot reload: %s changed; %d environment(s) retired, %d function(s) updated",
            root,
            retired,
            updated,
        )

    def _update(self, root: Path) -> int:
        """New CodeSha256 and RevisionId for each function whose `$LATEST` is `root`."""
        sha_b64, _, size = directories.digest(root)
        blob = hot_reload.blob_of(str(root))
        now, new_id = self._ports.clock.now(), self._ports.new_id
        updated = 0
        with self._ports.store.transaction() as tx:
            for account, region, name in tx.functions_with_code(blob):
                function = tx.get_function(account, region, name)
                if function is None or function.latest.code.sha256 == sha_b64:
                    continue
                was = function.latest
                code = replace(was.code, sha256=sha_b64, size=size, unzipped_size=size)
                latest = replace(was, code=code, revision_id=new_id(), last_modified=now)
                tx.put_function(replace(function, latest=latest))
                updated += 1
        return updated
