"""The few rtnetlink requests an environment's way out needs (outside.py), made in-process.

Each environment's network namespace gets one veth pair: its end is `eth0` with an address and a
default route, the host's end an address. `ip -batch` did this in two processes per namespace,
about 4 ms of CPU of the 20-30 a cold start costs in all on two cores; these requests cost a few
system calls. pyroute2 would do it too, but takes 150 ms to import, paid by every server start.

Each request is sent on a socket of the calling thread's network namespace (the one it is made
in) and waits for the kernel's acknowledgement; a refusal raises OSError with the kernel's errno.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import socket
import struct

NLMSG_ERROR = 2
RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 20, 24
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFLA_IFNAME, IFLA_LINKINFO, IFLA_NET_NS_PID = 3, 18, 19
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_OIF, RTA_GATEWAY = 4, 5
IFF_UP = 0x1
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, RTNH_F_ONLINK = 254, 3, 0, 1, 4

_HEADER = struct.Struct("=IHHII")  # struct nlmsghdr
_IFINFO = struct.Struct("=BxHiII")  # struct ifinfomsg
_IFADDR = struct.Struct("=BBBBI")  # struct ifaddrmsg
_RTMSG = struct.Struct("=BBBBBBBBI")  # struct rtmsg
_ATTR = struct.Struct("=HH")  # struct rtattr
_sequence = itertools.count(1)


def _attr(kind: int, payload: bytes) -> bytes:
    length = _ATTR.size + len(payload)
    return _ATTR.pack(length, kind) + payload + b"\0" * (-length % 4)


def _name(name: str) -> bytes:
    return name.encode() + b"\0"


def _request(kind: int, flags: int, body: bytes) -> None:
    """Sends one request and waits for its acknowledgement."""
    sequence = next(_sequence)
    message = (
        _HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, sequence, 0)
        + body
    )
    with socket.socket(
        socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE
    ) as sock:
        sock.settimeout(10)
        sock.send(message)
        while True:
            answer = sock.recv(65536)
            offset = 0
            while offset + _HEADER.size <= len(answer):
                length, answer_kind, _, answer_sequence, _ = _HEADER.unpack_from(answer, offset)
                if answer_kind == NLMSG_ERROR and answer_sequence == sequence:
                    (code,) = struct.unpack_from("=i", answer, offset + _HEADER.size)
                    if code:
                        raise OSError(-code, os.strerror(-code))
                    return
                offset += max(length + (-length % 4), _HEADER.size)


def add_veth(name: str, peer: str, peer_namespace_pid: int) -> None:
    """A veth pair: `name` here, `peer` in the network namespace of process `peer_namespace_pid`."""
    peer_info = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    peer_info += _attr(IFLA_IFNAME, _name(peer))
    peer_info += _attr(IFLA_NET_NS_PID, struct.pack("=I", peer_namespace_pid))
    data = _attr(VETH_INFO_PEER, peer_info)
    link_info = _attr(IFLA_INFO_KIND, b"veth") + _attr(IFLA_INFO_DATA, data)
    body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    body += _attr(IFLA_IFNAME, _name(name)) + _attr(IFLA_LINKINFO, link_info)
    _request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)


def add_address(device: str, address: str, prefix: int) -> None:
    """`address`/`prefix` (IPv4) on `device`."""
    packed = ipaddress.IPv4Address(address).packed
    body = _IFADDR.pack(socket.AF_INET, prefix, 0, RT_SCOPE_UNIVERSE, socket.if_nametoindex(device))
    body += _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed)
    _request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)


def set_up(device: str) -> None:
    index = socket.if_nametoindex(device)
    _request(RTM_NEWLINK, 0, _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP))


def add_default_route(gateway: str, device: str) -> None:
    """The default route through `gateway` on `device`, the gateway taken as on its link
    (onlink: it is the other end of a /31, reachable whatever the route table says)."""
    body = _RTMSG.pack(
        socket.AF_INET,
        0,
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_BOOT,
        RT_SCOPE_UNIVERSE,
        RTN_UNICAST,
        RTNH_F_ONLINK,
    )
    body += _attr(RTA_GATEWAY, ipaddress.IPv4Address(gateway).packed)
    body += _attr(RTA_OIF, struct.pack("=I", socket.if_nametoindex(device)))
    _request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body)
