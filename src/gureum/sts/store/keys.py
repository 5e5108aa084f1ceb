"""The key that seals STS's session tokens: 32 random bytes in `<data>/sts.key`, created once
(readable by the server's user only) so that sessions outlive a restart."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_SIZE = 32


def sealing_key(path: Path) -> bytes:
    """The key in `path`, made on first use. Created with O_EXCL, so two servers starting on
    one data directory agree on one key."""
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
