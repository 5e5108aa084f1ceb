"""`/var/runtime`: what every environment gets besides its code and layers.

As on AWS, Python functions can `import boto3` without bundling it: the SDK gureum itself runs
with is copied here once per SDK version and bound read-only into each environment. Node.js
environments find gureum's Node.js runtime client here, and Python ones the built-in runtime as a
program (`bootstrap.py`), for the wrapper scripts that AWS_LAMBDA_EXEC_WRAPPER names.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import tempfile
from pathlib import Path

from gureum.lambda_.sandbox.zygotes import guest_file

SDK_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")


def _source(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    origin = Path(spec.origin)
    return origin.parent if origin.name == "__init__.py" else origin


def prepare_runtime_dir(parent: Path) -> Path:
    """The runtime directory for this gureum and SDK version, built on first use."""
    versions = []
    for name in ("boto3", "botocore"):
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
        for package in SDK_PACKAGES:
            source = _source(package)
            if source is None:
                continue
            if source.is_dir():
                shutil.copytree(source, staging / source.name, ignore=_no_bytecode)
            else:
                shutil.copy2(source, staging / source.name)
        for path in [staging, *staging.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        staging.rename(target)
    for source, name in ((node_runtime, "node_runtime.js"), (python_runtime, "bootstrap.py")):
        shutil.copy2(source, target / name)
        (target / name).chmod(0o644)
    return target


def _no_bytecode(directory: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__"]
