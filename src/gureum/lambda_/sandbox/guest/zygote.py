"""The zygote: a pre-initialized process that forks execution environments in about a millisecond.

gureum starts one zygote per interpreter (`python3.X -I -S zygote.py FD [--var-lang]`, FD being
its control socket; --var-lang when environments are sandboxed: see `relocate`). It imports the
built-in runtime once, freezes its heap, and then serves requests over a SOCK_SEQPACKET socket:
`spawn` and `prepare` (a JSON spec plus named descriptors: the log pipe's write end, a network
namespace, ...), `join` (a throwaway child joins memory groups, which warms them), `kill`; it
answers `spawned` and, when a child ends, `exited` with the status as Go's os/exec prints it
(which is what AWS's `Runtime.ExitError` messages quote).

Each environment, when isolation is on, is built like this:

    zygote ── fork ──> keeper: join the environment's network namespace (made by the server),
                       unshare(mount, pid, ipc, uts), build a new root
                         └── fork ──> init (pid 1): waits on its gate
                       keeper: move init into its cgroups, then open the gate
                                      init: mount the function's directories and /tmp into the
                                      root, mount /proc, pivot_root, drop to an unprivileged
                                      uid, then exec the runtime or run the built-in Python
                                      runtime in place

`spawn` sends the function's spec through the gate. `prepare` builds a sandbox for no function
yet: it waits in gureum's stock (sandbox/stock.py), its /tmp already mounted, until a cold start
writes the function's spec down a pipe straight to init, and only init's steps are left on the
cold-start path. The slow part above all is the cgroup move: the first one after a quiet spell
waits out an RCU grace period (10-25 ms on this kernel).

The keeper mirrors init's exit status; every process holds PR_SET_PDEATHSIG so nothing outlives
the server. Like runtime.py, this file runs under any Python 3.9+ and imports nothing of gureum.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import json
import os
import platform
import resource
import selectors
import signal
import socket
import stat
import struct
import sys
import traceback
import types
from typing import Any

GUEST_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, GUEST_DIR)
# Imported now, once, so that every forked environment starts with the runtime already loaded.
runtime: Any = importlib.import_module("runtime")
file_systems: Any = importlib.import_module("file_systems")
sys.path.remove(GUEST_DIR)
BASE_PATH = list(sys.path)

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE, MS_SLAVE = 32, 4096, 16384, 1 << 18, 1 << 19
MNT_DETACH = 2
MOVE_MOUNT_F_EMPTY_PATH, AT_FDCWD = 4, -100
SYS_MOVE_MOUNT = 429  # the same on every architecture (Linux 5.2)
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID = 0x20000, 0x04000000, 0x08000000, 0x20000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine(), 155)
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
SETUP_FAILED = 126
# An EFS access point's root could not be mounted (gone, or swapped for a link): the server
# answers with Lambda's EFS errors rather than a runtime's exit.
MOUNT_FAILED = 125
# Resource limits as on AWS, whatever the server's own are (root's are usually much higher).
# AWS documents two, "File descriptors: 1,024" and "Execution processes/threads: 1,024"
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). The others are
# Linux's defaults for a fresh process, which Amazon Linux keeps: no core files (a crash must
# not fill /tmp) and 64 KiB of locked memory (a function must not pin the host's RAM).
RLIMITS = {
    resource.RLIMIT_NPROC: 1024,
    resource.RLIMIT_NOFILE: 1024,
    resource.RLIMIT_CORE: 0,
    resource.RLIMIT_MEMLOCK: 64 * 1024,
}

_libc = ctypes.CDLL(None, use_errno=True)

# --- no new user namespaces -------------------------------------------------------------------
# A user namespace makes an unprivileged process root inside it, opening kernel code (mounts,
# network stacks, netfilter...) that is otherwise out of a function's reach, and no runtime
# needs one. A seccomp filter, installed once in the environment's first process and inherited
# by everything it starts, makes unshare and clone with CLONE_NEWUSER fail with EPERM. clone3
# passes its flags behind a pointer that seccomp cannot read: it gets ENOSYS, on which glibc,
# Go and the rest fall back to clone. The filter checks the calling convention (AUDIT_ARCH_*):
# a 32-bit or x32 system call has other numbers. Cost, measured here: 0.13-0.15 ms to install
# per environment; 60-90 ns more per system call.
#
# A SnapStart template (`restore_point`) is the exception, narrowed to what a restore needs: a
# restored child unshares exactly CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
# CLONE_NEWUTS (its own uid, mapped by the server; its own mount table for its own /tmp; its own
# processes, System V IPC and host name), and attaches the /tmp the server made with move_mount.
# So in those environments, that one unshare is allowed, and every system call that makes or
# changes a mount other than move_mount is refused (EPERM), whatever namespace the caller is
# root in: the root a user namespace gives reaches no mount code, and no network stack
# (CLONE_NEWNET stays refused, so a user namespace never owns a network namespace).
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
CLONE_NEWUSER = 0x10000000
RESTORE_UNSHARE = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
ALLOW, EPERM, ENOSYS = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
X32_SYSCALL_BIT = 0x40000000
# machine -> ((audit arch, unshare, clone, clone3, has x32, mount calls), ...): native first,
# then compat. The mount calls: mount, umount2, pivot_root, then open_tree, fsopen, fsconfig,
# fsmount, fspick and mount_setattr (numbered alike everywhere since Linux 5.1).
NEW_MOUNT_CALLS = (428, 430, 431, 432, 433, 442)
SYSCALLS = {
    "x86_64": (
        (0xC000003E, 272, 56, 435, True, (165, 166, 155, *NEW_MOUNT_CALLS)),
        (0x40000003, 310, 120, 435, False, (21, 52, 217, *NEW_MOUNT_CALLS)),
    ),
    "aarch64": (
        (0xC00000B7, 97, 220, 435, False, (40, 39, 41, *NEW_MOUNT_CALLS)),
        (0x40000028, 337, 120, 435, False, (21, 52, 218, *NEW_MOUNT_CALLS)),
    ),
}
_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06


def seccomp_program(machine: str, snap_start: bool = False) -> bytes | None:
    """The BPF filter, as `struct sock_filter` array bytes; None on a machine we do not know.

    `snap_start`: the template's variant (see above). Written with labels: each jump names the
    instruction it goes to, and the offsets are counted once the program is laid out.
    """
    arches = SYSCALLS.get(machine)
    if arches is None:
        return None
    # (code, label if true, label if false, k, own label)
    lines: list[tuple[int, str, str, int, str]] = []

    def put(code: int, k: int = 0, yes: str = "", no: str = "", label: str = "") -> None:
        lines.append((code, yes, no, k, label))

    for index, (arch, unshare, clone, clone3, x32, mounts) in enumerate(arches):
        here = f"arch{index}"
        put(_LD, 4, label=here)  # seccomp_data.arch
        put(_JEQ, arch, no=f"arch{index + 1}")
        put(_LD, 0)  # seccomp_data.nr
        if x32:
            put(_JGE, X32_SYSCALL_BIT, yes="enosys")
        put(_JEQ, clone3, yes="enosys")
        if snap_start:
            for number in mounts:
                put(_JEQ, number, yes="eperm")
        put(_JEQ, unshare, yes=f"{here}.unshare")
        put(_JEQ, clone, yes=f"{here}.clone")
        put(_RET, ALLOW)
        put(_LD, 16, label=f"{here}.unshare")  # the low half of args[0]: the flags
        if snap_start:
            put(_JEQ, RESTORE_UNSHARE, yes="allow")
        put(_JSET, CLONE_NEWUSER, yes="eperm", no="allow")
        put(_LD, 16, label=f"{here}.clone")
        put(_JSET, CLONE_NEWUSER, yes="eperm", no="allow")
    put(_RET, ALLOW, label=f"arch{len(arches)}")  # another machine's calls: untouched
    put(_RET, ALLOW, label="allow")
    put(_RET, EPERM, label="eperm")
    put(_RET, ENOSYS, label="enosys")
    program = lines
    where = {label: at for at, (_, _, _, _, label) in enumerate(program) if label}

    def offset(at: int, label: str) -> int:
        return where[label] - at - 1 if label else 0

    return b"".join(
        struct.pack("=HBBI", code, offset(at, yes), offset(at, no), k)
        for at, (code, yes, no, k, _) in enumerate(program)
    )


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _Filter:
    """A filter built once in the zygote; every environment forked from it inherits it ready
    to install."""

    def __init__(self, program: bytes | None) -> None:
        self.present = program is not None
        self.buffer = ctypes.create_string_buffer(program or b"")
        self.program = SockFprog(len(program or b"") // 8, ctypes.addressof(self.buffer))


_FILTERS = {
    snap_start: _Filter(seccomp_program(platform.machine(), snap_start))
    for snap_start in (False, True)
}


def deny_user_namespaces(snap_start: bool = False) -> None:
    """Installs the filter above on this process (which must have PR_SET_NO_NEW_PRIVS)."""
    chosen = _FILTERS[snap_start]
    if chosen.present:
        program = ctypes.byref(chosen.program)
        _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, program, 0, 0), "seccomp")


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {source} on {target}",
    )


def bind(source: str, target: str, writable: bool = False) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    if not writable:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def build_root(spec: dict[str, Any]) -> str:
    """Mounts the environment's file system on a fresh tmpfs; returns its path."""
    root = spec["root"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=16m")
    for name in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"):
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), os.path.join(root, name))
        elif os.path.isdir(host):
            bind(host, os.path.join(root, name))
    # /opt is there without layers too (empty), as on AWS.
    os.makedirs(os.path.join(root, "opt"), exist_ok=True)
    bash_as_sh(root)
    dev = os.path.join(root, "dev")
    os.makedirs(dev, exist_ok=True)
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            bind("/dev/" + name, os.path.join(dev, name), writable=True)
    os.makedirs(os.path.join(dev, "shm"), exist_ok=True)
    mount("tmpfs", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m")
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, os.path.join(dev, name))
    os.makedirs(os.path.join(root, "proc"), exist_ok=True)
    return str(root)


