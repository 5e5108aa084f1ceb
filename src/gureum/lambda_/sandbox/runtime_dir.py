"""`/var/runtime`: what every environment gets besides its code and layers.

As on AWS, Python functions can `import boto3` without bundling it: the SDK gureum itself runs
with is copied here once per SDK version and bound read-only into each environment. Node.js
environments find gureum's Node.js runtime client here, and Python ones the built-in runtime as a
program (`bootstrap.py`), for the wrapper scripts that AWS_LAMBDA_EXEC_WRAPPER names.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from gureum.lambda_.sandbox.zygotes import guest_file

SDK_PACKAGES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "six",
    "urllib3",
    # AWS's SnapStart runtime hooks (`from snapshot_restore_py import register_after_restore`),
    # which AWS's Python runtimes include too; the built-in runtime runs the hooks registered.
    "snapshot_restore_py",
)
# Debug mode's debugger for Python functions (sandbox.debugging), bound in beside the SDK.
DEBUGGER_PACKAGES = ("debugpy",)


def _source(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    origin = Path(spec.origin)
    return origin.parent if origin.name == "__init__.py" else origin


def prepare_runtime_dir(parent: Path) -> Path:
    """The runtime directory for this gureum and SDK version, built on first use."""
    versions = []
    for name in ("boto3", "botocore", "snapshot-restore-py", "debugpy"):
        try:
            versions.append(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            versions.append("none")
    target = parent / f"runtime-{'-'.join(versions)}"
    node_runtime = Path(guest_file("node_runtime.js"))
    python_runtime = Path(guest_file("runtime.py"))
    if not target.exists():
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=".runtime-"))
        staging.chmod(0o755)
        for package in SDK_PACKAGES + DEBUGGER_PACKAGES:
            source = _source(package)
            if source is None:
                continue
            if source.is_dir():
                _share_tree(str(source), str(staging / source.name))
            else:
                _share(str(source), str(staging / source.name))
        staging.rename(target)
    for source, name in ((node_runtime, "node_runtime.js"), (python_runtime, "bootstrap.py")):
        shutil.copy2(source, target / name)
        (target / name).chmod(0o644)
    return target


def _share(source: str, target: str) -> None:
    """A hard link to the installed file when everyone may read it (no copy: a server's start
    made 33 MB of copies, and tests start many), else a copy made readable to everyone (the
    sandboxes' users). A link's mode is the installed file's own, never changed here."""
    if os.stat(source).st_mode & 0o044 == 0o044:
        with contextlib.suppress(OSError):  # another file system, say: copy
            os.link(source, target)
            return
    shutil.copy2(source, target)
    os.chmod(target, 0o644)


def _share_tree(source: str, target: str) -> None:
    """`source`'s tree at `target`, but bytecode caches: directories made readable to everyone,
    files shared (`_share`). scandir and link directly: shutil.copytree took 70 us a file, and
    the SDK is 2,500 files, paid by every start of a server with a new data directory."""
    os.mkdir(target)
    os.chmod(target, 0o755)  # whatever the umask
    with os.scandir(source) as entries:
        for entry in entries:
            if entry.name == "__pycache__":
                continue
            destination = os.path.join(target, entry.name)
            if entry.is_dir():  # a linked directory is copied as one, as copytree does
                _share_tree(entry.path, destination)
            else:
                _share(entry.path, destination)
