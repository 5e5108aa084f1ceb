"""Which runtimes this machine can run, and with which executables.

`python3.X` runs on a real Python 3.X interpreter (never a version-manager shim: pyenv's adds
about 170 ms to every start); `nodejs*` on a `node` of the runtime's major version (the host's,
or one fetched by `provisioning`); `provided.*` needs nothing but the function's own `bootstrap`.
Discovery runs each candidate once at start-up to learn its version, installation prefix and
module path, which the sandbox needs to make it visible inside an environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PYTHON_MINORS = range(9, 16)
_PROBE = (
    "import sys, json; print(json.dumps([list(sys.version_info[:2]), sys.base_prefix, sys.path]))"
)


@dataclass(frozen=True, slots=True)
class Interpreter:
    """One real interpreter binary and what an environment must see of it."""

    executable: str
    version: tuple[int, int]
    prefix: str
    path: tuple[str, ...]

    @property
    def runtime(self) -> str:
        return f"python{self.version[0]}.{self.version[1]}"


def _candidates() -> list[Path]:
    found: list[Path] = []
    directories = [Path(d) for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    directories += [Path("/usr/local/bin"), Path("/usr/bin")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        directories += sorted(p / "bin" for p in pyenv.iterdir())
    # `uv python install 3.X` (what `gureum runtimes add python3.X` recommends) keeps its builds
    # here, so a server whose PATH lacks uv's ~/.local/bin still finds them.
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    uv = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or data_home / "uv" / "python")
    if uv.is_dir():
        directories += sorted(p / "bin" for p in uv.iterdir())
    for directory in directories:
        if "shims" in directory.parts:
            continue
        for minor in PYTHON_MINORS:
            candidate = directory / f"python3.{minor}"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                found.append(candidate.resolve())
    return found


def _probe(executable: Path) -> Interpreter | None:
    try:
        reply = subprocess.run(
            [str(executable), "-I", "-S", "-c", _PROBE],
            capture_output=True,
            timeout=10,
            check=True,
            env={},
        )
        (major, minor), prefix, path = json.loads(reply.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return Interpreter(str(executable), (major, minor), prefix, tuple(p for p in path if p))


def discover_pythons() -> dict[str, Interpreter]:
    """The first working interpreter of each Python 3 minor version, by runtime name."""
    interpreters: dict[str, Interpreter] = {}
    seen: set[Path] = set()
    for candidate in _candidates():
        if candidate in seen:
            continue
        seen.add(candidate)
        interpreter = _probe(candidate)
        if interpreter is not None and interpreter.runtime not in interpreters:
            interpreters[interpreter.runtime] = interpreter
    return interpreters


def find_node() -> str | None:
    node = shutil.which("node")
    return str(Path(node).resolve()) if node else None


def node_major(executable: str) -> int | None:
    """The major version of a node executable (`v20.20.2` -> 20), or None if it does not run."""
    try:
        reply = subprocess.run(
            [executable, "--version"], capture_output=True, timeout=10, check=True, env={}
        )
        return int(reply.stdout.decode().strip().lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def host_nodes() -> dict[str, str]:
    """The host's `node`, under the one Lambda runtime of its major version (`nodejs20.x`)."""
    node = find_node()
    major = node_major(node) if node is not None else None
    return {f"nodejs{major}.x": node} if node is not None and major is not None else {}
