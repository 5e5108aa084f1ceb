"""Each execution environment's network: a namespace of its own, holding only what Lambda gives.

With isolation, every environment runs in a network namespace made for it. Inside, 127.0.0.1
is the namespace's own loopback, and on it two listening sockets that gureum made before any
function code ran, and that it serves from the host's side:

    127.0.0.1:9001           the environment's Runtime API (AWS_LAMBDA_RUNTIME_API, as on AWS)
    <endpoint host>:<port>   gureum's endpoint (AWS_ENDPOINT_URL, the very URL the host uses),
                             each connection forwarded to the server's real listener

A socket belongs to the namespace it was made in, whoever uses it afterwards: the server holds
these listeners (and a sock_diag socket for the Runtime API's peer check) and serves them from
its event loop, while only the environment's processes can connect to them. Nothing else is
reachable: not the host's loopback services, not another environment (each has its own
namespace; the host refuses to route between their links), not the data directory (the private
root hides it).

The outside network, where the host has one and nftables, comes through a veth pair per
namespace, masqueraded by the host (outside.py); where not, functions have none, and gureum says
so at start-up and in its health endpoint.

Cost, measured on the 2-core CI machine: 0.6-0.7 ms to make a namespace, bring its loopback up
and open its sockets (in a thread of its own, see `_in_own_thread`) on a quiet machine, but a
median of 1 ms and a 90th percentile of 4-5 ms under load; a link to the outside took 8 ms
more while two runs of `ip` made it, and now a few rtnetlink requests (rtnetlink.py); 20 µs to
close one. So namespaces are pooled, as /tmp disks are (scratch.py): READY of them made ahead by
`refill`, a loop the app owns and cancels; a cold start takes a ready one, and makes its own
only when a burst has emptied the pool. A namespace is never reused: the next environment must
not find the last one's sockets. Namespaces live only through the descriptors the server holds,
and a veth dies with its namespace: a server killed with -9 leaves neither behind (its NAT rules
are replaced at the next start, outside.py).

Without isolation (`--isolation none`, or not root) functions share the host's network, the
server's loopback included, and gureum says that too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import fcntl
import ipaddress
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from gureum.lambda_.sandbox.outside import Link, Outside

log = logging.getLogger("gureum.network")

CLONE_NEWNET = 0x40000000
NETLINK_SOCK_DIAG = 4
SIOCGIFFLAGS, SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFNETMASK = 0x8913, 0x8914, 0x8916, 0x891C
IFF_UP = 1
RUNTIME_API_PORT = 9001  # AWS's own: AWS_LAMBDA_RUNTIME_API is 127.0.0.1:9001 in Lambda
BACKLOG = 64
READY = 4  # namespaces made ahead: a burst of cold starts beyond it makes its own
FORWARD_CHUNK = 1 << 16

_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")


class NetworkError(Exception):
    pass


@dataclass(eq=False, slots=True)
class NetworkNamespace:
    """One environment's namespace and the server's sockets inside it.

    `fd` keeps the namespace alive until `close` (or the server's death) and is what the
    environment's keeper joins; `runtime_api` and `endpoint` listen inside it; `diag` asks the
    namespace's sock_diag who is at the other end of a Runtime API connection.
    """

    fd: int
    runtime_api: socket.socket
    endpoint: socket.socket
    diag: socket.socket
    forward: asyncio.Server | None = None
    link: Link | None = None  # its way out, when the host gives one

    def close(self) -> None:
        if self.forward is not None:
            self.forward.close()
            self.forward = None
        for sock in (self.runtime_api, self.endpoint, self.diag):
            sock.close()
        if self.fd >= 0:
            os.close(self.fd)  # the last reference, once its processes are gone: its veth goes
            self.fd = -1
        if self.link is not None:
            self.link.lease.release()
            self.link = None


@dataclass(frozen=True, slots=True)
class NetworkPlan:
    """Where the endpoint is, on the host and (the same address) inside every namespace."""

    endpoint_host: str
    endpoint_port: int

    @classmethod
    def for_endpoint(cls, endpoint: str) -> NetworkPlan:
        parts = urlsplit(endpoint)
        host = parts.hostname or "127.0.0.1"
        try:
            ipaddress.ip_address(host)
        except ValueError:  # a name: listen where it points (the function resolves it itself)
            host = socket.gethostbyname(host)
        return cls(host, parts.port or 80)

    @property
    def runtime_api_port(self) -> int:
        return RUNTIME_API_PORT if self.endpoint_port != RUNTIME_API_PORT else RUNTIME_API_PORT + 1


class Networks:
    """Makes and forwards environments' network namespaces; reports what functions can reach.

    Event loop only (the namespaces are made in threads of their own). `isolated` is False when
    functions run as plain processes: then `open` is never called and they share the host's.
    """

    def __init__(self, endpoint: str, isolated: bool, outside: Outside | None = None) -> None:
        self._plan = NetworkPlan.for_endpoint(endpoint)
        self.isolated = isolated
        self._endpoint = endpoint
        self._outside = outside
        self._ready: list[NetworkNamespace] = []
        self._wanted = asyncio.Event()
        self._shared = (
            "functions share the host's network: every service on the host's loopback "
            "(gureum's data and other servers included), other environments' listeners, and "
            "the outside network"
        )
        self._reason = self._shared

    @property
    def outside(self) -> bool:
        return not self.isolated or (self._outside is not None and self._outside.available)

    def _isolated_reason(self) -> str:
        inside = (
            "a network namespace per environment: the Runtime API at "
            f"127.0.0.1:{self._plan.runtime_api_port} and gureum's endpoint at {self._endpoint} "
            "on its own loopback; "
        )
        if self._outside is not None and self._outside.available:
            return inside + f"the outside network {self._outside.reason}"
        why = self._outside.reason if self._outside is not None else "not asked for"
        return inside + f"NO outside network ({why})"

    @property
    def host_has_outside(self) -> bool:
        """Whether the host has a default route, i.e. an outside network functions lack."""
        with contextlib.suppress(OSError), open("/proc/net/route") as routes:
            return any(line.split()[1:2] == ["00000000"] for line in list(routes)[1:])
        return False

    def caveat(self) -> str | None:
        """What the start-up log must warn about, with isolation; None when nothing."""
        if not self.isolated:
            return None
        if not self.outside and self.host_has_outside:
            return f"functions have NO outside network, though this host has one: {self._reason}"
        return self._outside.caveat if self._outside is not None else None

    def describe(self) -> dict[str, object]:
        return {
            "isolated": self.isolated,
            "outside": self.outside,
            "hostLoopback": not self.isolated,
            "reason": self._reason,
        }

    @property
    def ready(self) -> int:
        """How many namespaces are made ahead, waiting for an environment."""
        return len(self._ready)

    def start(self) -> None:
        """Makes the first namespace now, to prove this machine can, and asks `refill` for the
        rest. A machine that refuses (a container without the right to make network namespaces)
        gets functions on the host's network, and the reason in `describe`."""
        if not self.isolated:
            return
        if self._outside is not None:
            self._outside.start()
        try:
            self._ready.append(_in_own_thread(self._build).result())
        except (OSError, NetworkError) as exc:
            self.isolated = False
            self._reason = f"a network namespace could not be made ({exc}): {self._shared}"
            return
        self._reason = self._isolated_reason()
        self._wanted.set()

    def _build(self) -> NetworkNamespace:
        """A furnished namespace and, where the host gives one, its way out (on its own
        thread: see `_in_own_thread`)."""
        link = self._outside.lease() if self._outside is not None else None
        try:
            namespace = _made_in_new_namespace(lambda: _furnish(self._plan, link))
        except BaseException as exc:
            if link is not None:
                link.lease.release()
                if isinstance(exc, OSError):
                    raise NetworkError(f"a link for the namespace: {exc}") from exc
            raise
        if link is None:
            return namespace
        try:
            Outside.connect_host(link)
        except OSError as exc:
            namespace.close()
            raise NetworkError(f"the host's end of {link.host_name}: {exc}") from exc
        namespace.link = link
        return namespace

    async def refill(self) -> None:
        """Keeps READY namespaces ready, until cancelled."""
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            while len(self._ready) < READY:
                try:
                    self._ready.append(await self._make())
                except (OSError, NetworkError) as exc:  # takers make their own meanwhile
                    log.warning("could not make a network namespace ahead: %s", exc)
                    break

    def close(self) -> None:
        """Closes the ready namespaces (environments close the ones they took)."""
        for namespace in self._ready:
            namespace.close()
        self._ready.clear()

    async def _make(self) -> NetworkNamespace:
        """A namespace made on a thread of its own; one made after the caller is cancelled is
        closed, not leaked."""
        made = asyncio.wrap_future(_in_own_thread(self._build))
        try:
            namespace = await asyncio.shield(made)
        except asyncio.CancelledError:
            await asyncio.wait({made})
            if not made.cancelled() and made.exception() is None:
                made.result().close()
            raise
        try:
            await self._serve(namespace)
        except BaseException:
            namespace.close()
            raise
        return namespace

    async def _serve(self, namespace: NetworkNamespace) -> None:
        """Starts forwarding the namespace's endpoint listener (nobody connects before it has
        an environment: nobody else is in it)."""
        if namespace.forward is None:
            namespace.forward = await asyncio.start_server(
                self._forward_one, sock=namespace.endpoint
            )

    async def open(self) -> NetworkNamespace:
        """A new namespace (a ready one when the pool has one), its endpoint forward served."""
        self._wanted.set()
        if self._ready:
            namespace = self._ready.pop()
        else:
            log.debug("no ready network namespace: making one on the cold-start path")
            namespace = await self._make()
        try:
            await self._serve(namespace)  # the first one, made by `start`, is not served yet
        except BaseException:
            namespace.close()
            raise
        return namespace

    async def _forward_one(self, inside: asyncio.StreamReader, back: asyncio.StreamWriter) -> None:
        """Carries one of a function's connections to gureum's endpoint, both ways."""
        try:
            reader, writer = await asyncio.open_connection(
                self._plan.endpoint_host, self._plan.endpoint_port
            )
        except OSError as exc:
            log.warning("a function's connection to the endpoint could not be forwarded: %s", exc)
            back.close()
            return
        try:
            await asyncio.gather(_pipe(inside, writer), _pipe(reader, back))
        finally:
            for stream in (writer, back):
                stream.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(FORWARD_CHUNK):
            sink.write(chunk)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except OSError:
        sink.close()


def _in_own_thread(work: Callable[[], T]) -> concurrent.futures.Future[T]:
    """Runs `work` (which enters a new namespace) on a thread that ends with it.

    unshare(CLONE_NEWNET) moves only the calling thread; a thread of its own (rather than one of
    a pool, which would run other work afterwards) can never be left in the wrong namespace.
    """
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name="gureum-netns", daemon=True).start()
    return future