def mount_function(root: str, spec: dict[str, Any]) -> None:
    """Mounts what belongs to one function into a built root: its code, layers, language,
    the runtime's directory and the host paths its runtime needs."""
    for path in spec["reveal"]:
        bind(path, root + path)
    for source, target, writable in spec["binds"]:
        bind(source, root + target, writable)
    for mounted in spec.get("mounts", ()):
        try:
            file_systems.mount_file_system(root, mounted, spec["uid"], spec["gid"])
        except OSError as exc:
            raise MountFailed(str(exc)) from None


class MountFailed(Exception):
    """An EFS mount failed in the sandbox (the setup ends with MOUNT_FAILED)."""


def mount_tmp(root: str, fds: dict[str, int]) -> None:
    """/tmp is the environment's scratch space: a disk the server made and mounted outside this
    namespace, so that it survives a reset of the runtime (spec 6.1) as AWS's does, handed over
    as a detached copy of that mount (`tmp`) and attached here."""
    tmp = fds.pop("tmp")
    target = os.path.join(root, "tmp")
    os.makedirs(target, exist_ok=True)
    flags = MOVE_MOUNT_F_EMPTY_PATH
    result = _libc.syscall(SYS_MOVE_MOUNT, tmp, b"", AT_FDCWD, target.encode(), flags)
    _check(0 if result == 0 else -1, "move_mount " + target)
    os.close(tmp)


