"""Deployment packages built in memory for tests."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

HANDLER = "def handler(event, context):\n    return event\n"


def zip_of(files: Mapping[str, str | bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (files or {"index.py": HANDLER}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def zip_with_symlink(name: str, target: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", HANDLER)
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = 0o120777 << 16
        archive.writestr(info, target)
    return buffer.getvalue()
