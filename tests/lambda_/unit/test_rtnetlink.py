"""The rtnetlink requests an environment's way out is made with, in a network namespace made
for the test (root only) and dropped with it."""

from __future__ import annotations

import concurrent.futures
import ctypes
import errno
import os
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

from gureum.lambda_.sandbox import rtnetlink

T = TypeVar("T")
CLONE_NEWNET = 0x40000000

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


def _unshare() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")


def in_new_namespace(work: Callable[[int], T]) -> T:
    """`work` on a thread of its own in a new network namespace, which ends with the thread;
    it is given a thread id whose namespace is another new one (the host's, as a server's)."""
    result: concurrent.futures.Future[T] = concurrent.futures.Future()
    other: concurrent.futures.Future[int] = concurrent.futures.Future()
    done = threading.Event()

    def hold() -> None:
        try:
            _unshare()
            other.set_result(threading.get_native_id())
        except BaseException as exc:
            other.set_exception(exc)
        done.wait()

    def run() -> None:
        try:
            _unshare()
            result.set_result(work(other.result()))
        except BaseException as exc:
            result.set_exception(exc)

    threads = [threading.Thread(target=hold), threading.Thread(target=run)]
    for thread in threads:
        thread.start()
    threads[1].join()
    done.set()
    threads[0].join()
    return result.result()


def routes() -> list[list[str]]:
    with open("/proc/thread-self/net/route") as table:
        return [line.split() for line in list(table)[1:]]


def test_a_pair_with_addresses_and_a_default_route() -> None:
    def made(other: int) -> list[list[str]]:
        rtnetlink.add_veth("eth0", "peer0", other)  # its peer in the other namespace
        rtnetlink.add_address("eth0", "10.201.0.0", 31)
        rtnetlink.set_up("eth0")
        rtnetlink.add_default_route("10.201.0.1", "eth0")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("10.201.0.0", 0))  # only an address of this namespace binds
        with pytest.raises(OSError, match="interface"):
            socket.if_nametoindex("peer0")  # not here
        return routes()

    table = in_new_namespace(made)
    default = [r for r in table if r[1] == "00000000" and r[7] == "00000000"]
    assert [(r[0], socket.inet_ntoa(bytes.fromhex(r[2])[::-1])) for r in default] == [
        ("eth0", "10.201.0.1")
    ]


def test_a_refusal_is_the_kernels_error() -> None:
    def twice(other: int) -> None:
        rtnetlink.add_veth("eth0", "peer0", other)
        rtnetlink.add_veth("eth0", "peer1", other)

    with pytest.raises(OSError, match=os.strerror(errno.EEXIST)) as raised:
        in_new_namespace(twice)
    assert raised.value.errno == errno.EEXIST


def test_a_device_that_is_not_there() -> None:
    with pytest.raises(OSError, match="interface"):
        in_new_namespace(lambda other: rtnetlink.add_address("nothere0", "10.201.0.0", 31))
