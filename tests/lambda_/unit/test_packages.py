"""Deployment packages: what a zip must be before it is accepted (spec 7.4 and the code quotas)."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

import pytest

from gureum.aws.errors import RequestEntityTooLarge
from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.packages import (
    BAD_ZIP,
    UNZIPPED_LIMIT,
    ZIPPED_LIMIT,
    check_entry_path,
    check_link_target,
    inspect_zip,
    is_symlink,
)
from tests.support.packages import HANDLER, zip_of, zip_with_symlink


def test_bad_zip_message_is_awss() -> None:
    assert BAD_ZIP == (
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    )


def test_limits_are_awss() -> None:
    assert ZIPPED_LIMIT == 52_428_800
    assert UNZIPPED_LIMIT == 262_144_000


def test_good_zip() -> None:
    files: dict[str, str | bytes] = {
        "index.py": HANDLER,
        "lib/util.py": "X = 1\n",
        "data/blob.bin": bytes(range(256)) * 4,
    }
    data = zip_of(files)
    summary = inspect_zip(data)

    raw = hashlib.sha256(data).digest()
    assert summary.sha256_b64 == base64.b64encode(raw).decode()
    assert summary.sha256_hex == hashlib.sha256(data).hexdigest()
    assert summary.size == len(data)
    assert summary.unzipped_size == len(HANDLER) + len("X = 1\n") + 1024


def test_empty_zip_archive_is_accepted() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w"):
        pass
    summary = inspect_zip(buffer.getvalue())
    assert summary.unzipped_size == 0
    assert summary.size == 22  # just the end-of-central-directory record


def test_symlink_inside_the_package_is_accepted() -> None:
    summary = inspect_zip(zip_with_symlink("lib/current", "../index.py"))
    assert summary.unzipped_size == len(HANDLER) + len("../index.py")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not a zip at all", id="text"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 26, id="truncated-local-header"),
        pytest.param(zip_of()[:-10], id="truncated-archive"),
    ],
)
def test_not_a_zip(data: bytes) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        inspect_zip(data)
    assert caught.value.message == BAD_ZIP
    assert caught.value.code == "InvalidParameterValueException"


def test_zipped_size_over_the_limit() -> None:
    with pytest.raises(RequestEntityTooLarge) as caught:
        inspect_zip(bytes(ZIPPED_LIMIT + 1))
    assert caught.value.message == "Zipped size must be smaller than 52428800 bytes"
    assert caught.value.code == "RequestEntityTooLargeException"
    assert caught.value.status == 413


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """Two 130 MiB entries of zeros: each fits the limit, together they do not. ~2.6 MB zipped."""
    buffer = io.BytesIO()
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name in ("a.bin", "b.bin"):
            with archive.open(name, "w", force_zip64=True) as entry:
                for _ in range(130):
                    entry.write(chunk)
    return buffer.getvalue()


def test_unzipped_size_over_the_limit(zip_bomb: bytes) -> None:
    assert len(zip_bomb) < ZIPPED_LIMIT
    with pytest.raises(InvalidParameterValue) as caught:
        inspect_zip(zip_bomb)
    assert caught.value.message == "Unzipped size must be smaller than 262144000 bytes"


# --- entry paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "index.py",
        "lib/",
        "lib/util.py",
        "a/b/c/d.txt",
        "./index.py",
        "..hidden",
        "dir..name/file",
        "file..",
    ],
)
def test_entry_path_ok(name: str) -> None:
    check_entry_path(name)


def test_any_dot_dot_segment_is_refused() -> None:
    # gureum refuses every `..` segment, even one that would resolve inside the package.
    with pytest.raises(InvalidParameterValue):
        check_entry_path("lib/../index.py")


@pytest.mark.parametrize(
    "name",
    [
        "../evil.py",
        "../../etc/passwd",
        "lib/../../evil",
        "..",
        "a/..",
        "..\\evil.py",
        "a\\..\\..\\b",
    ],
)
def test_entry_path_escaping(name: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_entry_path(name)
    assert caught.value.message == f"{BAD_ZIP} The entry {name!r} points outside the package."


@pytest.mark.parametrize(
    "name",
    [
        "/etc/passwd",
        "/index.py",
        "\\windows\\system32",
        "C:\\Windows\\evil.dll",
        "c:/evil.py",
        "D:evil.py",
        "\\\\server\\share\\evil.py",
    ],
)
def test_entry_path_absolute(name: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_entry_path(name)
    assert caught.value.message == f"{BAD_ZIP} The entry {name!r} has an absolute path."


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.py", "points outside the package"),
        ("/abs.py", "has an absolute path"),
    ],
)
def test_inspect_zip_refuses_bad_entry(name: str, reason: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        inspect_zip(zip_of({"index.py": HANDLER, name: "x"}))
    assert caught.value.message == f"{BAD_ZIP} The entry {name!r} {reason}."


# --- symbolic links ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("link", "index.py"),
        ("link", "lib/util.py"),
        ("lib/link", "../index.py"),
        ("a/b/link", "../../index.py"),
        ("a/b/link", "./c"),
        ("link", "."),
        ("lib/link", ".."),
    ],
)
def test_link_staying_inside(name: str, target: str) -> None:
    check_link_target(name, target)


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("link", ".."),
        ("link", "../outside"),
        ("lib/link", "../../etc/passwd"),
        ("a/b/link", "../../../x"),
        ("link", "/etc/passwd"),
        ("lib/link", "/opt/python"),
        ("link", "a/../../x"),
    ],
)
def test_link_escaping(name: str, target: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_link_target(name, target)
    assert caught.value.message == (
        f"{BAD_ZIP} The symbolic link {name!r} points outside the package."
    )


def test_inspect_zip_refuses_escaping_symlink() -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        inspect_zip(zip_with_symlink("lib/passwd", "../../etc/passwd"))
    assert caught.value.message == (
        f"{BAD_ZIP} The symbolic link 'lib/passwd' points outside the package."
    )


@pytest.mark.parametrize(
    ("create_system", "mode", "expected"),
    [
        (3, 0o120777, True),
        (3, 0o100644, False),
        (3, 0o040755, False),
        (0, 0o120777, False),  # DOS attributes: the high bits mean nothing
    ],
)
def test_is_symlink(create_system: int, mode: int, expected: bool) -> None:
    info = zipfile.ZipInfo("entry")
    info.create_system = create_system
    info.external_attr = mode << 16
    assert is_symlink(info) is expected


def test_an_unreadable_symlink_target_is_a_bad_zip() -> None:
    data = bytearray(zip_with_symlink("lib/current", "../index.py"))
    at = data.index(b"../index.py")
    data[at] ^= 0x01  # the stored target no longer matches its CRC
    with pytest.raises(InvalidParameterValue) as caught:
        inspect_zip(bytes(data))
    assert caught.value.message == BAD_ZIP