def own_mount_namespace(scratch_root: str) -> None:
    """Moves the zygote into a mount namespace of its own, before it forks any sandbox.

    A sandbox's mount namespace is a copy of the one it is forked in, made at each cold start,
    and the server's holds a /tmp disk per environment: in the server's namespace each copy cost
    more than the last (and then had to let go of every disk in it, or their space stayed taken).
    This one holds only what was mounted when the zygote started, less the disks of that moment:
    sandboxes get their own /tmp as a detached mount (`mount_tmp`). Mounts the host makes later
    still propagate in (slave propagation); the server's are private, and do not.
    """
    _check(_libc.unshare(CLONE_NEWNS), "unshare(mount)")
    mount(None, "/", None, MS_REC | MS_SLAVE)
    with open("/proc/self/mountinfo") as mounts:
        points = [line.split(" ")[4] for line in mounts]
    for point in reversed(points):  # the newest first: a mount before what it is under
        if point.startswith(scratch_root + "/"):
            with contextlib.suppress(OSError):
                _check(_libc.umount2(point.encode(), MNT_DETACH), "umount " + point)


def bash_as_sh(root: str) -> None:
    """Makes /bin/sh a link to bash, as in Amazon Linux, where a host has another shell there
    (Debian's dash): `#!/bin/sh` bootstraps written for AWS may use bash-isms.

    A read-only overlay on the bin directory whose top layer holds just the link. The layer lives
    under the new root's /proc, which procfs hides once mounted; the overlay keeps its own
    reference to it.
    """
    host = "/usr/bin" if os.path.islink("/bin") else "/bin"  # merged /usr or not
    if not os.path.isfile(host + "/bash") or not os.path.isdir(root + host):
        return
    with contextlib.suppress(OSError):
        if os.readlink(host + "/sh") == "bash":
            return
    layer = os.path.join(root, "proc", "sh-layer")
    os.makedirs(layer)
    os.symlink("bash", os.path.join(layer, "sh"))
    mount("overlay", root + host, "overlay", MS_RDONLY, f"lowerdir={layer}:{host}")


