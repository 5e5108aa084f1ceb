"""The networks' store: a row per resource (VPC, subnet, security group, route table) of an
account and Region, its value as JSON, through the SQL port (`gureum.aws.sql`): an SQLite file
in the data directory, or PostgreSQL (`migrations/`).

`update` reads a network, applies a pure change to it and writes back what changed, all in one
transaction (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's advisory lock of the store): two requests,
whichever processes they reach, never interleave their read and write, and a change that raises
writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from gureum.aws.sql import Backend, Sql, StoreSpec
from gureum.ec2.domain.network import Network, Route, RouteTable, SecurityGroup, Subnet, Vpc
from gureum.ec2.domain.peering import PeeringSide, PeeringStatus, VpcPeering
from gureum.ec2.domain.rules import Peer, Rule
from gureum.ec2.domain.zones import Zone

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL, region TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL,
    document TEXT NOT NULL,
    UNIQUE (account, region, id));
CREATE TABLE IF NOT EXISTS peerings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    region TEXT NOT NULL, id TEXT NOT NULL, document TEXT NOT NULL,
    UNIQUE (region, id));
"""
SPEC = StoreSpec("ec2", "ec2.sqlite3", SCHEMA, "gureum.ec2.store")
T = TypeVar("T")
Resource = Vpc | Subnet | SecurityGroup | RouteTable
_CACHED = 1000  # networks kept read; past this many the cache starts again


def _tags(document: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((key, value) for key, value in document["tags"])


def _rule(document: dict[str, Any]) -> Rule:
    return Rule(**{**document, "peer": Peer(**document["peer"])})


def _load(kind: str, document: dict[str, Any]) -> Resource:
    if kind == "vpc":
        return Vpc(**{**document, "tags": _tags(document)})
    if kind == "subnet":
        return Subnet(**{**document, "zone": Zone(**document["zone"]), "tags": _tags(document)})
    if kind == "security-group":
        return SecurityGroup(
            **{
                **document,
                "ingress": tuple(_rule(r) for r in document["ingress"]),
                "egress": tuple(_rule(r) for r in document["egress"]),
                "tags": _tags(document),
            }
        )
    routes = tuple(Route(**r) for r in document["routes"])
    return RouteTable(**{**document, "routes": routes, "tags": _tags(document)})


def _resources(network: Network) -> dict[str, tuple[str, Resource]]:
    return {
        **{k: ("vpc", v) for k, v in network.vpcs.items()},
        **{k: ("subnet", v) for k, v in network.subnets.items()},
        **{k: ("security-group", v) for k, v in network.groups.items()},
        **{k: ("route-table", v) for k, v in network.route_tables.items()},
    }


def _peering(document: dict[str, Any]) -> VpcPeering:
    return VpcPeering(
        document["id"],
        PeeringSide(**document["requester"]),
        PeeringSide(**document["accepter"]),
        PeeringStatus(document["status"]),
        document["message"],
        _tags(document),
    )


# Peering connections of a Region as a change sees them, by id; a change returns them anew.
Peerings = dict[str, VpcPeering]


class NetworkStore:
    """Networks by account and Region; thread-safe (one writer at a time). Peering connections
    join two accounts' networks, so they are kept by Region, beside them."""

    def __init__(self, stores: Backend) -> None:
        self._db = stores.open(SPEC)
        # What was read, by the store generation it was read at: values are frozen, and every
        # cold start of a function with a file system reads its networks (parsing each row's
        # JSON anew cost most of the mount's lookup).
        self._networks: dict[tuple[str, str], tuple[int, Network]] = {}
        self._peering_cache: dict[str, tuple[int, Peerings]] = {}

    def read(self, account: str, region: str) -> Network:
        generation = self._db.generation
        cached = self._networks.get((account, region))
        if cached is not None and cached[0] == generation:
            return cached[1]
        # In a transaction of its own: the connection is shared, and a read must not see
        # another thread's change half made.
        with self._db.transaction() as sql:
            network = self._read(sql, account, region)
        if len(self._networks) >= _CACHED:
            self._networks.clear()
        self._networks[(account, region)] = (generation, network)
        return network

    def _read(self, sql: Sql, account: str, region: str) -> Network:
        rows = sql.execute(
            "SELECT kind, document FROM resources WHERE account = ? AND region = ? ORDER BY seq",
            (account, region),
        ).fetchall()
        found: dict[str, dict[str, Any]] = {
            "vpc": {},
            "subnet": {},
            "security-group": {},
            "route-table": {},
        }
        for kind, document in rows:
            resource = _load(kind, json.loads(document))
            found[kind][resource.id] = resource
        return Network(found["vpc"], found["subnet"], found["security-group"], found["route-table"])

    def update(
        self, account: str, region: str, change: Callable[[Network], tuple[Network, T]]
    ) -> T:
        """Applies `change` to the stored network and writes what it changed, atomically."""
        with self._db.transaction() as db:
            before = self._read(db, account, region)
            after, result = change(before)
            old, new = _resources(before), _resources(after)
            for gone in old.keys() - new.keys():
                db.execute(
                    "DELETE FROM resources WHERE account = ? AND region = ? AND id = ?",
                    (account, region, gone),
                )
            for resource_id, (kind, resource) in new.items():
                if old.get(resource_id) == (kind, resource):
                    continue
                db.execute(
                    "INSERT INTO resources (account, region, id, kind, document) "
                    "VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (account, region, id) DO UPDATE SET document = excluded.document",
                    (account, region, resource_id, kind, json.dumps(asdict(resource))),
                )
        return result

    def peerings(self, region: str) -> Peerings:
        """The Region's peering connections (a copy: the caller may change it)."""
        cached = self._peering_cache.get(region)
        if cached is not None and cached[0] == self._db.generation:
            return dict(cached[1])
        generation = self._db.generation  # before the read: a later commit is not missed
        with self._db.transaction() as sql:
            found = self._peerings(sql, region)
        self._peering_cache[region] = (generation, found)
        return dict(found)

    def _peerings(self, sql: Sql, region: str) -> Peerings:
        rows = sql.execute(
            "SELECT document FROM peerings WHERE region = ? ORDER BY seq", (region,)
        ).fetchall()
        found = [_peering(json.loads(document)) for (document,) in rows]
        return {p.id: p for p in found}

    def update_peerings(
        self,
        region: str,
        accounts: tuple[str, ...],
        change: Callable[[Peerings, dict[str, Network]], tuple[Peerings, T]],
    ) -> T:
        """Applies `change` to the Region's peering connections, given the networks of
        `accounts` (read in the same transaction), and writes the connections it changed."""
        with self._db.transaction() as db:
            before = self._peerings(db, region)
            networks = {account: self._read(db, account, region) for account in accounts}
            after, result = change(dict(before), networks)
            for peering_id, peering in after.items():
                if before.get(peering_id) == peering:
                    continue
                db.execute(
                    "INSERT INTO peerings (region, id, document) VALUES (?, ?, ?) "
                    "ON CONFLICT (region, id) DO UPDATE SET document = excluded.document",
                    (region, peering_id, json.dumps(asdict(peering))),
                )
        return result

    def close(self) -> None:
        self._db.close()
