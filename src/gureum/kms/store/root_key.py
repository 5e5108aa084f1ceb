"""The root key: the one secret that every KMS key's material is wrapped under.

It never lives in the key database, so a copy of the database (`keys.sqlite3`, or the PostgreSQL
database of `--store`) alone reveals no key and no secret. Two sources, in this order:

1. `GUREUM_ROOT_KEY`: an operator-supplied root key, the base64 of 32 bytes (e.g. from a secret
   manager; `head -c 32 /dev/urandom | base64`). When set, no file is read or written.
2. The root key file (`root.key` in the shared directory, `--shared-dir`, which is the data
   directory unless set): created on first use with mode 0600 and 32 random bytes (written as
   base64, so it can be moved into `GUREUM_ROOT_KEY`). A file that other users may read is
   refused, as ssh refuses such a private key, rather than used. The file appears whole or not at
   all (written aside, then linked into place), so processes of a cluster starting together on
   one shared directory all read the one key the first of them made.

Losing the root key loses every key, and with them every ciphertext: back it up apart from the
database. Starting with a different root key than the one the database was made with fails at
start-up (`RootKeyError`), never later on a client's Decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

ROOT_KEY_ENV = "GUREUM_ROOT_KEY"
ROOT_KEY_BYTES = 32


class RootKeyError(RuntimeError):
    """The root key is missing, malformed, exposed, or not the one the database was made with."""


def load_root_key(path: Path, environ: Mapping[str, str]) -> bytes:
    supplied = environ.get(ROOT_KEY_ENV)
    if supplied:
        return _decode(supplied.strip(), f"${ROOT_KEY_ENV}")
    if not os.path.lexists(path):
        try:
            return _create(path)
        except FileExistsError:
            pass  # another process made it meanwhile: its key is the one
    return _read(path)


def _decode(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RootKeyError(f"{source} is not valid base64") from None
    if len(key) != ROOT_KEY_BYTES:
        raise RootKeyError(f"{source} must hold {ROOT_KEY_BYTES} bytes, not {len(key)}")
    return key


def _create(path: Path) -> bytes:
    """A new key file, whole and synced before anything is wrapped under it. It is written aside
    and linked into place, so no process ever reads it half written; of two processes making it
    at once, the second's link raises `FileExistsError` and it reads the first's key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(ROOT_KEY_BYTES)
    aside = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    _write(aside, key)
    try:
        os.link(aside, path)
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links (FAT, some network mounts): made in place instead,
        # where a process starting at the same moment could find it still empty.
        _write(path, key)
    finally:
        aside.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return key


def _write(path: Path, key: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask was
        os.write(descriptor, base64.b64encode(key) + b"\n")
        os.fsync(descriptor)
    except BaseException:
        os.close(descriptor)
        path.unlink(missing_ok=True)
        raise
    os.close(descriptor)


def _read(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise RootKeyError(
            f"{path} is accessible to other users (mode {mode:04o}); run `chmod 600 {path}`"
        )
    return _decode(path.read_text().strip(), str(path))
