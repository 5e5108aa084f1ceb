"""Damaged deployment packages: a sound central directory over data that cannot be read whole."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable

from tests.support.packages import HANDLER

LOCAL = b"PK\x03\x04"
CENTRAL = b"PK\x01\x02"


def stored_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def crc_flipped() -> bytes:
    """One stored byte of the handler flipped: every header is intact, the CRC is not."""
    data = bytearray(stored_zip({"index.py": HANDLER.encode()}))
    start = data.index(b"def handler")
    data[start] ^= 0x01
    return bytes(data)


def _set_sizes(data: bytearray, name: bytes, size: int, compressed: int | None) -> None:
    """Rewrites the uncompressed (and optionally compressed) size of `name` in both headers."""
    local = data.index(LOCAL)
    assert data[local + 30 : local + 30 + len(name)] == name
    central = data.index(CENTRAL)
    assert data[central + 46 : central + 46 + len(name)] == name
    struct.pack_into("<I", data, local + 22, size)
    struct.pack_into("<I", data, central + 24, size)
    if compressed is not None:
        struct.pack_into("<I", data, local + 18, compressed)
        struct.pack_into("<I", data, central + 20, compressed)


def size_under_declared() -> bytes:
    """4 MiB of data declared, in the local and the central header alike, as 100 bytes."""
    body = HANDLER.encode() + b"#" * (4 << 20)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", body)
    data = bytearray(buffer.getvalue())
    _set_sizes(data, b"index.py", 100, None)
    return bytes(data)


def stored_size_under_declared() -> bytes:
    """A stored member whose both sizes claim fewer bytes than it has."""
    data = bytearray(stored_zip({"index.py": HANDLER.encode() + b"#" * 1000}))
    _set_sizes(data, b"index.py", 40, 40)
    return bytes(data)


def size_over_declared() -> bytes:
    """A stored member claiming more bytes than it has (its CRC, of what it has, is right)."""
    data = bytearray(stored_zip({"index.py": HANDLER.encode()}))
    _set_sizes(data, b"index.py", len(HANDLER) + 1000, None)
    return bytes(data)


def garbled_deflate() -> bytes:
    """A deflated member whose compressed bytes are noise: zlib itself refuses them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", HANDLER * 50)
    data = bytearray(buffer.getvalue())
    start = data.index(LOCAL) + 30 + len(b"index.py")
    data[start : start + 8] = b"\xff" * 8
    return bytes(data)


BAD_ARCHIVES: dict[str, Callable[[], bytes]] = {
    "crc-flipped": crc_flipped,
    "size-under-declared": size_under_declared,
    "stored-size-under-declared": stored_size_under_declared,
    "garbled-deflate": garbled_deflate,
    "size-over-declared": size_over_declared,
}
