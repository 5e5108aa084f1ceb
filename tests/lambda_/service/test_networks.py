"""Network namespaces made ahead and handed out (issue #21, item 7): real namespaces, no server.

Each namespace handed out is new, has its own loopback with the Runtime API and the endpoint's
forward listening on it, carries a connection to the real endpoint, and is gone with its
descriptors; the pool is refilled by its loop and emptied at close.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import pytest

from gureum.lambda_.sandbox.network import READY, NetworkNamespace, Networks
from gureum.lambda_.sandbox.outside import Outside

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

CLONE_NEWNET = 0x40000000
T = TypeVar("T")


@asynccontextmanager
async def echo_endpoint() -> AsyncIterator[int]:
    """An 'endpoint' on the host's loopback that answers each line with the line upper-cased."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def inside(namespace: NetworkNamespace, work: Callable[[], T]) -> T:
    """Runs `work` on a thread that has joined `namespace` (and ends with it)."""
    result: list[T] = []

    def run() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.setns(namespace.fd, CLONE_NEWNET) == 0, os.strerror(ctypes.get_errno())
        result.append(work())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0]


def ask(port: int, line: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
        connection.sendall(line)
        return connection.recv(64)


def test_a_namespace_forwards_to_the_endpoint_and_nothing_else() -> None:
    asyncio.run(_forwards())


async def _forwards() -> None:
    async with echo_endpoint() as port:
        networks = Networks(f"http://127.0.0.1:{port}", isolated=True)
        networks.start()
        namespace = await networks.open()
        try:
            assert os.fstat(namespace.fd).st_ino != os.stat("/proc/self/ns/net").st_ino
            assert namespace.runtime_api.getsockname()[:2] == ("127.0.0.1", 9001)
            # A connection made inside reaches the host's endpoint through the forward.
            answered = asyncio.to_thread(inside, namespace, lambda: ask(port, b"hello\n"))
            assert await answered == b"HELLO\n"

            def host_loopback() -> str:
                try:
                    ask(port + 1 if port < 65535 else 1, b"x\n")
                except OSError as error:
                    return type(error).__name__
                return "reached"

            assert await asyncio.to_thread(inside, namespace, host_loopback) == (
                "ConnectionRefusedError"
            )
        finally:
            namespace.close()
            networks.close()


def test_the_pool_is_refilled_and_every_namespace_is_new() -> None:
    asyncio.run(_refilled())


async def _refilled() -> None:
    networks = Networks("http://127.0.0.1:4566", isolated=True)
    networks.start()
    refill = asyncio.create_task(networks.refill())
    taken: list[NetworkNamespace] = []
    try:
        for _ in range(READY + 2):  # more than the pool holds: the last ones are made on the spot
            taken.append(await networks.open())
        identities = {os.fstat(namespace.fd).st_ino for namespace in taken}
        assert len(identities) == len(taken)
        for _ in range(200):
            if networks.ready == READY:
                break
            await asyncio.sleep(0.01)
        assert networks.ready == READY
    finally:
        refill.cancel()
        await asyncio.gather(refill, return_exceptions=True)
        for namespace in taken:
            namespace.close()
        networks.close()
    assert networks.ready == 0
    assert all(namespace.fd == -1 for namespace in taken)


def test_a_server_on_another_host_address_is_at_that_address_inside() -> None:
    async def opened() -> tuple[str, int]:
        networks = Networks("http://192.0.2.7:8080", isolated=True)
        networks.start()
        namespace = await networks.open()
        try:
            address: tuple[str, int] = namespace.endpoint.getsockname()
            return address
        finally:
            namespace.close()
            networks.close()

    assert asyncio.run(opened()) == ("192.0.2.7", 8080)


def test_without_nftables_namespaces_have_no_outside_network_and_say_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no `nft`: as on a bare host

    async def opened() -> tuple[dict[str, object], bool, str | None]:
        networks = Networks("http://127.0.0.1:4566", isolated=True, outside=Outside())
        networks.start()
        namespace = await networks.open()
        try:
            return networks.describe(), namespace.link is None, networks.caveat()
        finally:
            namespace.close()
            networks.close()

    described, unlinked, caveat = asyncio.run(opened())
    assert unlinked
    assert described["isolated"] is True
    assert described["outside"] is False
    assert "NO outside network (nftables (nft) is not installed)" in str(described["reason"])
    if networks_host_has_outside():  # then the start-up log warns of it
        assert caveat is not None
        assert caveat.startswith("functions have NO outside network, though this host has one")


def networks_host_has_outside() -> bool:
    return Networks("http://127.0.0.1:4566", isolated=True).host_has_outside
