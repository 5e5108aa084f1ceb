"""A function tries to widen the kernel surface it reaches: new user namespaces are refused.

A user namespace makes an unprivileged process "root" inside it, and so opens kernel code
(mounting file systems, new network stacks, netfilter, ...) that is otherwise out of a
function's reach, where most kernel privilege escalations of recent years were found. No Lambda
runtime needs one (AWS's own do not allow it: Chromium on Lambda runs with --no-sandbox), so
every way to make one fails with EPERM, while threads and subprocesses work as before.
"""

from __future__ import annotations

import importlib.util
import struct
from collections.abc import Callable
from typing import Any

import pytest

from gureum.lambda_.sandbox.zygotes import guest_file
from tests.support.functions import invoke
from tests.support.packages import zip_of

pytestmark = pytest.mark.adversarial

# Each attempt reports the errno it got (0: it worked).
ATTEMPTS = '''\
import ctypes
import errno
import os
import subprocess
import threading

CLONE_NEWUSER = 0x10000000
SIGCHLD = 17
libc = ctypes.CDLL(None, use_errno=True)


def outcome(result):
    return 0 if result >= 0 else errno.errorcode[ctypes.get_errno()]


def unshare_in_a_child():
    """unshare(CLONE_NEWUSER) in a forked child, so a success does not change this runtime."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, str(outcome(libc.unshare(CLONE_NEWUSER))).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    seen = os.read(read, 64).decode()
    os.close(read)
    return int(seen) if seen.isdigit() else seen


def clone_a_new_user_namespace():
    """The raw clone system call with CLONE_NEWUSER (as a runtime written in C or Go could)."""
    number = {"x86_64": 56, "aarch64": 220}[os.uname().machine]
    # x86-64 and arm64 both take (flags, stack, parent_tid, child_tid, tls); stack 0: fork-like.
    pid = libc.syscall(number, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
    return outcome(pid)


def threads_and_subprocesses():
    box = []
    thread = threading.Thread(target=lambda: box.append(sum(range(1000))))
    thread.start()
    thread.join()
    echoed = subprocess.run(["echo", "still works"], capture_output=True, text=True, check=True)
    return {"thread": box, "subprocess": echoed.stdout.strip()}


def handler(event, context):
    unshare = subprocess.run(["unshare", "-Ur", "true"], capture_output=True, text=True)
    return {
        "unshare_command": [unshare.returncode, unshare.stderr.strip()],
        "unshare": unshare_in_a_child(),
        "clone": clone_a_new_user_namespace(),
        "normal_work": threads_and_subprocesses(),
    }
'''


def test_a_function_cannot_create_a_user_namespace(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code={"ZipFile": zip_of({"index.py": ATTEMPTS})}, Timeout=30)
    invoked = invoke(lambda_client, function_name, {})
    assert invoked.function_error is None, invoked.payload
    seen = invoked.json()
    assert seen["unshare"] == "EPERM"
    assert seen["clone"] == "EPERM"
    code, message = seen["unshare_command"]
    assert code != 0
    assert "Operation not permitted" in message
    assert seen["normal_work"] == {"thread": [499500], "subprocess": "still works"}


# --- the filter itself, for every calling convention it must cover ------------------------------

ZYGOTE = guest_file("zygote.py")  # the file the server runs, wherever gureum is installed
X86_64, I386, AARCH64, ARM = 0xC000003E, 0x40000003, 0xC00000B7, 0x40000028
CLONE_NEWUSER, CLONE_NEWNS, CLONE_THREADS = 0x10000000, 0x20000, 0x3D0F00
ALLOW, EPERM, ENOSYS = "allow", "EPERM", "ENOSYS"