def _made_in_new_namespace(work: Callable[[], T]) -> T:
    """Calls `work` inside a new network namespace on this thread, then comes back."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        try:
            return work()
        finally:
            _check(_libc.setns(home, CLONE_NEWNET), "setns back to the host's network")
    finally:
        os.close(home)


def _furnish(plan: NetworkPlan, link: Link | None) -> NetworkNamespace:
    """Brings the current namespace's loopback up, opens the server's sockets in it, and makes
    its end of `link` (processes started from this thread are made in this namespace)."""
    fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    opened: list[socket.socket] = []
    try:
        _loopback_up(plan.endpoint_host)
        runtime_api = _listener("127.0.0.1", plan.runtime_api_port)
        opened.append(runtime_api)
        endpoint = _listener(plan.endpoint_host, plan.endpoint_port)
        opened.append(endpoint)
        diag = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
        opened.append(diag)
        if link is not None:
            Outside.connect_inside(link, os.getpid())
    except BaseException:
        for sock in opened:
            sock.close()
        os.close(fd)
        raise
    return NetworkNamespace(fd, runtime_api, endpoint, diag)


def _loopback_up(endpoint_host: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        (flags,) = struct.unpack_from("H", fcntl.ioctl(sock, SIOCGIFFLAGS, request), 16)
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
        address = ipaddress.ip_address(endpoint_host)
        if address.version == 4 and not address.is_loopback:
            # A server on another of the host's addresses: that address, on the namespace's
            # loopback, so that the endpoint URL means the same inside as outside.
            for code, value in ((SIOCSIFADDR, address.packed), (SIOCSIFNETMASK, b"\xff" * 4)):
                sockaddr = struct.pack("=H2x4s8x", socket.AF_INET, value)
                fcntl.ioctl(sock, code, struct.pack("16s16s", b"lo:1", sockaddr))


def _listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise NetworkError(f"{what}: {os.strerror(errno)}")


def connect_inside(namespace: NetworkNamespace | None, port: int) -> socket.socket:
    """A connection to 127.0.0.1:`port` inside the namespace (the host's own loopback for
    None): made on a thread of its own that joins the namespace for the connect alone (a
    socket stays in the namespace it was made in). Blocking: call it from a worker."""
    if namespace is None:
        return socket.create_connection(("127.0.0.1", port), timeout=5)

    def work() -> socket.socket:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.setns(namespace.fd, CLONE_NEWNET), "setns into an environment's network")
            try:
                return socket.create_connection(("127.0.0.1", port), timeout=5)
            finally:
                _check(_libc.setns(home, CLONE_NEWNET), "setns back to the host's network")
        finally:
            os.close(home)

    return _in_own_thread(work).result()
