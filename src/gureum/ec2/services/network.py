"""The network service: EC2's VPCs, subnets, security groups, route tables and tags per account
and Region, durable in SQLite, and what other services read of them.

EFS (mount targets) and Lambda (VpcConfig) call `subnets`, `security_groups` and `vpc` to check
what a request names, and Lambda `reaches` (the pure `domain.reachability`: routes, active peering
connections and `rules.allows`) to decide whether NFS reaches a mount target. They tell EC2 what
they hold through a `Holder` (`register`), so that deleting a subnet or a group they use is a
`DependencyViolation`, as it is in AWS while a network interface is in it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from gureum.ec2.domain import filters, groups, tags, vpcs
from gureum.ec2.domain.cidr import available_addresses, free_address
from gureum.ec2.domain.errors import (
    GroupNotFound,
    InsufficientFreeAddresses,
    InvalidParameterValue,
    PeeringNotFound,
    RouteTableNotFound,
    SubnetNotFound,
    VpcNotFound,
)
from gureum.ec2.domain.filters import Attributes, Filter, PageRequest
from gureum.ec2.domain.network import (
    Network,
    RouteTable,
    SecurityGroup,
    Subnet,
    Tags,
    Vpc,
    arn,
)
from gureum.ec2.domain.peering import PeeringStatus, VpcPeering
from gureum.ec2.domain.reachability import Interface, reaches
from gureum.ec2.domain.rules import NFS_PORT, Permission, Rule
from gureum.ec2.domain.tags import TagDescription, TagSpecification
from gureum.ec2.domain.zones import Zone, zone_for, zones
from gureum.ec2.store.network import NetworkStore

T = TypeVar("T")
# A security group as a request names it: by id, or by name.
GroupRef = tuple[str | None, str | None]
_ROUTE_TABLE_PAGE = 100


class Holder(Protocol):
    """Another service that holds network resources (EFS's mount targets, Lambda's interfaces)."""

    def held(self, account: str, region: str, resource_ids: Collection[str]) -> Collection[str]:
        """Which of `resource_ids` (subnets, security groups) it uses now."""
        ...

    def addresses(self, account: str, region: str, subnet_id: str) -> Collection[str]:
        """The addresses its interfaces hold in the subnet."""
        ...


def new_id(kind: str) -> str:
    """An id as AWS makes them: the kind's prefix and 17 hex digits."""
    return f"{kind}-{secrets.token_hex(9)[:17]}"


@dataclass(frozen=True, slots=True)
class Query:
    """What a Describe asks for: ids (or names), filters and a page."""

    ids: Sequence[str] = ()
    filters: Sequence[Filter] = ()
    page: PageRequest = field(default_factory=PageRequest)


def select(
    items: dict[str, T],
    query: Query,
    missing: Callable[[str], Exception],
    attributes: Callable[[T], Attributes],
    tags_of: Callable[[T], Tags],
    ids_named: str,
) -> tuple[list[T], str | None]:
    for wanted in query.ids:
        if wanted not in items:
            raise missing(wanted)
    chosen = [items[i] for i in dict.fromkeys(query.ids)] if query.ids else list(items.values())
    kept = [x for x in chosen if filters.matches(query.filters, attributes(x), tags_of(x))]
    return filters.page(kept, query.page, ids_named if query.ids else "")


def _other(peering: VpcPeering, account: str, vpc_id: str) -> tuple[str, str] | None:
    """The (account, VPC) across `peering` from `vpc_id` of `account`; None when it is no side."""
    other = peering.side_of(account, vpc_id)
    return None if other is None else (other.account, other.vpc_id)


