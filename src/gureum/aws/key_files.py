"""Random keys kept in files: made on first use, whole or not at all, the same for every process.

STS's sealing key, the code links' key and a cluster's hop key are each 32 random bytes in a
file (the shared directory's, in a cluster). Processes starting together on one directory must
agree on one key, and none may read a file half written: the key is written aside, synced, and
hard-linked into place; of two processes making it at once, the second's link fails and it
reads the first's. The file is readable by its owner only (mkstemp's 0600).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

KEY_BYTES = 32


class KeyFileError(RuntimeError):
    """The file holds something that is not a key of the expected size."""


def key_file(path: Path, size: int = KEY_BYTES) -> bytes:
    """The key in `path`, made first when there is none."""
    with contextlib.suppress(FileNotFoundError):
        return _read(path, size)
    path.parent.mkdir(parents=True, exist_ok=True)  # a shared directory not made yet
    descriptor, aside = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(size))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process's came first: use it
            os.link(aside, path)
    finally:
        os.unlink(aside)
    return _read(path, size)


def _read(path: Path, size: int) -> bytes:
    key = path.read_bytes()
    if len(key) != size:
        raise KeyFileError(f"{path} is not a key of {size} bytes (it has {len(key)})")
    return key
