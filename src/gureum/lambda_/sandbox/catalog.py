"""The runtimes this server can run, and how to start each.

Built once at start-up from what the machine has (see `interpreters`). A runtime that is not in
the catalog cannot be created: CreateFunction names the ones that can.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gureum.lambda_.domain.runtimes import DEPRECATED
from gureum.lambda_.sandbox.interpreters import Interpreter

NODE_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x")
PROVIDED_RUNTIMES = ("provided.al2023", "provided.al2")
BOOTSTRAPS = ("/var/task/bootstrap", "/opt/bootstrap")


@dataclass(frozen=True, slots=True)
class RuntimeLauncher:
    """How environments of one runtime start: from which zygote, running what."""

    runtime: str
    zygote: str
    # None: the built-in Python runtime, already loaded in the zygote.
    program: tuple[str, ...] | None
    reveal: tuple[str, ...]
    python: Interpreter | None = None

    @property
    def execution_env(self) -> str | None:
        """`AWS_EXECUTION_ENV`; OS-only runtimes have none (spec 3.2)."""
        return None if self.runtime.startswith("provided") else f"AWS_Lambda_{self.runtime}"


class RuntimeCatalog:
    """Runtime name -> how to launch it, for the runtimes this machine can run."""

    def __init__(self, pythons: Mapping[str, Interpreter], node: str | None) -> None:
        self._launchers: dict[str, RuntimeLauncher] = {}
        for runtime, interpreter in sorted(pythons.items(), key=lambda item: item[1].version):
            if runtime in DEPRECATED:
                continue
            self._launchers[runtime] = RuntimeLauncher(
                runtime, interpreter.executable, None, (interpreter.prefix,), interpreter
            )
        # OS-only and Node.js environments are forked from any zygote, then exec their program.
        host = next(iter(pythons.values()), None)
        if host is None:
            return
        for runtime in PROVIDED_RUNTIMES:
            self._launchers[runtime] = RuntimeLauncher(runtime, host.executable, (), ())
        if node is not None:
            program = (node, "/var/runtime/node_runtime.js")
            for runtime in NODE_RUNTIMES:
                self._launchers[runtime] = RuntimeLauncher(runtime, host.executable, program, ())

    def launcher(self, runtime: str) -> RuntimeLauncher | None:
        return self._launchers.get(runtime)

    def creatable(self) -> list[str]:
        return list(self._launchers)

    def zygote_executables(self) -> set[str]:
        return {launcher.zygote for launcher in self._launchers.values()}
