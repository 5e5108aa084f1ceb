"""VPC peering connections between two VPCs of one Region, of one account or two: requested,
accepted or rejected by the accepter's owner, deleted by either (`domain.peering` has the
lifecycle). Each change is one store transaction over the Region's connections and both
accounts' networks. What other services read of them (active connections, reachability) is on
`NetworkService`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gureum.ec2.domain import filters, peering, tags
from gureum.ec2.domain.errors import InvalidParameterValue, PeeringNotFound
from gureum.ec2.domain.network import Network
from gureum.ec2.domain.peering import VpcPeering
from gureum.ec2.domain.tags import TagSpecification
from gureum.ec2.services.network import Query, new_id, select
from gureum.ec2.store.network import NetworkStore, Peerings

_ACCOUNT_DIGITS = 12


class PeeringService:
    """EC2's peering connections; thread-safe (the store serialises changes)."""

    def __init__(self, store: NetworkStore, make_id: Callable[[str], str] = new_id) -> None:
        self._store = store
        self._new_id = make_id

    def create_peering(
        self,
        account: str,
        region: str,
        vpc_id: str,
        peer_vpc_id: str | None,
        peer_owner: str | None,
        peer_region: str | None,
        specs: Sequence[TagSpecification],
    ) -> VpcPeering:
        """A request from the account's `vpc_id` to `peer_vpc_id` of `peer_owner` (this account
        when None), in this Region; `failed` at once when their blocks overlap."""
        if peer_region is not None and peer_region != region:
            raise InvalidParameterValue(
                f"Inter-Region VPC peering is not supported: PeerRegion '{peer_region}' is "
                f"not this Region ({region})."
            )
        owner = peer_owner or account
        if not (owner.isdigit() and len(owner) == _ACCOUNT_DIGITS):
            raise InvalidParameterValue(f"Invalid value '{owner}' for peerOwnerId.")
        if not peer_vpc_id:
            raise InvalidParameterValue("The request must contain the parameter peerVpcId")
        wanted = tags.tags_for(specs, "vpc-peering-connection")
        peering_id = self._new_id("pcx")

        def change(found: Peerings, networks: dict[str, Network]) -> tuple[Peerings, VpcPeering]:
            mine = networks[account].vpc(vpc_id)
            theirs = networks[owner].vpc(peer_vpc_id)
            made = peering.request(peering_id, mine, account, theirs, owner, region, wanted)
            return {**found, made.id: made}, made

        return self._store.update_peerings(region, (account, owner), change)

    def _change_peering(
        self,
        account: str,
        region: str,
        peering_id: str,
        move: Callable[[VpcPeering, str], VpcPeering],
    ) -> VpcPeering:
        def change(found: Peerings, _: dict[str, Network]) -> tuple[Peerings, VpcPeering]:
            current = found.get(peering_id)
            if current is None or not current.involves(account):
                raise PeeringNotFound(peering_id)
            moved = move(current, account)
            return {**found, peering_id: moved}, moved

        return self._store.update_peerings(region, (), change)

    def accept_peering(self, account: str, region: str, peering_id: str) -> VpcPeering:
        return self._change_peering(account, region, peering_id, peering.accept)

    def reject_peering(self, account: str, region: str, peering_id: str) -> VpcPeering:
        return self._change_peering(account, region, peering_id, peering.reject)

    def delete_peering(self, account: str, region: str, peering_id: str) -> VpcPeering:
        return self._change_peering(account, region, peering_id, peering.delete)

    def describe_peerings(
        self, account: str, region: str, query: Query
    ) -> tuple[list[VpcPeering], str | None]:
        """The connections the account is a side of."""
        mine = {k: p for k, p in self._store.peerings(region).items() if p.involves(account)}
        return select(
            mine,
            query,
            PeeringNotFound,
            filters.peering_attributes,
            lambda p: p.tags,
            "vpcPeeringConnectionIds",
        )
