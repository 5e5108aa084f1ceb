"""Compiling a code tree's Python sources for the interpreter that will import them.

Each interpreter compiles in a long-lived process of its own (`Compilers`), started on first use
and fed one tree at a time, since starting an interpreter for each tree (15 to 30 ms here) would
cost more than compiling a package does. The server's own Python too: the sources are the
user's, and a pathological one that exhausts or crashes the compiler takes only that process
down (the next tree starts another). It reads its requests from a pipe and ends when the pipe
closes, with the server whatever way that ends; `Compilers.close` ends it sooner.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import threading
from pathlib import Path

# Compiling is bounded (a few ms a file) so a package that vendors a large tree still settles in
# well under a second: the files nearest the root (the handler, the package's own modules) are
# compiled first, and what is past the bound is compiled by the runtime at import, as before.
BYTECODE_FILES = 200
# Larger sources are left to the runtime too (generated tables, minified vendored code).
BYTECODE_FILE_BYTES = 1 << 20
BYTECODE_TIMEOUT = 30.0
_DONE = b"done\n"
# Run by the target interpreter (3.9 and later, with -I -S): one request a line, JSON
# [root, mounted_at, [relative paths]], answered "done" once every path was tried. A file that does
# not compile is skipped: the runtime reports its error when it imports it.
_COMPILER = """
import json, py_compile, sys
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
for line in sys.stdin.buffer:
    root, mounted, names = json.loads(line)
    for name in names:
        try:
            py_compile.compile(
                root + "/" + name, dfile=mounted + "/" + name, doraise=True, invalidation_mode=mode
            )
        except Exception:
            pass
    sys.stdout.buffer.write(b"done\\n")
    sys.stdout.buffer.flush()
"""


class CompilerFailed(OSError):
    """An interpreter's compiler process ended, or did not answer in time (it is stopped)."""


class Compilers:
    """One compiler process per interpreter executable, started when first needed.

    Thread-safe: a process serves one tree at a time. A process that fails is stopped and
    forgotten, so the next tree starts a new one.
    """

    def __init__(self) -> None:
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def compile(self, python: str, tree: Path, names: list[str], mounted_at: str) -> None:
        request = (json.dumps([str(tree), mounted_at, names]) + "\n").encode()
        with self._lock:
            process = self._processes.get(python) or self._start(python)
            assert process.stdin is not None
            assert process.stdout is not None
            try:
                process.stdin.write(request)
                process.stdin.flush()
                ready, _, _ = select.select([process.stdout], [], [], BYTECODE_TIMEOUT)
                answer = process.stdout.readline() if ready else b""
            except OSError as exc:
                answer = repr(exc).encode()
            if answer != _DONE:
                self._stop(python)
                raise CompilerFailed(f"the compiler of {python} failed: {answer[:200]!r}")

    def _start(self, python: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [python, "-I", "-S", "-c", _COMPILER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={},
        )
        self._processes[python] = process
        return process

    def _stop(self, python: str) -> None:
        process = self._processes.pop(python, None)
        if process is None:
            return
        process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()

    def close(self) -> None:
        with self._lock:
            for python in list(self._processes):
                self._stop(python)


def sources(tree: Path, bound: int) -> list[str]:
    """Up to `bound` .py files of `tree`, relative, shallowest first; no symbolic links.

    A link is skipped (file or directory): its target may lie outside the tree, and the tree is
    all that is compiled. So is a file over `BYTECODE_FILE_BYTES`.
    """
    found: list[str] = []
    level = [tree]
    while level and len(found) < bound:
        deeper: list[Path] = []
        for directory in level:
            try:
                entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
            except OSError:
                continue
            for entry in entries:
                if entry.is_symlink():
                    continue
                if entry.is_dir() and entry.name != "__pycache__":
                    deeper.append(Path(entry.path))
                elif len(found) < bound and _compilable(entry):
                    found.append(Path(entry.path).relative_to(tree).as_posix())
        level = deeper
    return found


def _compilable(entry: os.DirEntry[str]) -> bool:
    try:
        return (
            entry.name.endswith(".py")
            and entry.is_file()
            and entry.stat().st_size <= BYTECODE_FILE_BYTES
        )
    except OSError:
        return False