def enter_root(root: str) -> None:
    mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def drop_privileges(uid: int, gid: int, groups: list[int], snap_start: bool = False) -> None:
    # Limits first, while still allowed to set them: a fork bomb or a descriptor leak stays
    # inside the environment (RLIMIT_NPROC counts per uid, and each environment has its own).
    for limit, value in RLIMITS.items():
        resource.setrlimit(limit, (value, value))
    # Supplementary groups only for an EFS access point's secondary gids (its mount maps them).
    os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    # Changing uid clears the parent-death signal: set it again, so the runtime dies with its
    # keeper (and so with the server) however it is stopped.
    die_with_parent()
    # Changing uid clears "dumpable", which would leave /proc/self (and so /dev/stdout, a link
    # into /proc/self/fd) owned by root: the function must be able to use its own.
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    deny_user_namespaces(snap_start)


CHANNEL_FD = 3  # where the built-in runtime finds its connection to the Runtime API, if any
SNAPSHOT_FD = 4  # a SnapStart template's control socket (`restore_point`)


_ATTACHED: list[bool] = []  # the process's output is the log pipe already (`attach`)


def attach(log_fd: int) -> None:
    """What a runtime process needs and no function decides: stdin from /dev/null, stdout and
    stderr to the log pipe (line-buffered, so each line reaches the pipe before the response is
    posted), the packages' paths under /var/lang, and an empty environment to fill."""
    if _ATTACHED:
        return
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    if RELOCATED:
        enter_var_lang()
    os.environ.clear()
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    _ATTACHED.append(True)


def become_runtime(spec: dict[str, Any], log_fd: int, channel: int | None = None) -> None:
    """The last steps in the environment's first process; never returns.

    `channel`: a connection to the Runtime API that gureum made itself (a socket pair) for the
    built-in Python runtime, which needs neither to connect nor to be checked (peers.py): no
    other process ever had it. A runtime started as a program connects over TCP as on AWS.
    """
    attach(log_fd)
    built_in = not spec.get("argv") and not spec["env"].get("AWS_LAMBDA_EXEC_WRAPPER")
    in_place = channel is not None and built_in
    snapshot = spec.get("snapshot_fd")
    if in_place and channel is not None:
        os.dup2(channel, CHANNEL_FD, inheritable=False)  # the runtime's, not its children's
        os.closerange(CHANNEL_FD + 1, 65536)
        runtime.CHANNEL = CHANNEL_FD
    elif built_in and isinstance(snapshot, int):
        # A SnapStart template: the runtime's restore point serves restore orders on it.
        os.dup2(snapshot, SNAPSHOT_FD, inheritable=False)
        os.closerange(3, SNAPSHOT_FD)
        os.closerange(SNAPSHOT_FD + 1, 65536)
        isolate = bool(spec["isolate"])
        runtime.SNAPSHOT = lambda: restore_point(SNAPSHOT_FD, isolate)
    else:
        os.closerange(3, 65536)
    if spec["isolate"]:
        drop_privileges(
            spec["uid"], spec["gid"], spec.get("groups", []), snap_start=isinstance(snapshot, int)
        )
    os.chdir(spec["cwd"])
    env = spec["env"]
    argv = spec.get("argv")
    wrapper = env.get("AWS_LAMBDA_EXEC_WRAPPER")
    if wrapper:
        # The wrapper is run with the runtime's command line as its arguments (AWS's wrapper
        # scripts end in `exec "$@"`); the built-in Python runtime then starts as a program.
        if not argv:
            argv = [sys.executable, spec["runtime_dir"] + "/bootstrap.py"]
            env = {**env, "PYTHONPATH": ":".join(spec["sys_path"])}
        argv = [wrapper, *argv]
    if argv:
        # Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across exec: a
        # runtime started as a program gets the defaults any new process has (`yes | head` in a
        # bootstrap ends by SIGPIPE, as on AWS), as subprocess's restore_signals gives.
        for number in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(number, signal.SIG_DFL)
        try:
            os.execve(argv[0], argv, env)
        except OSError as exc:
            sys.stderr.write(f"exec {argv[0]}: {exc.strerror}\n")
            os._exit(127)
    os.environ.update(env)
    sys.path[:] = spec["sys_path"] + BASE_PATH
    try:
        runtime.main()
    except SystemExit as exc:
        sys.stdout.flush()
        os._exit(exc.code if isinstance(exc.code, int) else 1)
    except BaseException:
        traceback.print_exc()
        sys.stdout.flush()
        os._exit(1)
    os._exit(0)


