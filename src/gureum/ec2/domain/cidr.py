"""CIDR blocks as EC2 checks them, with the standard `ipaddress` module.

A VPC's block and a subnet's are IPv4, /16 to /28 (https://docs.aws.amazon.com/vpc/latest/userguide/
vpc-cidr-blocks.html); a subnet lies inside its VPC's block and overlaps no other subnet of the VPC;
five addresses of each subnet are AWS's (the network address, the router, DNS, one reserved for the
future and the broadcast address), so a /24 offers 251.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Network, ip_network

from gureum.ec2.domain.errors import (
    InvalidParameterValue,
    InvalidSubnetRange,
    InvalidVpcRange,
    SubnetConflict,
)

SMALLEST_PREFIX = 28
LARGEST_PREFIX = 16
RESERVED_PER_SUBNET = 5


def _ipv4(text: str, parameter: str) -> IPv4Network:
    """`text` as an IPv4 block; anything else is AWS's InvalidParameterValue."""
    try:
        network = ip_network(text, strict=False)
    except ValueError:
        network = None
    if not isinstance(network, IPv4Network) or "/" not in text:
        raise InvalidParameterValue(
            f"Value ({text}) for parameter {parameter} is invalid. This is not a valid CIDR block."
        )
    return network


def _exact(text: str, network: IPv4Network) -> bool:
    """Whether `text` names its block's network address (no host bits set)."""
    return IPv4Address(text.split("/", maxsplit=1)[0]) == network.network_address


def vpc_block(text: str) -> IPv4Network:
    """A VPC's primary block, checked."""
    network = _ipv4(text, "cidrBlock")
    if not _exact(text, network) or not LARGEST_PREFIX <= network.prefixlen <= SMALLEST_PREFIX:
        raise InvalidVpcRange(text)
    return network


def subnet_block(text: str, vpc: IPv4Network, others: Iterable[IPv4Network]) -> IPv4Network:
    """A subnet's block: inside its VPC's, of an allowed size, overlapping none of `others`."""
    network = _ipv4(text, "cidrBlock")
    if (
        not _exact(text, network)
        or not LARGEST_PREFIX <= network.prefixlen <= SMALLEST_PREFIX
        or not network.subnet_of(vpc)
    ):
        raise InvalidSubnetRange(text)
    if any(network.overlaps(other) for other in others):
        raise SubnetConflict(text)
    return network


def available_addresses(block: IPv4Network) -> int:
    """How many addresses of a subnet instances (and mount targets) may take."""
    return block.num_addresses - RESERVED_PER_SUBNET


def reserved(block: IPv4Network, address: IPv4Address) -> bool:
    """Whether `address` is one of the five AWS keeps in `block` (the first four, the last)."""
    offset = int(address) - int(block.network_address)
    return offset < RESERVED_PER_SUBNET - 1 or address == block.broadcast_address


def free_address(block: IPv4Network, taken: Iterable[str]) -> IPv4Address | None:
    """The lowest address of a subnet nobody holds (what a new network interface, such as a
    mount target's, is given), or None when the subnet is full."""
    held = {IPv4Address(a) for a in taken}
    first = int(block.network_address) + RESERVED_PER_SUBNET - 1
    for number in range(first, int(block.broadcast_address)):
        candidate = IPv4Address(number)
        if candidate not in held:
            return candidate
    return None


def rule_block(text: str) -> IPv4Network | IPv6Network:
    """A security group rule's peer block (IPv4 or IPv6, any size)."""
    try:
        network = ip_network(text, strict=True)
    except ValueError:
        raise InvalidParameterValue(f"CIDR block {text} is malformed") from None
    if "/" not in text:
        raise InvalidParameterValue(f"CIDR block {text} is malformed")
    return network


def route_destination(text: str) -> IPv4Network:
    """A route's destination block."""
    network = _ipv4(text, "destinationCidrBlock")
    if not _exact(text, network):
        raise InvalidParameterValue(
            f"Value ({text}) for parameter destinationCidrBlock is invalid. "
            "This is not a valid CIDR block."
        )
    return network
