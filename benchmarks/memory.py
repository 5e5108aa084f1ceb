"""Memory from the kernel: proportional set size (PSS), which splits shared pages fairly.

RSS would count the zygote's pages once in every forked environment; PSS charges each process
its share, so PSS summed over a process tree is what the tree really costs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from benchmarks.processes import family

SANDBOX_UID_MIN = 20_000  # gureum runs each environment's init and runtime as uid >= 20000


def pss_kib(pid: int) -> int:
    """The process's PSS in KiB (0 if it is gone or unreadable)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def uid(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True, slots=True)
class TreeMemory:
    """PSS of a server's process tree: the server, its infrastructure, its environments."""

    server_kib: int
    infrastructure_kib: int  # descendants down to the infrastructure depth (gureum's zygotes)
    environment_kib: int  # every deeper descendant (keepers, runtimes, peers' workers)
    environment_count: int
    sandboxed_kib: int  # of those, processes running as uid >= SANDBOX_UID_MIN

    @property
    def total_kib(self) -> int:
        return self.server_kib + self.infrastructure_kib + self.environment_kib


def tree_memory(root: int, infrastructure_depth: int = 0) -> TreeMemory:
    infrastructure = environment = sandboxed = count = 0
    for pid, depth in family(root).items():
        pss = pss_kib(pid)
        if depth <= infrastructure_depth:
            infrastructure += pss
            continue
        environment, count = environment + pss, count + 1
        owner = uid(pid)
        if owner is not None and owner >= SANDBOX_UID_MIN:
            sandboxed += pss
    return TreeMemory(pss_kib(root), infrastructure, environment, count, sandboxed)
