"""Deployment packages: what a zip must be before gureum accepts it (spec 7.4, quotas).

Checked first from the central directory alone, before anything is written: size limits as AWS
states them, and entries that would escape the directory they are extracted into (`../`, absolute
paths, symlinks pointing outside). A sound directory says nothing of the data, though (a flipped
byte, sizes that lie, a corrupt stream), so the code store then unpacks the whole archive before
keeping it (`gureum.lambda_.store.codestore`): every CRC checked, every byte counted, every path
checked again. A request is answered only after both.
"""

from __future__ import annotations

import base64
import hashlib
import io
import lzma
import posixpath
import stat
import zipfile
import zlib
from dataclasses import dataclass

from gureum.aws.errors import RequestEntityTooLarge
from gureum.lambda_.domain.errors import InvalidParameterValue

ZIPPED_LIMIT = 52_428_800
UNZIPPED_LIMIT = 262_144_000
BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
TOO_LARGE_UNZIPPED = f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes"

# What reading a member of a damaged archive raises, depending on the damage and the compression:
# a bad CRC or local header (BadZipFile), a corrupt stream (zlib.error, LZMAError, OSError from
# bz2), data that ends early (EOFError), an unknown method (NotImplementedError), encryption
# (RuntimeError), a bad name or count (ValueError).
READ_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    OSError,
)


@dataclass(frozen=True, slots=True)
class PackageSummary:
    sha256_b64: str
    sha256_hex: str
    size: int
    unzipped_size: int


def digest(data: bytes) -> tuple[str, str]:
    raw = hashlib.sha256(data).digest()
    return base64.b64encode(raw).decode("ascii"), raw.hex()


def inspect_zip(data: bytes) -> PackageSummary:
    """Validates a deployment package and measures it. Raises AWS's errors."""
    if len(data) > ZIPPED_LIMIT:
        raise RequestEntityTooLarge(f"Zipped size must be smaller than {ZIPPED_LIMIT} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except READ_ERRORS:
        raise InvalidParameterValue(BAD_ZIP) from None
    unzipped = 0
    for entry in entries:
        check_entry_path(entry.filename)
        if is_symlink(entry):
            try:
                target = archive.read(entry).decode("utf-8", "replace")
            except READ_ERRORS:
                raise InvalidParameterValue(BAD_ZIP) from None
            check_link_target(entry.filename, target)
        unzipped += entry.file_size
    # What the headers declare; the code store counts what the data really holds.
    if unzipped > UNZIPPED_LIMIT:
        raise InvalidParameterValue(TOO_LARGE_UNZIPPED)
    sha_b64, sha_hex = digest(data)
    return PackageSummary(sha_b64, sha_hex, len(data), unzipped)


def is_symlink(entry: zipfile.ZipInfo) -> bool:
    return entry.create_system == 3 and stat.S_ISLNK(entry.external_attr >> 16)


def check_entry_path(name: str) -> None:
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise InvalidParameterValue(f"{BAD_ZIP} The entry {name!r} has an absolute path.")
    if ".." in normalized.split("/"):
        raise InvalidParameterValue(f"{BAD_ZIP} The entry {name!r} points outside the package.")


def check_link_target(name: str, target: str) -> None:
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        raise InvalidParameterValue(
            f"{BAD_ZIP} The symbolic link {name!r} points outside the package."
        )
