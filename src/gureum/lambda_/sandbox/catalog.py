"""The runtimes this server can run, how to start each, and how to add the missing ones.

Built at start-up from what the machine has (see `interpreters`) and what was fetched into the
data directory (see `provisioning`). Each Node.js runtime runs on a node of its own major
version: the host's `node` serves only the runtime of its major, fetched builds serve the rest.
A runtime that is neither available nor fetchable cannot be created: CreateFunction names the
ones that can, and says how to add the one asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from gureum.lambda_.domain.runtimes import DEPRECATED
from gureum.lambda_.sandbox.interpreters import Interpreter
from gureum.lambda_.sandbox.provisioning import PYTHON_HELP, ProvisioningError, RuntimeShelf

NODE_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x")
PROVIDED_RUNTIMES = ("provided.al2023", "provided.al2")
# The Python runtimes Lambda offers for new functions.
PYTHON_RUNTIMES = tuple(f"python3.{minor}" for minor in range(9, 15))
BOOTSTRAPS = ("/var/task/bootstrap", "/opt/bootstrap")
NODE_PROGRAM = "/var/runtime/node_runtime.js"


@dataclass(frozen=True, slots=True)
class RuntimeLauncher:
    """How environments of one runtime start: from which zygote, running what."""

    runtime: str
    zygote: str
    # None: the built-in Python runtime, already loaded in the zygote.
    program: tuple[str, ...] | None
    reveal: tuple[str, ...]
    python: Interpreter | None = None
    # The language's tree (a fetched Node.js, a Python's prefix), mounted at /var/lang as AWS's
    # runtimes are (a program names it so).
    lang: str | None = None

    @property
    def execution_env(self) -> str | None:
        """`AWS_EXECUTION_ENV`; OS-only runtimes have none (spec 3.2)."""
        return None if self.runtime.startswith("provided") else f"AWS_Lambda_{self.runtime}"


def node_runtime(major: int) -> str:
    return f"nodejs{major}.x"


class RuntimeCatalog:
    """Runtime name -> how to launch it, for the runtimes this machine can run or fetch.

    `available()` can start now; `creatable()` adds those `ensure` can fetch first (the
    settler does, while the function is Pending). Launchers are only ever added, never
    replaced, so a reader on another thread sees a runtime either absent or complete.
    """

    def __init__(
        self,
        pythons: Mapping[str, Interpreter],
        nodes: Mapping[str, str],  # the host's node executables, by runtime (of their major)
        shelf: RuntimeShelf | None = None,
    ) -> None:
        self._launchers: dict[str, RuntimeLauncher] = {}
        self._shelf = shelf
        self._adding = threading.Lock()
        for runtime, interpreter in sorted(pythons.items(), key=lambda item: item[1].version):
            if runtime in DEPRECATED:
                continue
            # Its prefix is mounted at /var/lang, where AWS keeps the runtime's Python, and the
            # zygote says so in the paths it loaded (zygote.relocate).
            self._launchers[runtime] = RuntimeLauncher(
                runtime, interpreter.executable, None, (), interpreter, lang=interpreter.prefix
            )
        # OS-only and Node.js environments are forked from any zygote, then exec their program.
        host = next(iter(pythons.values()), None)
        self._host = host.executable if host is not None else None
        if self._host is None:
            return
        for runtime in PROVIDED_RUNTIMES:
            self._launchers[runtime] = RuntimeLauncher(runtime, self._host, (), ())
        # Fetched builds first: they are the pinned release; the host's node fills its major.
        if shelf is not None:
            for runtime, installed in shelf.all_installed().items():
                self._add_node(runtime, str(installed.node), str(installed.node.parent.parent))
        for runtime, node in sorted(nodes.items()):
            if runtime in NODE_RUNTIMES:
                self._add_node(runtime, node)

    def _add_node(self, runtime: str, node: str, home: str | None = None) -> None:
        """The host's node at its own path, or a fetched tree at /var/lang (`bin/node`)."""
        assert self._host is not None
        if home is None:
            launcher = RuntimeLauncher(runtime, self._host, (node, NODE_PROGRAM), ())
        else:
            program = ("/var/lang/bin/node", NODE_PROGRAM)
            launcher = RuntimeLauncher(runtime, self._host, program, (), lang=home)
        self._launchers.setdefault(runtime, launcher)

    def launcher(self, runtime: str) -> RuntimeLauncher | None:
        return self._launchers.get(runtime)

    def python(self, runtime: str) -> Interpreter | None:
        """The interpreter a Python runtime's environments import their code with."""
        launcher = self._launchers.get(runtime)
        return launcher.python if launcher is not None else None

    def available(self) -> list[str]:
        return list(self._launchers)

    def addable(self) -> list[str]:
        """Runtimes not here yet that `ensure` can fetch for this machine."""
        if self._shelf is None or self._host is None:
            return []
        return [
            runtime
            for runtime in NODE_RUNTIMES
            if runtime not in self._launchers and self._shelf.addable(runtime)
        ]

    def creatable(self) -> list[str]:
        return self.available() + self.addable()

    def reason(self, runtime: str) -> str:
        """Why a Lambda runtime is neither available nor fetchable here."""
        if runtime.startswith("python"):
            return f"no Python {runtime.removeprefix('python')} interpreter is installed"
        return f"no Node.js build for {runtime} is pinned for this machine"

    def why_not(self, runtime: str) -> str | None:
        """For a Lambda runtime this host cannot offer: why, what it has, and how to add it."""
        if runtime not in PYTHON_RUNTIMES + NODE_RUNTIMES or runtime in self.creatable():
            return None
        has = ", ".join(self.available()) or "none"
        return (
            f"This gureum host cannot run {runtime}: {self.reason(runtime)}. Runtimes this host "
            f"has: {has}. To add it: gureum runtimes add {runtime}"
        )

    def unavailable(self, runtime: str) -> str:
        """Why an existing function's runtime cannot start now (Invoke's message).

        A function created before its Node.js runtime was fetchable (an older gureum ran every
        nodejs*.x on the host's one node) names a runtime that is still only fetchable.
        """
        if runtime in self.addable():
            return (
                f"The runtime {runtime} is not installed on this gureum server yet. "
                f"To add it: gureum runtimes add {runtime}"
            )
        return self.why_not(runtime) or (
            f"The runtime {runtime} cannot run on this gureum server. "
            f"Runtimes it can run: {', '.join(self.available())}"
        )

    def ensure(self, runtime: str) -> str | None:
        """Makes `runtime` available, fetching it if it must; None, or why it could not."""
        if runtime in self._launchers:
            return None
        if runtime not in self.addable():
            return self.why_not(runtime) or f"The runtime {runtime} is not available."
        assert self._shelf is not None
        with self._adding:
            try:
                installed = self._shelf.add(runtime)
            except ProvisioningError as exc:
                return f"The runtime {runtime} could not be installed: {exc}"
            self._add_node(runtime, str(installed.node), str(installed.node.parent.parent))
        return None

    def zygote_executables(self) -> set[str]:
        return {launcher.zygote for launcher in self._launchers.values()}


def python_help(runtime: str) -> str:
    return PYTHON_HELP.format(version=runtime.removeprefix("python"))
