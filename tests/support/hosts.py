"""A fresh machine, as far as gureum can tell, and the `gureum` command run on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def fresh_host(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a machine whose only Python is /usr/bin/python3.11 and has no node."""
    return {
        "PATH": str(tmp / "empty-path"),
        "PYENV_ROOT": str(tmp / "no-pyenv"),
        "UV_PYTHON_INSTALL_DIR": str(tmp / "no-uv"),
        **extra,
    }


def gureum(
    *args: str, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`python -m gureum ARGS` with `env` over this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "gureum", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=timeout,
        check=False,
    )
