"""Who is on the other end of a Runtime API connection, and whether it may stay.

Without a network namespace per environment, every Runtime API listens on 127.0.0.1 in the
host's network namespace, where any process on the machine can connect to any of them; with one
(network.py), only the processes in the environment's namespace can, and the check below still
holds inside it. A uid alone says little about the caller:
another server's environment, or any process on the host, may run as the same number. So a
connection is let in only when its socket was made under the environment's uid AND is held
right now by one of the environment's own processes: a descriptor in the fd table of a process
of that runtime's tree points at that very socket. A neighbour can copy a uid; it cannot put
its socket into our environment's fd table.

The socket is found with the kernel's sock_diag netlink interface, which answers for one exact
(address, port) pair with a hash lookup (about 15 µs). /proc/net/tcp, the fallback where
sock_diag is missing, walks every bucket of the connection table: 3.5 ms a read on the CI
machine with a single socket open, so only a fallback. Runtimes keep one connection open for
their whole life (awslambdaric, the Node.js client and ours all use keep-alive), so this is paid
once per connection, never per invocation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from dataclasses import dataclass

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
ALL_STATES = 0xFFFFFFFF
NO_COOKIE = 0xFFFFFFFF
_HEADER = struct.Struct("=IHHII")  # struct nlmsghdr
_REQUEST = struct.Struct("=BBBBI")  # struct inet_diag_req_v2, before its socket id
_LOOPBACK = socket.inet_aton("127.0.0.1") + bytes(12)
# struct inet_diag_msg: family, state, timer, retrans (4), inet_diag_sockid (48),
# expires, rqueue, wqueue (12), then uid and inode.
_OWNER = struct.Struct("=II")
_OWNER_AT = _HEADER.size + 4 + 48 + 12


@dataclass(frozen=True, slots=True)
class PeerSocket:
    """The connecting end of a loopback connection: the uid that made it, and its inode."""

    uid: int
    inode: int


def loopback_peer(
    port: int,
    server_port: int,
    diag: socket.socket | None = None,
    table: str = "/proc/net/tcp",
) -> PeerSocket | None:
    """The socket at 127.0.0.1:`port` connected to 127.0.0.1:`server_port`, if there is one.

    `diag` and `table` look in another network namespace (an environment's own): a sock_diag
    socket made in it, and a /proc/<pid>/net/tcp of a process in it.
    """
    try:
        return _sock_diag(port, server_port, diag)
    except OSError:
        return _proc_net_tcp(port, server_port, table)


def _sock_diag(port: int, server_port: int, diag: socket.socket | None) -> PeerSocket | None:
    # The lookup is "the socket whose own end is src:sport", i.e. the client's socket.
    socket_id = struct.pack(">HH", port, server_port) + _LOOPBACK + _LOOPBACK
    socket_id += struct.pack("=III", 0, NO_COOKIE, NO_COOKIE)
    request = _REQUEST.pack(socket.AF_INET, socket.IPPROTO_TCP, 0, 0, ALL_STATES) + socket_id
    header = _HEADER.pack(_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0)
    if diag is None:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as link:
            link.sendto(header + request, (0, 0))
            answer = link.recv(8192)
    else:
        diag.sendto(header + request, (0, 0))
        answer = diag.recv(8192)
    _, kind, _, _, _ = _HEADER.unpack_from(answer)
    if kind == NLMSG_ERROR:
        # ENOENT is both "no such connection" and "no TCP diag module in this kernel": the
        # fallback tells them apart (a connection being admitted is there, so this is rare).
        (error,) = struct.unpack_from("=i", answer, _HEADER.size)
        raise OSError(-error, "sock_diag")
    if kind != SOCK_DIAG_BY_FAMILY or len(answer) < _OWNER_AT + _OWNER.size:
        raise OSError("sock_diag: unexpected answer")
    uid, inode = _OWNER.unpack_from(answer, _OWNER_AT)
    return PeerSocket(uid, inode)


def _proc_net_tcp(port: int, server_port: int, table: str = "/proc/net/tcp") -> PeerSocket | None:
    # Matching both ends and the state skips sockets left in TIME_WAIT on the same port by
    # earlier connections (those show uid 0 and inode 0).
    local, remote = f"0100007F:{port:04X}", f"0100007F:{server_port:04X}"
    try:
        with open(table) as lines:
            for line in lines:
                fields = line.split()
                established = len(fields) > 9 and fields[3] == "01"
                if established and fields[1] == local and fields[2] == remote:
                    return PeerSocket(int(fields[7]), int(fields[9]))
    except OSError:
        return None
    return None


def holds(pid: int, inode: int) -> bool:
    """Whether process `pid` has the socket `inode` open.

    Raises PermissionError when this process may not look (reading another uid's descriptors
    takes root with CAP_SYS_PTRACE): that is a set-up problem to report, not a "no".
    """
    target = f"socket:[{inode}]"
    directory = f"/proc/{pid}/fd"
    try:
        names = os.listdir(directory)
    except PermissionError:
        raise
    except OSError:  # gone meanwhile
        return False
    for name in names:
        with contextlib.suppress(OSError):  # closed meanwhile
            if os.readlink(f"{directory}/{name}") == target:
                return True
    return False


def children(pid: int) -> list[int]:
    """The children of every thread of `pid` (a child belongs to the thread that forked it)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as file:
                found += [int(child) for child in file.read().split()]
    return found


def held_in_tree(root: int, inode: int) -> bool:
    """Whether `root` or any process under it has the socket `inode` open.

    A runtime's tree is its whole pid namespace: orphans are re-parented to its pid 1, which is
    the keeper's child, so nothing of the environment escapes the walk.
    """
    seen: set[int] = set()
    pending = [root]
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        if holds(pid, inode):
            return True
        pending += children(pid)
    return False


class RuntimePeers:
    """Who may talk to one runtime process's API: the processes it is made of, nobody else.

    Knows the uid the runtime runs as from the start, and the pid of its keeper (the root of its
    process tree, outside its pid namespace) once the zygote has said it. After the runtime has
    ended nobody is let in: its pids may be reused by anything.
    """

    def __init__(self, uid: int, diag: socket.socket | None = None) -> None:
        self.uid = uid
        # With a network namespace per environment, the runtime's sockets are in that namespace:
        # sock_diag is asked there (and its /proc/<keeper>/net/tcp is the fallback).
        self._diag = diag
        self._keeper: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._ended = False

    def spawned(self, keeper: int) -> None:
        if not self._keeper.done():
            self._keeper.set_result(keeper)

    def ended(self) -> None:
        self._ended = True
        self.spawned(0)

    async def admits(self, port: int, server_port: int) -> bool:
        if self._diag is None:
            peer = loopback_peer(port, server_port)
        else:
            keeper = await self._keeper
            table = f"/proc/{keeper}/net/tcp"
            peer = loopback_peer(port, server_port, self._diag, table)
        if peer is None or peer.uid != self.uid or self._ended:
            return False
        # Already known but in a race with the zygote's answer, when the loop was busy.
        keeper = await self._keeper
        if self._ended:
            return False
        # The usual holder, found in two small reads: the runtime's first process, right under
        # the keeper (AWS's runtime clients and ours are that process, or exec'ed from it).
        first = [keeper, *children(keeper)]
        if any(holds(pid, peer.inode) for pid in first):
            return True
        # Anything deeper (a bootstrap script that runs its runtime as a child): the whole tree,
        # off the event loop, since a function decides how many processes it has.
        return await asyncio.to_thread(held_in_tree, keeper, peer.inode)