class NetworkService:
    """EC2's network model, one per server; thread-safe (the store serialises changes)."""

    def __init__(self, store: NetworkStore, make_id: Callable[[str], str] = new_id) -> None:
        self._store = store
        self._new_id = make_id
        self._holders: list[Holder] = []

    def register(self, holder: Holder) -> None:
        self._holders.append(holder)

    def _held(self, account: str, region: str, resource_id: str) -> Collection[str]:
        return {r for h in self._holders for r in h.held(account, region, [resource_id])}

    def _taken(self, account: str, region: str, subnet_id: str) -> set[str]:
        return {a for h in self._holders for a in h.addresses(account, region, subnet_id)}

    def _available(self, account: str, region: str, subnet: Subnet) -> int:
        return available_addresses(subnet.block) - len(self._taken(account, region, subnet.id))

    def free_address(self, account: str, region: str, subnet_id: str) -> str:
        """An address of the subnet no holder holds, for a new interface (a mount target's)."""
        subnet = self._store.read(account, region).subnet(subnet_id)
        found = free_address(subnet.block, self._taken(account, region, subnet_id))
        if found is None:
            raise InsufficientFreeAddresses(
                "The specified subnet does not have enough free addresses to satisfy the request."
            )
        return str(found)

    # --- what other services read ------------------------------------------------------------

    def vpc(self, account: str, region: str, vpc_id: str) -> Vpc:
        return self._store.read(account, region).vpc(vpc_id)

    def subnets(self, account: str, region: str, ids: Sequence[str]) -> list[Subnet]:
        """The subnets named, in order; InvalidSubnetID.NotFound for one that does not exist."""
        network = self._store.read(account, region)
        return [network.subnet(i) for i in ids]

    def security_groups(self, account: str, region: str, ids: Sequence[str]) -> list[SecurityGroup]:
        """The groups named, in order; InvalidGroup.NotFound for one that does not exist."""
        network = self._store.read(account, region)
        return [network.group(i) for i in ids]

    def network(self, account: str, region: str) -> Network:
        return self._store.read(account, region)

    # --- VPCs ----------------------------------------------------------------------------------

    def create_vpc(
        self, account: str, region: str, cidr: str | None, specs: Sequence[TagSpecification]
    ) -> Vpc:
        if cidr is None:
            raise InvalidParameterValue(
                "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided."
            )
        wanted = tags.tags_for(specs, "vpc")
        return self._store.update(
            account, region, lambda n: vpcs.create_vpc(n, self._new_id, cidr, wanted)
        )

    def delete_vpc(self, account: str, region: str, vpc_id: str) -> None:
        self._store.update(account, region, lambda n: (vpcs.delete_vpc(n, vpc_id), None))

    def describe_vpcs(
        self, account: str, region: str, query: Query
    ) -> tuple[list[Vpc], str | None]:
        network = self._store.read(account, region)
        return select(
            dict(network.vpcs),
            query,
            VpcNotFound,
            lambda v: filters.vpc_attributes(v, account),
            lambda v: v.tags,
            "vpcIds",
        )

    # --- subnets -------------------------------------------------------------------------------

    def create_subnet(
        self,
        account: str,
        region: str,
        vpc_id: str,
        cidr: str | None,
        zone: tuple[str | None, str | None],
        specs: Sequence[TagSpecification],
    ) -> Subnet:
        wanted = tags.tags_for(specs, "subnet")
        place = zone_for(region, *zone)
        return self._store.update(
            account,
            region,
            lambda n: vpcs.create_subnet(n, self._new_id, vpc_id, cidr, place, wanted),
        )

    def delete_subnet(self, account: str, region: str, subnet_id: str) -> None:
        held = self._held(account, region, subnet_id)
        self._store.update(
            account, region, lambda n: (vpcs.delete_subnet(n, subnet_id, held), None)
        )

    def describe_subnets(
        self, account: str, region: str, query: Query
    ) -> tuple[list[tuple[Subnet, int]], str | None]:
        """The subnets asked for, each with its count of available addresses."""
        network = self._store.read(account, region)
        counted = {i: (s, self._available(account, region, s)) for i, s in network.subnets.items()}
        return select(
            counted,
            query,
            SubnetNotFound,
            lambda c: filters.subnet_attributes(
                c[0], account, arn(region, account, "subnet", c[0].id), c[1]
            ),
            lambda c: c[0].tags,
            "subnetIds",
        )

    # --- security groups -----------------------------------------------------------------------

    def create_group(
        self,
        account: str,
        region: str,
        vpc_id: str | None,
        name: str,
        description: str,
        specs: Sequence[TagSpecification],
    ) -> SecurityGroup:
        wanted = tags.tags_for(specs, "security-group")
        return self._store.update(
            account,
            region,
            lambda n: groups.create_group(n, self._new_id, vpc_id, name, description, wanted),
        )

    def delete_group(
        self, account: str, region: str, group_id: str | None, name: str | None
    ) -> str:
        """Deletes the group named by id or name; returns its id."""

        def change(network: Network) -> tuple[Network, str]:
            resolved = groups.resolve(network, group_id, name)
            held = self._held(account, region, resolved)
            return groups.delete_group(network, resolved, held), resolved

        return self._store.update(account, region, change)

    def describe_groups(
        self, account: str, region: str, query: Query, names: Sequence[str] = ()
    ) -> tuple[list[SecurityGroup], str | None]:
        network = self._store.read(account, region)
        ids = [*query.ids, *(groups.resolve(network, None, n) for n in names)]
        return select(
            dict(network.groups),
            Query(ids, query.filters, query.page),
            GroupNotFound,
            lambda g: filters.group_attributes(g, account),
            lambda g: g.tags,
            "groupIds",
        )

    def authorize(
        self,
        account: str,
        region: str,
        group: GroupRef,
        permissions: Sequence[Permission],
        *,
        egress: bool,
    ) -> tuple[str, tuple[Rule, ...]]:
        """Adds rules to the group named by id or name; returns its id and the rules added."""

        # Other accounts' groups, looked up ahead (a store transaction does not nest): each
        # must exist, in a VPC with an active peering connection to this group's.
        foreign = {
            (owner, peer): self._foreign_vpc(owner, region, peer)
            for permission in permissions
            for owner, peer, _ in permission.foreign
        }
        peerings = self._store.peerings(region).values() if foreign else ()

        def change(network: Network) -> tuple[Network, tuple[str, tuple[Rule, ...]]]:
            group_id = groups.resolve(network, *group)
            mine = network.group(group_id).vpc_id
            for (owner, peer), vpc_id in foreign.items():
                if not any(
                    p.is_active and _other(p, account, mine) == (owner, vpc_id) for p in peerings
                ):
                    raise GroupNotFound(peer)
            changed, added = groups.authorize(
                network, self._new_id, group_id, permissions, egress=egress
            )
            return changed, (group_id, added)

        return self._store.update(account, region, change)

    def _foreign_vpc(self, account: str, region: str, group_id: str) -> str:
        """The VPC of another account's group; InvalidGroup.NotFound when it has none."""
        return self._store.read(account, region).group(group_id).vpc_id

    def revoke(
        self,
        account: str,
        region: str,
        group: GroupRef,
        permissions: Sequence[Permission],
        *,
        egress: bool,
    ) -> tuple[str, tuple[Rule, ...]]:
        """Removes rules from the group named by id or name; returns its id and those removed."""

        def change(network: Network) -> tuple[Network, tuple[str, tuple[Rule, ...]]]:
            group_id = groups.resolve(network, *group)
            changed, removed = groups.revoke(network, group_id, permissions, egress=egress)
            return changed, (group_id, removed)

        return self._store.update(account, region, change)

    # --- route tables --------------------------------------------------------------------------

    def describe_route_tables(
        self, account: str, region: str, query: Query
    ) -> tuple[list[RouteTable], str | None]:
        network = self._store.read(account, region)
        paged = Query(
            query.ids,
            query.filters,
            PageRequest(query.page.max_results, query.page.token, _ROUTE_TABLE_PAGE),
        )
        return select(
            dict(network.route_tables),
            paged,
            RouteTableNotFound,
            lambda t: filters.route_table_attributes(t, account),
            lambda t: t.tags,
            "routeTableIds",
        )

    def create_route(
        self,
        account: str,
        region: str,
        table_id: str,
        destination: str | None,
        targets: dict[str, str | None],
    ) -> None:
        connection = targets.get("VpcPeeringConnectionId")
        # Read ahead of the change (a store transaction does not nest): a connection, once
        # made, stays (deleted ones too), so what is found now is there at the change.
        found = self._store.peerings(region).get(connection) if connection else None

        def change(network: Network) -> tuple[Network, None]:
            if connection:  # a connection of this table's VPC, in any state
                table = network.route_table(table_id)
                if found is None or found.side_of(account, table.vpc_id) is None:
                    raise PeeringNotFound(connection)
            return vpcs.create_route(network, table_id, destination, targets), None

        self._store.update(account, region, change)

    def active_peerings(self, account: str, region: str) -> frozenset[str]:
        """The ids of the account's active peering connections (a route to any other is a
        blackhole)."""
        found = self._store.peerings(region).values()
        return frozenset(p.id for p in found if p.involves(account) and p.is_active)

    def delete_route(
        self, account: str, region: str, table_id: str, destination: str | None
    ) -> None:
        self._store.update(
            account, region, lambda n: (vpcs.delete_route(n, table_id, destination), None)
        )

    # --- peering connections, as others read them ------------------------------------------

    def peered(self, account: str, region: str, vpc_id: str) -> set[tuple[str, str]]:
        """The VPCs (account, id) `vpc_id` has a connection with, pending or active."""
        live = (PeeringStatus.PENDING, PeeringStatus.ACTIVE)
        found = set()
        for connection in self._store.peerings(region).values():
            other = connection.side_of(account, vpc_id)
            if other is not None and connection.status in live:
                found.add((other.account, other.vpc_id))
        return found

    # --- reachability --------------------------------------------------------------------------

    def reaches(
        self,
        region: str,
        client: tuple[str, str, Sequence[str]],
        server: tuple[str, str, Sequence[str], str],
        port: int = NFS_PORT,
    ) -> bool:
        """Whether an interface in `client` (account, subnet, groups; its address unknown: any
        of the subnet's) opens TCP `port` on `server` (account, subnet, groups, address), through
        the routes, peering connections and security groups of the model (`reachability`)."""
        client_account, client_subnet, client_groups = client
        server_account, server_subnet, server_groups, address = server
        near = self._store.read(client_account, region)
        far = near if server_account == client_account else self._store.read(server_account, region)
        if client_subnet not in near.subnets or server_subnet not in far.subnets:
            return False
        subnet = near.subnets[client_subnet]
        ends = (
            Interface(
                client_account,
                subnet,
                [near.groups[g] for g in client_groups if g in near.groups],
                subnet.cidr,
            ),
            Interface(
                server_account,
                far.subnets[server_subnet],
                [far.groups[g] for g in server_groups if g in far.groups],
                address,
            ),
        )
        return reaches(ends[0], near, ends[1], far, self._store.peerings(region).values(), port)

    # --- zones and tags ------------------------------------------------------------------------

    def zones(
        self, region: str, names: Sequence[str], ids: Sequence[str], wanted: Sequence[Filter]
    ) -> list[Zone]:
        known = zones(region)
        for name in names:
            if name not in {z.name for z in known}:
                raise InvalidParameterValue(f"Invalid availability zone: [{name}]")
        for zone_id in ids:
            if zone_id not in {z.id for z in known}:
                raise InvalidParameterValue(f"Invalid availability zone ID: [{zone_id}]")
        return [
            z
            for z in known
            if (not names or z.name in names)
            and (not ids or z.id in ids)
            and filters.matches(wanted, filters.zone_attributes(z))
        ]

    def create_tags(self, account: str, region: str, ids: Sequence[str], added: Tags) -> None:
        self._store.update(
            account,
            region,
            lambda n: (tags.retag(n, ids, lambda t: tags.with_tags(t, added)), None),
        )

    def delete_tags(
        self,
        account: str,
        region: str,
        ids: Sequence[str],
        removed: Sequence[tuple[str, str | None]],
    ) -> None:
        self._store.update(
            account,
            region,
            lambda n: (tags.retag(n, ids, lambda t: tags.without_tags(t, removed)), None),
        )

    def describe_tags(
        self, account: str, region: str, query: Query
    ) -> tuple[list[TagDescription], str | None]:
        described = tags.described(self._store.read(account, region))
        kept = [
            d
            for d in described
            if filters.matches(
                query.filters,
                {
                    "resource-id": [d.resource_id],
                    "resource-type": [d.resource_type],
                    "key": [d.key],
                    "value": [d.value],
                },
            )
        ]
        return filters.page(kept, query.page)
