"""What isolation this machine grants, found out once at start-up and reported loudly.

Full isolation needs root (mount, pid, ipc and uts namespaces, bind mounts, a private root, an
unprivileged uid per environment) and a writable memory cgroup. Without them gureum still runs
functions, as plain processes, and says so in its start-up log and health endpoint.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from enum import StrEnum

_PROBE = (
    "import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); "
    "sys.exit(0 if libc.unshare(0x20000 | 0x20000000 | 0x08000000 | 0x04000000) == 0 else 1)"
)


CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_SLAVE = 1 << 19


class IsolationMode(StrEnum):
    NAMESPACES = "namespaces"
    PROCESSES = "processes"


@dataclass(frozen=True, slots=True)
class Isolation:
    mode: IsolationMode
    memory_limits: bool
    reason: str

    def describe(self) -> dict[str, object]:
        return {"mode": self.mode.value, "memoryLimits": self.memory_limits, "reason": self.reason}


def namespaces_available() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "gureum is not running as root, so it cannot create namespaces"
    try:
        probe = subprocess.run([sys.executable, "-I", "-S", "-c", _PROBE], timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"the namespace probe failed: {exc}"
    if probe.returncode != 0:
        return False, "this kernel or container refuses new mount/pid namespaces"
    return True, "mount, pid, ipc and uts namespaces; private root; one uid per environment"


def private_mount_namespace() -> str | None:
    """Moves this server into a mount namespace of its own; why not, if it cannot.

    Every mount the server makes (the environments' /tmp disks) then lives only as long as the
    server: the kernel drops them with the namespace when its last process dies, `kill -9`
    included, and their loop devices detach themselves. Mounts made on the host later still
    propagate in (slave propagation); the server's never propagate out. unshare(2) refuses a
    process with threads, so this runs at start-up, before any thread exists.
    """
    if threading.active_count() > 1:
        return "the server already runs threads"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        return os.strerror(ctypes.get_errno())
    if libc.mount(None, b"/", None, ctypes.c_ulong(MS_REC | MS_SLAVE), None) != 0:
        return os.strerror(ctypes.get_errno())
    return None
