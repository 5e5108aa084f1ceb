#!/usr/bin/env python3
"""gureum's one entry point for people and CI, needing nothing but python3 (3.11+).

    python3 dev.py serve [gureum serve options]   run the server
    python3 dev.py check [pytest options]         lint (ruff), types (mypy strict), import
                                                  contracts (import-linter), tests

Both create `.venv` on first use (and refresh it when pyproject.toml or constraints.txt change),
installing gureum in editable mode with its pinned dependencies.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".gureum-installed"


def _requirements_digest() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    # dev.py itself runs on whatever `python3` the machine has, before any venv exists.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit("gureum needs Python 3.11 or newer")
    wanted = _requirements_digest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("dev.py: creating .venv", flush=True)
        # The real interpreter, never a pyenv shim (shims add ~170 ms to every start).
        venv.EnvBuilder(with_pip=True, symlinks=True).create(VENV)
    print("dev.py: installing gureum and its pinned dependencies into .venv", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-c", "constraints.txt", "-e", ".[test]"], cwd=ROOT, check=True)
    STAMP.write_text(wanted)


def compile_sources() -> None:
    """gureum's modules compiled to bytecode ahead: every server start (and the test suite
    starts hundreds) then loads them rather than compiling 340 files, 0.3 s a start, also where
    PYTHONDONTWRITEBYTECODE keeps Python from caching them as it goes. Up to date: no work."""
    command = [str(BIN / "python"), "-m", "compileall", "-q", "-j", "0", str(ROOT / "src")]
    subprocess.run(command, cwd=ROOT, check=False, stdout=subprocess.DEVNULL)


def run(command: list[str]) -> int:
    print("$", " ".join(command), flush=True)
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def check(pytest_args: list[str]) -> int:
    sources = [p for p in ("src", "tests", "benchmarks", "dev.py") if (ROOT / p).exists()]
    # A temporary directory of this run's own: pytest's shared /tmp/pytest-of-<user> holds other
    # runs' leftovers (a killed server's files among them), which its clean-up may trip over.
    basetemp = tempfile.mkdtemp(prefix="gureum-tests-")
    steps = [
        [str(BIN / "ruff"), "check", *sources],
        [str(BIN / "ruff"), "format", "--check", *sources],
        [str(BIN / "mypy")],
        [str(BIN / "lint-imports")],  # the rules between packages (pyproject.toml, ARCHITECTURE.md)
        # Two test processes (pytest-xdist) by default: most tests wait on servers and sandboxes,
        # so two share two cores well (about 10 minutes instead of 15 for the whole suite).
        [
            str(BIN / "python"),
            "-m",
            "pytest",
            f"--basetemp={basetemp}",
            *(
                ["-n", "2"]
                if not any(a.startswith(("-n", "--numprocesses")) for a in pytest_args)
                else []
            ),
            *pytest_args,
        ],
    ]
    try:
        for step in steps:
            code = run(step)
            if code != 0:
                return code
        return 0
    finally:
        shutil.rmtree(basetemp, ignore_errors=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("serve", "check"):
        print(__doc__)
        return 2
    ensure_venv()
    compile_sources()
    if argv[0] == "serve":
        gureum = str(BIN / "gureum")
        os.execv(gureum, [gureum, "serve", *argv[1:]])
    return check(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
