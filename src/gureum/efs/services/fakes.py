"""An in-memory network, shipped for tests and for a server that has no EC2 to ask."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gureum.efs.domain.mount_targets import Subnet

Scope = tuple[str, str]  # (account, region)


@dataclass
class InMemoryNetwork:
    """VPCs, subnets and security groups added by hand; implements `NetworkModel`."""

    _subnets: dict[tuple[Scope, str], Subnet] = field(default_factory=dict)
    _groups: dict[tuple[Scope, str], str] = field(default_factory=dict)
    _defaults: dict[tuple[Scope, str], str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_vpc(self, account: str, region: str, vpc_id: str, default_group: str) -> None:
        with self._lock:
            self._defaults[((account, region), vpc_id)] = default_group
            self._groups[((account, region), default_group)] = vpc_id

    def add_subnet(self, account: str, region: str, subnet: Subnet) -> None:
        with self._lock:
            self._subnets[((account, region), subnet.subnet_id)] = subnet

    def add_security_group(self, account: str, region: str, group_id: str, vpc_id: str) -> None:
        with self._lock:
            self._groups[((account, region), group_id)] = vpc_id

    def subnet(self, account: str, region: str, subnet_id: str) -> Subnet | None:
        with self._lock:
            return self._subnets.get(((account, region), subnet_id))

    def security_groups(
        self, account: str, region: str, group_ids: Sequence[str]
    ) -> Mapping[str, str]:
        with self._lock:
            found = {g: self._groups.get(((account, region), g)) for g in group_ids}
        return {group: vpc for group, vpc in found.items() if vpc is not None}

    def default_group(self, account: str, region: str, vpc_id: str) -> str | None:
        with self._lock:
            return self._defaults.get(((account, region), vpc_id))
