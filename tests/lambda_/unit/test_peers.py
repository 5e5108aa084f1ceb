"""Who holds the other end of a loopback connection (sandbox/peers.py), on real sockets."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from gureum.lambda_.sandbox import peers
from gureum.lambda_.sandbox.peers import PeerSocket, RuntimePeers, held_in_tree, loopback_peer

# A process that starts a child holding its stdin, then lets go of it: the socket two levels down.
NESTED = "import os, subprocess as s; child = s.Popen(['sleep', '60']); os.close(0); child.wait()"


@pytest.fixture
def connection() -> Iterator[tuple[socket.socket, int, int]]:
    """A connected client socket, its port and the server's port."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        try:
            yield client, client.getsockname()[1], listener.getsockname()[1]
        finally:
            client.close()
            accepted.close()


def _holding(client: socket.socket, nested: bool = False) -> subprocess.Popen[bytes]:
    """A process (or, nested, only its child) with the client socket as its stdin."""
    command = [sys.executable, "-c", NESTED] if nested else ["sleep", "60"]
    return subprocess.Popen(command, stdin=client.fileno())


def test_the_peer_is_the_connecting_socket(connection: tuple[socket.socket, int, int]) -> None:
    client, port, server_port = connection
    peer = loopback_peer(port, server_port)
    assert peer == PeerSocket(os.geteuid(), os.fstat(client.fileno()).st_ino)
    # The slow fallback reads the same from /proc/net/tcp.
    assert peers._proc_net_tcp(port, server_port) == peer


def test_no_such_connection_has_no_peer(connection: tuple[socket.socket, int, int]) -> None:
    _, port, server_port = connection
    assert loopback_peer(port, server_port + 1 if server_port < 65535 else 1) is None


def test_a_socket_is_found_anywhere_in_a_process_tree(
    connection: tuple[socket.socket, int, int],
) -> None:
    client, _, _ = connection
    inode = os.fstat(client.fileno()).st_ino
    nested = _holding(client, nested=True)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        deadline = 100
        while not held_in_tree(nested.pid, inode) and deadline:  # the grandchild is starting
            deadline -= 1
            subprocess.run(["sleep", "0.05"], check=True)
        assert held_in_tree(nested.pid, inode)
        assert not held_in_tree(bystander.pid, inode)
    finally:
        for process in (nested, bystander):
            process.kill()
            process.wait()


def test_a_runtime_admits_only_sockets_its_own_processes_hold(
    connection: tuple[socket.socket, int, int],
) -> None:
    client, port, server_port = connection
    runtime = _holding(client)
    stranger = subprocess.Popen(["sleep", "60"])

    async def admits(uid: int, keeper: int, ended: bool = False) -> bool:
        guard = RuntimePeers(uid)
        guard.spawned(keeper)
        if ended:
            guard.ended()
        return await guard.admits(port, server_port)

    try:
        uid = os.geteuid()
        assert asyncio.run(admits(uid, runtime.pid))
        assert not asyncio.run(admits(uid, stranger.pid))  # right uid, not its socket
        assert not asyncio.run(admits(uid + 1, runtime.pid))  # its socket, another uid
        assert not asyncio.run(admits(uid, runtime.pid, ended=True))  # pids may be reused
    finally:
        for process in (runtime, stranger):
            process.kill()
            process.wait()
