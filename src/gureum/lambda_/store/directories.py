"""Hot-reload directories on the server's disk: checked, digested, and watched (watchfiles).

A directory is refused when it is missing, not a directory, inside gureum's data directory
(where gureum writes), or holds a symbolic link that leads outside it: a function must see
nothing but the directory. (In the sandbox the directory is a read-only bind mount, so a
function cannot write into it either.)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import watchfiles

from gureum.lambda_.domain.errors import InvalidParameterValue

# Changes closer together than this are one change (an editor's save is several writes).
DEBOUNCE_MS = 30
STEP_MS = 10
# Never a reason to reload: bytecode caches and editors' scratch files.
_IGNORED = ("__pycache__", ".git", ".swp", ".swx", "~", ".tmp")


def resolve(key: str, data_dir: Path) -> Path:
    """The real directory `key` names, checked (InvalidParameterValue otherwise)."""
    path = Path(key)
    if not path.is_dir():
        raise InvalidParameterValue(f"The hot-reload directory {key} does not exist.")
    real = path.resolve()
    data = data_dir.resolve()
    if real == data or real.is_relative_to(data) or data.is_relative_to(real):
        raise InvalidParameterValue(
            f"The hot-reload directory {key} overlaps gureum's data directory, which gureum "
            "writes to: choose a directory of your own."
        )
    check_links(real)
    return real


def check_links(root: Path) -> None:
    """Refuses a tree with a symbolic link that leads outside it."""
    for folder, directories, files in os.walk(root):
        for name in directories + files:
            entry = Path(folder) / name
            if entry.is_symlink() and not entry.resolve().is_relative_to(root):
                raise InvalidParameterValue(
                    f"The hot-reload directory {root} holds a link that leads outside it: {entry}."
                )


def digest(root: Path) -> tuple[str, str, int]:
    """(base64 SHA-256, hex SHA-256, size in bytes) of the tree's names and contents, in order:
    CodeSha256 and CodeSize of code that is a directory."""
    sha = hashlib.sha256()
    size = 0
    for folder, directories, files in os.walk(root):
        directories[:] = sorted(d for d in directories if not _ignored(d))
        for name in sorted(files):
            if _ignored(name):
                continue
            entry = Path(folder) / name
            sha.update(str(entry.relative_to(root)).encode() + b"\0")
            try:
                data = entry.read_bytes()
            except OSError:
                continue  # gone or unreadable between the walk and the read
            sha.update(hashlib.sha256(data).digest())
            size += len(data)
    raw = sha.digest()
    return base64.b64encode(raw).decode(), raw.hex(), size


def _ignored(name: str) -> bool:
    return name.startswith(".#") or any(name == p or name.endswith(p) for p in _IGNORED)


async def changes(directories: Iterable[Path], stop: asyncio.Event) -> AsyncIterator[set[Path]]:
    """The watched directories under which something changed, as it happens, until `stop`."""
    roots = sorted(set(directories))
    if not roots:
        await stop.wait()
        return
    async for found in watchfiles.awatch(
        *roots,
        stop_event=stop,
        debounce=DEBOUNCE_MS,
        step=STEP_MS,
        watch_filter=lambda change, path: not any(_ignored(p) for p in Path(path).parts),
        recursive=True,
        ignore_permission_denied=True,
    ):
        touched = {Path(path) for _, path in found}
        yield {root for root in roots if any(p.is_relative_to(root) for p in touched)}
