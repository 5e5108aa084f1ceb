"""EFS's services over their real store and directories, the shipped in-memory network and a
manual clock. Every test that takes `efs` runs on SQLite and on PostgreSQL (the `stores`
fixture): the store's contract suite (issue #24)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gureum.aws.sql import Backend
from gureum.clock import ManualClock
from gureum.efs.domain.file_systems import FileSystem, file_system_spec
from gureum.efs.domain.mount_targets import Subnet
from gureum.efs.services.access_points import AccessPointService
from gureum.efs.services.fakes import InMemoryNetwork
from gureum.efs.services.file_systems import FileSystemService
from gureum.efs.services.mount_targets import MountTargetService
from gureum.efs.store.records import EfsStore
from gureum.efs.store.trees import FileSystemTrees

ACCOUNT, REGION = "111122223333", "us-east-1"
VPC, OTHER_VPC = "vpc-0aaaaaaaaaaaaaaaa", "vpc-0bbbbbbbbbbbbbbbb"
DEFAULT_SG, SG, OTHER_VPC_SG = (
    "sg-0d0d0d0d0d0d0d0d0",
    "sg-0a0a0a0a0a0a0a0a0",
    "sg-0b0b0b0b0b0b0b0b0",
)
SUBNET_A = Subnet("subnet-0aaaaaaaaaaaaaaaa", VPC, "us-east-1a", "use1-az1", "10.0.1.0/24")
SUBNET_A2 = Subnet("subnet-0a2a2a2a2a2a2a2a2", VPC, "us-east-1a", "use1-az1", "10.0.2.0/24")
SUBNET_B = Subnet("subnet-0bbbbbbbbbbbbbbbb", VPC, "us-east-1b", "use1-az2", "10.0.3.0/24")
SUBNET_OTHER = Subnet(
    "subnet-0cccccccccccccccc", OTHER_VPC, "us-east-1c", "use1-az3", "10.1.0.0/24"
)


@dataclass
class Efs:
    clock: ManualClock
    network: InMemoryNetwork
    trees: FileSystemTrees
    file_systems: FileSystemService
    mount_targets: MountTargetService
    access_points: AccessPointService
    store: EfsStore

    def file_system(self, token: str = "t") -> FileSystem:
        fs = self.file_systems.create(ACCOUNT, REGION, file_system_spec(token))
        self.clock.advance(1)
        return fs


def build(data: Path, stores: Backend, clock: ManualClock, network: InMemoryNetwork) -> Efs:
    """EFS as a server builds it: its records in `stores`, its file systems' data under `data`
    (the shared directory, which is the data directory by default)."""
    trees = FileSystemTrees(data / "efs")  # makes the data directory too
    store = EfsStore(stores)
    return Efs(
        clock,
        network,
        trees,
        FileSystemService(store, trees, clock, 1.0),
        MountTargetService(store, network, clock, 1.0),
        AccessPointService(store, trees, clock),
        store,
    )


@pytest.fixture
def network() -> InMemoryNetwork:
    network = InMemoryNetwork()
    network.add_vpc(ACCOUNT, REGION, VPC, DEFAULT_SG)
    network.add_vpc(ACCOUNT, REGION, OTHER_VPC, "sg-0e0e0e0e0e0e0e0e0")
    network.add_security_group(ACCOUNT, REGION, SG, VPC)
    network.add_security_group(ACCOUNT, REGION, OTHER_VPC_SG, OTHER_VPC)
    for subnet in (SUBNET_A, SUBNET_A2, SUBNET_B, SUBNET_OTHER):
        network.add_subnet(ACCOUNT, REGION, subnet)
    return network


@pytest.fixture
def efs(tmp_path: Path, stores: Callable[[], Backend], network: InMemoryNetwork) -> Iterator[Efs]:
    built = build(tmp_path / "data", stores(), ManualClock(), network)
    yield built
    built.store.close()
