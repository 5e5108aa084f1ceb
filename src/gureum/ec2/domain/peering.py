"""VPC peering connections: a request from one VPC to another (of the same account or another, in
the same Region), accepted or rejected by the accepter's owner, deleted by either owner.

The lifecycle is a table (https://docs.aws.amazon.com/vpc/latest/peering/
vpc-peering-basics.html#vpc-peering-lifecycle): a request between VPCs whose CIDR blocks overlap
is `failed` at once; otherwise it waits `pending-acceptance`; accepting makes it `active`,
rejecting `rejected`, deleting `deleted`. Every other move is AWS's InvalidStateTransition.
Pure: the connection's two sides are read from both accounts' networks by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from gureum.ec2.domain.errors import (
    InvalidStateTransition,
    OperationNotPermitted,
)
from gureum.ec2.domain.network import Tags, Vpc


class PeeringStatus(StrEnum):
    PENDING = "pending-acceptance"
    ACTIVE = "active"
    REJECTED = "rejected"
    DELETED = "deleted"
    FAILED = "failed"


# The state each request moves a connection to, as AWS names it in InvalidStateTransition.
ACCEPTING, REJECTING, DELETING = "active", "rejected", "deleting"
_MOVES: dict[tuple[PeeringStatus, str], PeeringStatus] = {
    (PeeringStatus.PENDING, ACCEPTING): PeeringStatus.ACTIVE,
    (PeeringStatus.PENDING, REJECTING): PeeringStatus.REJECTED,
    (PeeringStatus.PENDING, DELETING): PeeringStatus.DELETED,
    (PeeringStatus.ACTIVE, DELETING): PeeringStatus.DELETED,
}
# What a request between overlapping VPCs says as it fails.
OVERLAPPING = "Overlapping CIDR range"


@dataclass(frozen=True, slots=True)
class PeeringSide:
    """One VPC of a connection, as the connection shows it (its CIDR block when requested)."""

    account: str
    vpc_id: str
    cidr: str
    region: str


@dataclass(frozen=True, slots=True)
class VpcPeering:
    id: str
    requester: PeeringSide
    accepter: PeeringSide
    status: PeeringStatus
    message: str
    tags: Tags = ()

    def involves(self, account: str) -> bool:
        """Whether `account` owns one of its VPCs (and so sees the connection)."""
        return account in (self.requester.account, self.accepter.account)

    def side_of(self, account: str, vpc_id: str) -> PeeringSide | None:
        """The other side, seen from `vpc_id` of `account`; None when that is neither side."""
        if (self.requester.account, self.requester.vpc_id) == (account, vpc_id):
            return self.accepter
        if (self.accepter.account, self.accepter.vpc_id) == (account, vpc_id):
            return self.requester
        return None

    @property
    def is_active(self) -> bool:
        return self.status is PeeringStatus.ACTIVE


def request(
    peering_id: str,
    requester: Vpc,
    requester_account: str,
    accepter: Vpc,
    accepter_account: str,
    region: str,
    tags: Tags = (),
) -> VpcPeering:
    """A new connection: pending the accepter's answer, or failed when the blocks overlap."""
    mine = PeeringSide(requester_account, requester.id, requester.cidr, region)
    theirs = PeeringSide(accepter_account, accepter.id, accepter.cidr, region)
    if requester.block.overlaps(accepter.block):
        return VpcPeering(peering_id, mine, theirs, PeeringStatus.FAILED, OVERLAPPING, tags)
    pending = f"Pending Acceptance by {accepter_account}"
    return VpcPeering(peering_id, mine, theirs, PeeringStatus.PENDING, pending, tags)


def _move(peering: VpcPeering, to: str) -> PeeringStatus:
    moved = _MOVES.get((peering.status, to))
    if moved is None:
        raise InvalidStateTransition(
            f"Invalid state transition for {peering.id}, attempted to transition from "
            f"{peering.status.value} to {to}"
        )
    return moved


def _accepter_only(peering: VpcPeering, account: str, verb: str) -> None:
    """Only the accepter's owner answers a request (in one account, the owner of both)."""
    if account != peering.accepter.account:
        raise OperationNotPermitted(f"User ({account}) cannot {verb} peering {peering.id}")


def accept(peering: VpcPeering, account: str) -> VpcPeering:
    _accepter_only(peering, account, "accept")
    return replace(peering, status=_move(peering, ACCEPTING), message="Active")


def reject(peering: VpcPeering, account: str) -> VpcPeering:
    _accepter_only(peering, account, "reject")
    return replace(peering, status=_move(peering, REJECTING), message=f"Rejected by {account}")


def delete(peering: VpcPeering, account: str) -> VpcPeering:
    """Either owner deletes a connection; it stays visible, `deleted`, as AWS shows it for a
    while."""
    return replace(peering, status=_move(peering, DELETING), message=f"Deleted by {account}")
