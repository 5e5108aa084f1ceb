"""A network namespace of a test's own, joined to the host by a veth pair, that a test can cut.

The namespace holds one end of the pair (`inside`, address `.2` of a /30), the host the other
(`host`, `.1`); each side's connected route is all either needs. Names and the /30 derive from
the test process's pid (xdist workers run side by side). `cut` blackholes the pair: packets
arriving on either end are dropped (nftables, on the input hook of the receiving side), so
senders see nothing go wrong, no reset, no unreachable, as when a host drops off the network.
`cut(port)` drops only TCP to and from that port of the namespace. `remove` undoes everything.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess

_made = itertools.count()


def unavailable() -> str | None:
    """Why this machine cannot make one (None: it can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("nft") is None:
        return "no `ip` or `nft` on this machine (iproute2, nftables)"
    return None


def _run(*command: str, given: str | None = None) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=10, input=given, text=True)


class CutNetwork:
    def __init__(self) -> None:
        pid, n = os.getpid(), next(_made)
        tag = f"{pid % 1_000_000}{n}"
        self.name = f"gnc{tag}"
        self.host = f"gnh{tag}"  # interface names: at most 15 characters
        self.inside = f"gni{tag}"
        block = (pid * 8 + n) % (1 << 14)  # a /30 of 10.201.0.0/16
        base = f"10.201.{block >> 6}.{(block & 63) * 4}"
        prefix = base.rpartition(".")[0]
        last = int(base.rpartition(".")[2])
        self.network = f"{base}/30"
        self.host_address = f"{prefix}.{last + 1}"
        self.address = f"{prefix}.{last + 2}"
        self._created = False

    def create(self) -> CutNetwork:
        self._created = True
        _run("ip", "netns", "add", self.name)
        _run("ip", "link", "add", self.host, "type", "veth", "peer", "name", self.inside)
        _run("ip", "link", "set", self.inside, "netns", self.name)
        _run("ip", "addr", "add", f"{self.host_address}/30", "dev", self.host)
        _run("ip", "link", "set", self.host, "up")
        inside = ("ip", "netns", "exec", self.name)
        _run(*inside, "ip", "addr", "add", f"{self.address}/30", "dev", self.inside)
        _run(*inside, "ip", "link", "set", self.inside, "up")
        _run(*inside, "ip", "link", "set", "lo", "up")
        return self

    @property
    def prefix(self) -> tuple[str, ...]:
        """What runs a command inside the namespace."""
        return ("ip", "netns", "exec", self.name)

    def cut(self, port: int | None = None) -> None:
        """Drops what arrives on either end: everything, or TCP of the namespace's `port`."""
        inside = f"tcp dport {port} " if port is not None else ""
        outside = f"tcp sport {port} " if port is not None else ""
        self._drop(self.prefix, self.inside, inside)
        self._drop((), self.host, outside)

    def _drop(self, where: tuple[str, ...], interface: str, match: str) -> None:
        rules = (
            f"table inet {self.name} {{\n chain input {{\n"
            f"  type filter hook input priority -10;\n"
            f'  iifname "{interface}" {match}drop\n }}\n}}\n'
        )
        _run(*where, "nft", "-f", "-", given=rules)

    def restore(self) -> None:
        """Takes the cut back (there may be none)."""
        for where in (self.prefix, ()):
            subprocess.run(
                [*where, "nft", "delete", "table", "inet", self.name],
                capture_output=True,
                timeout=10,
                check=False,
            )

    def remove(self) -> None:
        """Everything made, gone (whatever state it is in: a finalizer calls it)."""
        if not self._created:
            return
        self.restore()
        for command in (("ip", "link", "delete", self.host), ("ip", "netns", "delete", self.name)):
            subprocess.run(command, capture_output=True, timeout=10, check=False)
