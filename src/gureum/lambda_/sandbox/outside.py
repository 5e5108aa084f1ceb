"""The outside network for environments' namespaces: a veth pair each, NAT'ed by the host.

Where the host has a default route and nftables (`nft`), each environment's namespace gets an
`eth0`, one end of a veth pair whose other end (`gu<slot>`) is on the host, with a /31 of its own
from RANGE and a default route through the host, which masquerades it. The slot (and with it the
addresses and the interface's name) is leased host-wide like uids (uids.py), so two servers on
one host never share one. One nftables table, `inet gureum`, the same for every server, keeps
what an environment may reach to the outside only:

    input    from gu*: refused (not the host's own services, on any of its addresses)
    forward  gu* to gu*: refused (not another environment, of this server or another);
             to gu*: only replies; from gu*: out, masqueraded behind the host's address

Every start replaces the table in one transaction (the sweep of whatever an earlier run left);
it matches only gureum's interfaces and RANGE, so it stays harmless when no gureum runs. A veth
dies with its namespace, so a server killed with -9 leaves none. IPv4 forwarding is turned on
(as Docker does), and the start-up log says so.

Where any of this is missing, environments have no outside network, and gureum says why.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gureum.lambda_.sandbox import rtnetlink
from gureum.lambda_.sandbox.uids import UidLease, UidLeases

log = logging.getLogger("gureum.network")

RANGE = ipaddress.IPv4Network("100.72.0.0/18")  # shared address space (RFC 6598), 8192 /31s
LEASE_DIR = Path("/run/gureum/links")
FORWARDING = Path("/proc/sys/net/ipv4/ip_forward")

RULES = f"""\
table inet gureum
delete table inet gureum
table inet gureum {{
    chain input {{
        type filter hook input priority filter; policy accept;
        iifname "gu*" meta l4proto tcp reject with tcp reset
        iifname "gu*" reject with icmpx type admin-prohibited
    }}
    chain forward {{
        type filter hook forward priority filter; policy accept;
        iifname "gu*" oifname "gu*" reject with icmpx type admin-prohibited
        oifname "gu*" ct state established,related accept
        oifname "gu*" drop
    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr {RANGE} oifname != "gu*" masquerade
    }}
}}
"""


@dataclass(frozen=True, slots=True)
class Link:
    """One environment's way out: its interface on the host and its two addresses."""

    lease: UidLease
    host_name: str
    host_address: str
    address: str


class Outside:
    """Whether environments get the outside network, and the links that give it to them."""

    def __init__(self) -> None:
        self.available = False
        self.reason = "not set up yet"
        self.caveat: str | None = None  # what works, but not entirely, said at start-up
        self._slots: UidLeases | None = None

    def start(self) -> None:
        """Installs the rules and turns forwarding on, or says why environments get none."""
        reason = self._unavailable()
        if reason is None:
            try:
                self._slots = UidLeases(LEASE_DIR, first=0, count=RANGE.num_addresses // 2)
                subprocess.run(
                    ["nft", "-f", "-"],
                    input=RULES,
                    text=True,
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
                if FORWARDING.read_text().strip() != "1":
                    FORWARDING.write_text("1")
                    log.warning("turned on IPv4 forwarding (%s) for functions' NAT", FORWARDING)
            except (OSError, subprocess.SubprocessError) as exc:
                detail = getattr(exc, "stderr", "") or exc
                reason = f"the NAT rules could not be installed: {detail}".strip()
        if reason is not None:
            self.available, self.reason = False, reason
            return
        self.available = True
        self.reason = f"through the host, masqueraded, from {RANGE}"
        resolvers = _resolvers()
        if resolvers and all(ipaddress.ip_address(r).is_loopback for r in resolvers):
            # systemd-resolved's 127.0.0.53, say: inside, that is the namespace's own loopback.
            self.caveat = (
                "functions cannot resolve names: the host's resolver "
                f"({', '.join(resolvers)}, from /etc/resolv.conf, which functions see) is on its "
                "loopback, out of their reach (give the host a resolver functions can reach)"
            )
            self.reason += f"; {self.caveat}"

    @staticmethod
    def _unavailable() -> str | None:
        if shutil.which("nft") is None:
            return "nftables (nft) is not installed"
        routes = _host_routes()
        if not any(route.prefixlen == 0 for route in routes):
            return "this host has no default route"
        clash = [str(r) for r in routes if r.prefixlen and r.overlaps(RANGE)]
        if clash:
            return f"{RANGE} is already routed on this host ({', '.join(clash)})"
        return None

    # --- per namespace (on the thread that made it, see network.py) --------------------------

    def lease(self) -> Link | None:
        if not self.available or self._slots is None:
            return None
        lease = self._slots.acquire()  # a uid lease's number, used as a slot number
        if lease is None:
            return None
        base = int(RANGE.network_address) + 2 * lease.uid
        return Link(
            lease,
            f"gu{lease.uid:05x}",
            str(ipaddress.IPv4Address(base)),
            str(ipaddress.IPv4Address(base + 1)),
        )

    @staticmethod
    def connect_inside(link: Link, server_pid: int) -> None:
        """Run inside the new namespace: makes the pair, its end inside, the default route."""
        rtnetlink.add_veth("eth0", link.host_name, server_pid)
        rtnetlink.add_address("eth0", link.address, 31)
        rtnetlink.set_up("eth0")
        rtnetlink.add_default_route(link.host_address, "eth0")

    @staticmethod
    def connect_host(link: Link) -> None:
        """Run in the host's namespace: the host's end of the pair."""
        rtnetlink.add_address(link.host_name, link.host_address, 31)
        rtnetlink.set_up(link.host_name)


def _resolvers() -> list[str]:
    """The name servers of /etc/resolv.conf (the file functions see too)."""
    found = []
    with contextlib.suppress(OSError), open("/etc/resolv.conf") as conf:
        for line in conf:
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "nameserver":
                with contextlib.suppress(ValueError):
                    found.append(str(ipaddress.ip_address(fields[1].split("%")[0])))
    return found


def _host_routes() -> list[ipaddress.IPv4Network]:
    """The host's IPv4 routes, but those of environments' links (another server's, say)."""
    routes = []
    try:
        with open("/proc/net/route") as table:
            for line in list(table)[1:]:
                fields = line.split()
                if fields[0].startswith("gu"):
                    continue
                destination = ipaddress.IPv4Address(bytes.fromhex(fields[1])[::-1])
                mask = ipaddress.IPv4Address(bytes.fromhex(fields[7])[::-1])
                routes.append(ipaddress.IPv4Network(f"{destination}/{mask}", strict=False))
    except (OSError, ValueError, IndexError):
        return []
    return routes
