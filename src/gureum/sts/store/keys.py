"""The key that seals STS's session tokens: 32 random bytes in `<shared>/sts.key` (the data
directory unless `--shared-dir` is set), created once (readable by the server's user only) so
that sessions outlive a restart, and every process of a cluster opens the others' tokens."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_SIZE = 32


def sealing_key(path: Path) -> bytes:
    """The key in `path`, made on first use. Created with O_EXCL, so two servers starting on
    one directory (or a cluster's processes starting together) agree on one key."""
    path.parent.mkdir(parents=True, exist_ok=True)  # a shared directory not yet made
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != _SIZE:
            raise RuntimeError(f"{path} is not a session key ({len(key)} bytes)") from None
        return key
    key = secrets.token_bytes(_SIZE)
    with os.fdopen(fd, "wb") as file:
        file.write(key)
        file.flush()
        os.fsync(file.fileno())
    return key
