"""Whether a client's interface reaches a server's on a TCP port, from the network model alone:
nothing routes packets, so this is the answer a packet would find.

Within one VPC the local route carries everything and only the security groups decide
(`rules.allows`). Between two VPCs (of one account or two) the traffic needs an active peering
connection between them and a route each way: the client's route table must send the server's
address to that connection, and the server's route table must send the client's back (security
groups are stateful, route tables are not). A route table answers with its most specific route
that covers the destination (https://docs.aws.amazon.com/vpc/latest/userguide/
how-route-tables-work.html#route-tables-priority). Subnets here use their VPC's main route table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import ip_network

from gureum.ec2.domain.network import Network, Route, SecurityGroup, Subnet
from gureum.ec2.domain.peering import VpcPeering
from gureum.ec2.domain.rules import NFS_PORT, allows

PEERING_TARGET = "VpcPeeringConnectionId"


@dataclass(frozen=True, slots=True)
class Interface:
    """One end: its account, subnet and security groups, and its address (or, when the exact
    address is not known, a block such as its subnet's, all of which must be covered)."""

    account: str
    subnet: Subnet
    groups: Sequence[SecurityGroup]
    address: str


def route_for(network: Network, subnet: Subnet, destination: str) -> Route | None:
    """The route the subnet's traffic to `destination` (an address or a block) takes: the most
    specific route of its VPC's main route table covering all of it; None when none does."""
    wanted = ip_network(destination, strict=False)
    tables = [t for t in network.route_tables_of(subnet.vpc_id) if t.main]
    best: Route | None = None
    for table in tables:
        for route in table.routes:
            block = ip_network(route.destination, strict=False)
            if block.version != wanted.version or not wanted.subnet_of(block):  # type: ignore[arg-type]
                continue
            if best is None or block.prefixlen > ip_network(best.destination).prefixlen:
                best = route
    return best


def _peered_by(
    route: Route | None, peerings: Iterable[VpcPeering], here: Interface, there: Interface
) -> bool:
    """Whether `route` sends traffic through an active connection between the two VPCs."""
    if route is None or route.target_kind != PEERING_TARGET:
        return False
    for peering in peerings:
        if peering.id != route.target or not peering.is_active:
            continue
        other = peering.side_of(here.account, here.subnet.vpc_id)
        if other is not None and (other.account, other.vpc_id) == (
            there.account,
            there.subnet.vpc_id,
        ):
            return True
    return False


def reaches(
    client: Interface,
    client_network: Network,
    server: Interface,
    server_network: Network,
    peerings: Iterable[VpcPeering],
    port: int = NFS_PORT,
) -> bool:
    """Whether `client` may open TCP `port` on `server` (see the module's docstring)."""
    same_vpc = (client.account, client.subnet.vpc_id) == (server.account, server.subnet.vpc_id)
    if not same_vpc:
        known = list(peerings)
        out = route_for(client_network, client.subnet, server.address)
        back = route_for(server_network, server.subnet, client.address)
        if not _peered_by(out, known, client, server) or not _peered_by(
            back, known, server, client
        ):
            return False
    return allows(
        client.groups,
        server.groups,
        port,
        address_from=client.address,
        address_to=server.address,
    )
