"""EC2, built from the kernel: the network service (EFS and Lambda read it) and its endpoint in
the ec2 protocol."""

from __future__ import annotations

from dataclasses import dataclass

from gureum.aws.frontend import ServiceEndpoint
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.protocols.ec2 import Ec2Protocol
from gureum.ec2.api.handlers import PAGED, TAGGED, Ec2Api
from gureum.ec2.services.network import NetworkService
from gureum.ec2.services.peering import PeeringService
from gureum.ec2.store.network import NetworkStore


@dataclass(eq=False)
class Ec2(Assembly):
    network: NetworkService
    peerings: PeeringService
    endpoint: ServiceEndpoint
    store: NetworkStore

    def close(self) -> None:
        self.store.close()


def assemble(kernel: Kernel) -> Ec2:
    store = NetworkStore(kernel.stores)
    network = NetworkService(store)
    peerings = PeeringService(store)
    # EC2 answers these with its own InvalidParameterValue, not the model's ValidationException:
    # MaxResults out of bounds, a TagSpecification of a type the operation does not make.
    unvalidated = {operation: frozenset({"MaxResults"}) for operation in PAGED}
    for operation in TAGGED:
        unvalidated[operation] = frozenset({"TagSpecifications"})
    endpoint = ServiceEndpoint(
        "ec2",
        Ec2Protocol(kernel.model("ec2")),
        Ec2Api(network, peerings).handlers(),
        unvalidated=unvalidated,
    )
    return Ec2(network, peerings, endpoint, store)
