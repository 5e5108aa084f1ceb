"""The network EFS places mount targets in: EC2's VPCs, subnets and security groups.

A port, because EC2 is another service: the composition root fills it with an adapter over
EC2's public service, and tests (and a server without EC2) with `fakes.InMemoryNetwork`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from gureum.efs.domain.mount_targets import Subnet


class NetworkModel(Protocol):
    """What EFS reads of the network, per account and region. Nothing here changes it."""

    def subnet(self, account: str, region: str, subnet_id: str) -> Subnet | None:
        """The subnet, with its VPC, Availability Zone (name and id) and IPv4 CIDR; None when
        the account has no such subnet in the region."""
        ...

    def security_groups(
        self, account: str, region: str, group_ids: Sequence[str]
    ) -> Mapping[str, str]:
        """The VPC id of each of `group_ids` that exists; the missing ones are left out."""
        ...

    def default_group(self, account: str, region: str, vpc_id: str) -> str | None:
        """The id of the VPC's default security group (every VPC has one)."""
        ...