def mirror(pid: int) -> None:
    """Waits for `pid` and ends this process the same way it ended."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        with contextlib.suppress(OSError, ValueError):  # SIGKILL and SIGSTOP have no handler
            signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def descendants(pid: int, proc_fd: int) -> list[int]:
    """`pid` and every process under it, read through a handle on the host's /proc."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        path = f"{current}/task/{current}/children"
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY, dir_fd=proc_fd)
            try:
                pending += [int(child) for child in os.read(fd, 1 << 16).split()]
            finally:
                os.close(fd)
    return found


def join_cgroups(group_fds: list[int], proc_fd: int, pid: int) -> None:
    """Moves `pid` and its descendants into each group, until no new process appears.

    Works through descriptors opened before the runtime was forked: the runtime's pivot_root
    changes this process's root too (they share a mount namespace), hiding /sys and the host's
    /proc from here by path.
    """
    for group_fd in group_fds:
        moved: set[int] = set()
        while True:
            tree = [p for p in descendants(pid, proc_fd) if p not in moved]
            if not tree:
                break
            for member in tree:
                with contextlib.suppress(OSError):
                    os.write(group_fd, str(member).encode())
                moved.add(member)


def read_to_end(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            os.close(fd)
            return b"".join(chunks)
        chunks.append(chunk)


def init(root: str, gate: int, fds: dict[str, int]) -> None:
    """The environment's first process (pid 1 of its namespace); never returns.

    It mounts the function itself, straight after the word to go: one process woken on the
    cold-start path rather than two.
    """
    die_with_parent()
    log_fd, go_fd = fds["log"], fds.get("go")
    # No function code runs before the environment is inside its memory group: the keeper
    # opens the gate once it has moved this process there.
    opened = read_to_end(gate)
    if not opened:
        os._exit(SETUP_FAILED)
    if go_fd is None:
        spec = json.loads(opened)
        mount_tmp(root, fds)
    else:
        attach(log_fd)  # while waiting for a function: nothing of it is needed
        started = read_to_end(go_fd)
        if not started:  # the server let the sandbox go unused
            os._exit(SETUP_FAILED)
        spec = json.loads(started)
    mount_function(root, spec)
    enter_root(root)
    if "snapshot" in fds:
        spec["snapshot_fd"] = fds["snapshot"]
    become_runtime(spec, log_fd, fds.get("runtime"))


def keeper(spec: dict[str, Any], fds: dict[str, int]) -> None:
    """The forked child of the zygote; never returns. `fds`: see `Zygote.spawn`.

    With a `go` descriptor the sandbox is prepared for no function yet: the function's spec
    arrives on it, from the server, once a cold start takes the sandbox from the stock.
    """
    log_fd, network_fd, go_fd = fds["log"], fds.get("network"), fds.get("go")
    try:
        if network_fd is not None:
            # Before anything else: every process of the environment is made in its network.
            _check(_libc.setns(network_fd, CLONE_NEWNET), "setns(network)")
            os.close(network_fd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        die_with_parent()
        os.setsid()
        proc_fd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
        group_fds = [os.open(path, os.O_WRONLY) for path in spec["cgroups"]]
        if not spec["isolate"]:
            join_cgroups(group_fds, proc_fd, os.getpid())
            if "snapshot" in fds:
                spec["snapshot_fd"] = fds["snapshot"]
            become_runtime(spec, log_fd, fds.get("runtime"))
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
        root = build_root(spec)
        if go_fd is not None:  # a prepared sandbox's /tmp is known, and mounted, now
            mount_tmp(root, fds)
        name = spec["hostname"].encode()
        _libc.sethostname(name, len(name))
        gate_read, gate_write = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(gate_write)
            init(root, gate_read, fds)
        os.close(gate_read)
        for name in ("log", "go", "runtime", "snapshot", "tmp"):
            if name in fds:
                os.close(fds[name])
        join_cgroups(group_fds, proc_fd, child)
        # The gate: a spawned environment's spec, or a prepared one's word that it may wait.
        os.write(gate_write, b"{}" if go_fd is not None else json.dumps(spec).encode())
        os.close(gate_write)
        mirror(child)
    except MountFailed as exc:  # in the environment's first process, forked from here
        with contextlib.suppress(OSError):
            os.write(log_fd, f"gureum: the file system could not be mounted: {exc}\n".encode())
        os._exit(MOUNT_FAILED)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.write(log_fd, f"gureum: the sandbox could not be set up: {exc}\n".encode())
    os._exit(SETUP_FAILED)


def describe(status: int) -> dict[str, Any]:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = {9: "killed", 15: "terminated", 11: "segmentation fault", 6: "aborted"}.get(
            number, signal.Signals(number).name.lower()
        )
        return {"status": f"signal: {name}", "code": None, "signal": number}
    code = os.WEXITSTATUS(status)
    return {"status": f"exit status {code}", "code": code, "signal": None}


class Zygote:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.children: dict[int, str] = {}
        self.by_id: dict[str, int] = {}

    def send(self, message: dict[str, Any]) -> None:
        self.control.send(json.dumps(message).encode())

    def spawn(self, message: dict[str, Any], fds: list[int]) -> None:
        """Forks a keeper with the descriptors the message names (see `keeper`)."""
        named = {name: fds[index] for index, name in enumerate(message["fds"])}
        pid = os.fork()
        if pid == 0:
            self.control.close()
            keeper(message["spec"], named)
        for fd in fds:
            os.close(fd)
        self.children[pid] = message["id"]
        self.by_id[message["id"]] = pid
        self.send({"op": "spawned", "id": message["id"], "pid": pid})

    def join(self, message: dict[str, Any]) -> None:
        """Forks a child that joins the cgroups named (their `cgroup.procs`) and exits: the
        first process to join a group pays the kernel's set-up of it, and this one is small
        (forked from here, not from the server)."""
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                for path in message["cgroups"]:
                    with open(path, "w") as procs:
                        procs.write(str(os.getpid()))
            except BaseException:
                code = 1
            os._exit(code)
        self.children[pid] = message["id"]
        self.by_id[message["id"]] = pid
        self.send({"op": "spawned", "id": message["id"], "pid": pid})

    def kill(self, message: dict[str, Any]) -> None:
        pid = self.by_id.get(message["id"])
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            env_id = self.children.pop(pid, None)
            if env_id is not None:
                self.by_id.pop(env_id, None)
                self.send({"op": "exited", "id": env_id, **describe(status)})

    def serve(self) -> None:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        selector = selectors.DefaultSelector()
        selector.register(self.control, selectors.EVENT_READ)
        selector.register(wake_read, selectors.EVENT_READ)
        gc.collect()
        gc.freeze()
        self.send({"op": "ready", "pid": os.getpid(), "version": list(sys.version_info[:3])})
        while True:
            for key, _ in selector.select():
                if key.fileobj == wake_read:
                    os.read(wake_read, 4096)
                    self.reap()
                    continue
                try:
                    data, fds, _, _ = socket.recv_fds(self.control, 1 << 20, 16)
                except ConnectionResetError:
                    return  # the server died (kill -9): as quietly as when it closes
                if not data:
                    return
                self.dispatch(json.loads(data), fds)

    def dispatch(self, message: dict[str, Any], fds: list[int]) -> None:
        if message["op"] in ("spawn", "prepare"):
            self.spawn(message, fds)
        elif message["op"] == "join":
            self.join(message)
        elif message["op"] == "kill":
            self.kill(message)


# --- SnapStart --------------------------------------------------------------------------------
# A SnapStart template is an environment that ran Init once (at PublishVersion) and then waits
# in its runtime's `restore/next`, here, for restore orders. Each order forks it: the child is a
# new environment with the template's memory (copy-on-write, so no writable page is shared) and
# none of its identity. Before any of its own code runs again it:
#   - unshares its user, mount, pid, IPC and UTS namespaces (the one unshare the template's
#     seccomp filter allows) and mounts its own /tmp (a disk the server made, handed over as a
#     detached mount) over the template's;
#   - takes its own log pipe as stdout and stderr and its own channel as the runtime's;
#   - replaces the network sockets it inherited with fresh unconnected ones, so a connection
#     opened during Init is broken in every restored environment (as after AWS's restore)
#     rather than shared by all of them;
#   - forks the runtime into its new pid namespace (pid 1 there) and mirrors it, as a keeper;
#   - says so on its channel, and waits while the server, which reads its pid from that
#     message (SO_PASSCRED), moves it into the environment's own memory group: it is prepared;
#   - when an invocation needs it, gets its uid (which the server has just mapped into its
#     user namespace), becomes it, and drops every capability.
# What it keeps of the template: its memory, its open files, and its network namespace (the
# loopback, the endpoint's forwarder, the link outside), which only the version's own
# environments share: a user namespace that owned a network namespace would open the kernel's
# network configuration code to the function, so restores make none.
# The server checks the pid is a child of this template, so a function that forges the message
# can only ever map its own processes.

SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(platform.machine(), 126)
LINUX_CAPABILITY_VERSION_3 = 0x20080522


class Restored(Exception):
    """Raised in a restored child to leave the template's loop (see `Template`)."""

    def __init__(self, message: dict[str, Any], fds: dict[str, int]) -> None:
        super().__init__("restored")
        self.message = message
        self.fds = fds


class Template(Zygote):
    """The template's loop: the zygote protocol, with `restore` instead of `spawn`."""

    def dispatch(self, message: dict[str, Any], fds: list[int]) -> None:
        if message["op"] == "restore":
            self.restore(message, fds)
        elif message["op"] == "kill":
            self.kill(message)
        else:
            for fd in fds:
                os.close(fd)

    def restore(self, message: dict[str, Any], fds: list[int]) -> None:
        named = {name: fds[index] for index, name in enumerate(message["fds"])}
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.control.close()
            raise Restored(message, named)
        for fd in fds:
            os.close(fd)
        self.children[pid] = message["id"]
        self.by_id[message["id"]] = pid
        self.send({"op": "spawned", "id": message["id"], "pid": pid})


def restore_point(control_fd: int, isolate: bool) -> None:
    """Where a template waits after Init; returns only in a restored environment."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        Template(socket.socket(fileno=control_fd)).serve()
    except Restored as restored:
        become_restored(restored.message, restored.fds, isolate)
        return
    os._exit(0)  # the server let go of the snapshot: its restored environments go with it


def become_restored(message: dict[str, Any], fds: dict[str, int], isolate: bool) -> None:
    """A restored child's own sandbox, before the runtime goes on (see above). All of it but
    the uid is done ahead, while the server keeps the child prepared (sandbox/restores.py)."""
    channel, log_fd = fds["runtime"], fds["log"]
    try:
        if isolate:
            _check(_libc.unshare(RESTORE_UNSHARE), "unshare")
            tmp = fds["tmp"]
            result = _libc.syscall(
                SYS_MOVE_MOUNT, tmp, b"", AT_FDCWD, b"/tmp", MOVE_MOUNT_F_EMPTY_PATH
            )
            _check(0 if result == 0 else -1, "move_mount /tmp")
            os.close(tmp)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        log_fd = 2
        if channel != CHANNEL_FD:
            os.dup2(channel, CHANNEL_FD, inheritable=False)
            os.close(channel)
        break_network_sockets()
        if isolate:
            # The runtime goes on as the first process of the new pid namespace; this one
            # mirrors it, as a keeper does.
            runtime_pid = os.fork()
            if runtime_pid != 0:
                for fd in (0, 1, 2, CHANNEL_FD):
                    with contextlib.suppress(OSError):
                        os.close(fd)
                mirror(runtime_pid)
            die_with_parent()
        # The copy-on-write faults of the template's objects, paid now rather than on the
        # invocation's path: a collection writes every tracked object's header. Measured here:
        # the first invoke 1 ms faster, for 4 MB more of the environment's own memory.
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        os.write(CHANNEL_FD, b"u")  # the server reads our pid from it
        if os.read(CHANNEL_FD, 1) != b"g":  # in the environment's memory group now
            os._exit(SETUP_FAILED)
        # Prepared: the server starts us when an invocation needs a restore, with its uid.
        said = b""
        while not said.endswith(b"\n"):
            chunk = os.read(CHANNEL_FD, 16)
            if not chunk:
                os._exit(SETUP_FAILED)
            said += chunk
        if isolate:
            uid = gid = int(said)
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            no_capabilities = (ctypes.c_uint32 * 6)()
            header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
            _check(_libc.syscall(SYS_CAPSET, header, no_capabilities), "capset")
            _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.write(log_fd, f"gureum: the restore could not be set up: {exc}\n".encode())
        os._exit(SETUP_FAILED)


def break_network_sockets() -> None:
    """Replaces each inherited IP socket with a fresh one of its kind, in place: the function's
    socket objects keep their descriptors, and a send on one fails as on a broken connection."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd <= CHANNEL_FD:
            continue
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            with socket.socket(fileno=os.dup(fd)) as inherited:
                family, kind = inherited.family, inherited.type
        except OSError:
            continue  # already gone
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        with socket.socket(family, kind) as fresh:
            os.dup2(fresh.fileno(), fd, inheritable=os.get_inheritable(fd))


# Where AWS's runtimes keep their language (`/var/lang/bin/python3.12`, its standard library in
# `/var/lang/lib/python3.12`). Sandboxed environments see this interpreter's prefix there.
LANG = "/var/lang"
RELOCATED: list[str] = []  # the prefix moved to LANG, once `relocate` has run


def relocate(prefix: str, target: str = LANG) -> None:
    """Makes everything this process has loaded from `prefix` say it came from `target`.

    Environments are forked with the runtime and the standard library already imported, so
    their code objects carry the host's paths (`/root/.pyenv/versions/3.12.1/lib/...`) into
    every traceback. Inside a sandbox the prefix is mounted at /var/lang: rewriting the paths
    once here makes tracebacks, `__file__` and `sys.executable` read as on AWS, and linecache
    finds the source at the new path. Only for sandboxed environments: without isolation the
    interpreter is at its host path and so must the paths be.
    """
    if prefix in ("", target):
        return
    moved = _mover(prefix, target)

    def recode(code: types.CodeType) -> types.CodeType:
        consts = tuple(recode(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
        return code.replace(co_filename=moved(code.co_filename), co_consts=consts)

    for thing in gc.get_objects():
        if isinstance(thing, types.FunctionType):
            thing.__code__ = recode(thing.__code__)
    for module in list(sys.modules.values()):
        for name in ("__file__", "__cached__"):
            value = getattr(module, name, None)
            if isinstance(value, str):
                setattr(module, name, moved(value))
        spec = getattr(module, "__spec__", None)
        if spec is not None and isinstance(spec.origin, str):
            spec.origin = moved(spec.origin)
    # Where the environment imports from once inside its root; the zygote and its keepers go
    # on importing from the host's paths (package __path__s move in `enter_var_lang`).
    BASE_PATH[:] = [moved(entry) for entry in BASE_PATH]
    sys.executable = moved(sys.executable)
    sys.prefix = sys.base_prefix = sys.exec_prefix = sys.base_exec_prefix = target
    RELOCATED.append(prefix)


def enter_var_lang() -> None:
    """In a sandboxed environment, inside its root: packages import from /var/lang too."""
    for prefix in RELOCATED:
        moved = _mover(prefix, LANG)
        for module in list(sys.modules.values()):
            path = getattr(module, "__path__", None)
            if isinstance(path, list):
                path[:] = [moved(entry) for entry in path]


def _mover(prefix: str, target: str) -> Any:
    def moved(path: str) -> str:
        return target + path[len(prefix) :] if path.startswith(prefix + "/") else path

    return moved


def main() -> None:
    """`zygote.py FD [--own-mounts SCRATCH_ROOT] [--var-lang]`: with --own-mounts, the zygote
    forks its sandboxes in a mount namespace of its own (`own_mount_namespace`); with
    --var-lang, environments see the interpreter at /var/lang (they are sandboxed, and the
    server mounts its prefix there)."""
    die_with_parent()
    control = socket.socket(fileno=int(sys.argv[1]))
    if "--own-mounts" in sys.argv[2:]:
        own_mount_namespace(sys.argv[sys.argv.index("--own-mounts") + 1])
    if "--var-lang" in sys.argv[2:]:
        relocate(sys.base_prefix)
    Zygote(control).serve()


if __name__ == "__main__":
    main()