def load_zygote() -> Any:
    spec = importlib.util.spec_from_file_location("gureum_guest_zygote", ZYGOTE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_filter(program: bytes, arch: int, number: int, flags: int = 0) -> str:
    """Runs the classic BPF program over one system call, as the kernel would."""
    data = struct.pack("=iIQ6Q", number, arch, 0, flags, 0, 0, 0, 0, 0)
    code = [struct.unpack_from("=HBBI", program, offset) for offset in range(0, len(program), 8)]
    accumulator, pc = 0, 0
    while True:
        op, jump_true, jump_false, k = code[pc]
        if op == 0x20:  # BPF_LD | BPF_W | BPF_ABS
            accumulator = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif op == 0x06:  # BPF_RET | BPF_K
            return {0x7FFF0000: ALLOW, 0x50001: EPERM, 0x50026: ENOSYS}[k]
        else:
            taken = {
                0x15: accumulator == k,
                0x35: accumulator >= k,
                0x45: bool(accumulator & k),
            }[op]
            pc += 1 + (jump_true if taken else jump_false)


# (arch, unshare, clone, clone3, getpid) per calling convention
CONVENTIONS = {
    "x86_64": [(X86_64, 272, 56, 435, 39), (I386, 310, 120, 435, 20)],
    "aarch64": [(AARCH64, 97, 220, 435, 172), (ARM, 337, 120, 435, 20)],
}


@pytest.mark.parametrize("machine", sorted(CONVENTIONS))
def test_the_filter_refuses_new_user_namespaces_in_every_convention(machine: str) -> None:
    program = load_zygote().seccomp_program(machine)
    for arch, unshare, clone, clone3, getpid in CONVENTIONS[machine]:
        cases = [
            (unshare, CLONE_NEWUSER, EPERM),
            (unshare, CLONE_NEWUSER | CLONE_NEWNS, EPERM),
            (unshare, CLONE_NEWNS, ALLOW),  # needs CAP_SYS_ADMIN anyway, which it lacks
            (clone, CLONE_NEWUSER | 17, EPERM),
            (clone, CLONE_THREADS, ALLOW),  # threads
            (clone, 17, ALLOW),  # fork
            (clone3, 0, ENOSYS),  # libc falls back to clone
            (getpid, 0, ALLOW),
        ]
        for number, flags, expected in cases:
            assert run_filter(program, arch, number, flags) == expected, (arch, number, flags)
    if machine == "x86_64":  # the x32 ABI: the same calls with bit 30 set
        assert run_filter(program, X86_64, 0x40000000 | 272, CLONE_NEWUSER) == ENOSYS
    # Another machine's system calls are not this one's: untouched.
    assert run_filter(program, 0x12345678, 272, CLONE_NEWUSER) == ALLOW
    assert load_zygote().seccomp_program("riscv64") is None


RESTORE = 0x10000000 | 0x20000 | 0x20000000 | 0x08000000 | 0x04000000
# (mount, umount2, pivot_root) per calling convention; open_tree and the fs* calls are alike.
MOUNT_CALLS = {"x86_64": [(165, 166, 155), (21, 52, 217)], "aarch64": [(40, 39, 41), (21, 52, 218)]}


@pytest.mark.parametrize("machine", sorted(CONVENTIONS))
def test_the_snap_start_filter_allows_the_restore_unshare_and_no_mount(machine: str) -> None:
    program = load_zygote().seccomp_program(machine, snap_start=True)
    for (arch, unshare, clone, clone3, getpid), mounts in zip(
        CONVENTIONS[machine], MOUNT_CALLS[machine], strict=True
    ):
        cases = [
            (unshare, RESTORE, ALLOW),  # exactly a restore's namespaces
            (unshare, CLONE_NEWUSER, EPERM),
            (unshare, RESTORE | 0x40000000, EPERM),  # with a network namespace: never
            (clone, CLONE_NEWUSER | 17, EPERM),
            (clone3, 0, ENOSYS),
            (getpid, 0, ALLOW),
            (429, 0, ALLOW),  # move_mount: how a restore attaches its /tmp
            *[(number, 0, EPERM) for number in (*mounts, 428, 430, 431, 432, 433, 442)],
        ]
        for number, flags, expected in cases:
            assert run_filter(program, arch, number, flags) == expected, (arch, number, flags)
    # Without SnapStart, mounts are left to the kernel (the process has no capability anyway).
    plain = load_zygote().seccomp_program(machine)
    arch, unshare = CONVENTIONS[machine][0][:2]
    assert run_filter(plain, arch, unshare, RESTORE) == EPERM
    assert run_filter(plain, arch, MOUNT_CALLS[machine][0][0], 0) == ALLOW
