"""A function tries to widen the kernel surface it reaches: new user namespaces are refused.

A user namespace makes an unprivileged process "root" inside it, and so opens kernel code
(mounting file systems, new network stacks, netfilter, ...) that is otherwise out of a
function's reach, where most kernel privilege escalations of recent years were found. No Lambda
runtime needs one (AWS's own do not allow it: Chromium on Lambda runs with --no-sandbox), so
every way to make one fails with EPERM, while threads and subprocesses work as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

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
