"""The network's values in the shapes of EC2's model, as `Ec2Protocol` writes them.

What AWS leaves out, this leaves out: a resource without tags has no `Tags` (no `tagSet`
element), a rule for all protocols no ports.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gureum.ec2.domain.cidr import available_addresses
from gureum.ec2.domain.network import RouteTable, SecurityGroup, Subnet, Tags, Vpc, arn
from gureum.ec2.domain.peering import PeeringSide, VpcPeering
from gureum.ec2.domain.rules import Rule
from gureum.ec2.domain.tags import TagDescription
from gureum.ec2.domain.zones import Zone

Wire = dict[str, Any]


def tags(value: Tags) -> Wire:
    return {"Tags": [{"Key": k, "Value": v} for k, v in value]} if value else {}


def vpc(value: Vpc, account: str, state: str = "available") -> Wire:
    return {
        "VpcId": value.id,
        "CidrBlock": value.cidr,
        "State": state,
        "OwnerId": account,
        "InstanceTenancy": value.tenancy,
        "IsDefault": False,
        "CidrBlockAssociationSet": [
            {
                "AssociationId": value.cidr_association_id,
                "CidrBlock": value.cidr,
                "CidrBlockState": {"State": "associated"},
            }
        ],
        "Ipv6CidrBlockAssociationSet": [],
        **tags(value.tags),
    }


def subnet(value: Subnet, account: str, region: str, available: int | None = None) -> Wire:
    """A subnet; `available`: its free addresses when interfaces hold some (all but AWS's five
    when None)."""
    return {
        "SubnetId": value.id,
        "SubnetArn": arn(region, account, "subnet", value.id),
        "VpcId": value.vpc_id,
        "CidrBlock": value.cidr,
        "AvailabilityZone": value.zone.name,
        "AvailabilityZoneId": value.zone.id,
        "AvailableIpAddressCount": (
            available_addresses(value.block) if available is None else available
        ),
        "State": "available",
        "OwnerId": account,
        "DefaultForAz": False,
        "MapPublicIpOnLaunch": False,
        "MapCustomerOwnedIpOnLaunch": False,
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [],
        "Ipv6Native": False,
        "EnableDns64": False,
        "PrivateDnsNameOptionsOnLaunch": {
            "HostnameType": "ip-name",
            "EnableResourceNameDnsARecord": False,
            "EnableResourceNameDnsAAAARecord": False,
        },
        **tags(value.tags),
    }


def _ports(rule: Rule) -> Wire:
    if rule.from_port is None or rule.to_port is None:
        return {}
    return {"FromPort": rule.from_port, "ToPort": rule.to_port}


def permissions(rules: Iterable[Rule], account: str) -> list[Wire]:
    """Rules bundled as AWS's IpPermissions: one per protocol and port range, in order."""
    bundles: dict[tuple[str, int | None, int | None], Wire] = {}
    for rule in rules:
        key = (rule.protocol, rule.from_port, rule.to_port)
        bundle = bundles.setdefault(
            key,
            {
                "IpProtocol": rule.protocol,
                **_ports(rule),
                "IpRanges": [],
                "Ipv6Ranges": [],
                "PrefixListIds": [],
                "UserIdGroupPairs": [],
            },
        )
        described = {"Description": rule.description} if rule.description else {}
        cidr = rule.peer.cidr
        if cidr is not None and ":" in cidr:
            bundle["Ipv6Ranges"].append({"CidrIpv6": cidr, **described})
        elif cidr is not None:
            bundle["IpRanges"].append({"CidrIp": cidr, **described})
        else:
            owner = rule.peer.account or account
            pair = {"GroupId": rule.peer.group_id, "UserId": owner, **described}
            bundle["UserIdGroupPairs"].append(pair)
    return list(bundles.values())


def group(value: SecurityGroup, account: str, region: str) -> Wire:
    return {
        "GroupId": value.id,
        "GroupName": value.name,
        "Description": value.description,
        "VpcId": value.vpc_id,
        "OwnerId": account,
        "SecurityGroupArn": arn(region, account, "security-group", value.id),
        "IpPermissions": permissions(value.ingress, account),
        "IpPermissionsEgress": permissions(value.egress, account),
        **tags(value.tags),
    }


def _peer(rule: Rule, account: str) -> Wire:
    cidr = rule.peer.cidr
    if cidr is not None:
        return {"CidrIpv6": cidr} if ":" in cidr else {"CidrIpv4": cidr}
    owner = rule.peer.account or account
    return {"ReferencedGroupInfo": {"GroupId": rule.peer.group_id, "UserId": owner}}


def group_rule(value: Rule, group_id: str, account: str, region: str) -> Wire:
    return {
        "SecurityGroupRuleId": value.id,
        "GroupId": group_id,
        "GroupOwnerId": account,
        "IsEgress": value.egress,
        "IpProtocol": value.protocol,
        "FromPort": -1 if value.from_port is None else value.from_port,
        "ToPort": -1 if value.to_port is None else value.to_port,
        **_peer(value, account),
        **({"Description": value.description} if value.description else {}),
        "SecurityGroupRuleArn": arn(region, account, "security-group-rule", value.id),
    }


def revoked_rule(value: Rule, group_id: str) -> Wire:
    cidr = value.peer.cidr
    peer: Wire = {"ReferencedGroupId": value.peer.group_id}
    if cidr is not None:
        peer = {"CidrIpv6": cidr} if ":" in cidr else {"CidrIpv4": cidr}
    return {
        "SecurityGroupRuleId": value.id,
        "GroupId": group_id,
        "IsEgress": value.egress,
        "IpProtocol": value.protocol,
        "FromPort": -1 if value.from_port is None else value.from_port,
        "ToPort": -1 if value.to_port is None else value.to_port,
        **peer,
        **({"Description": value.description} if value.description else {}),
    }


def _side(value: PeeringSide) -> Wire:
    return {
        "CidrBlock": value.cidr,
        "CidrBlockSet": [{"CidrBlock": value.cidr}],
        "OwnerId": value.account,
        "VpcId": value.vpc_id,
        "Region": value.region,
        "PeeringOptions": {
            "AllowDnsResolutionFromRemoteVpc": False,
            "AllowEgressFromLocalClassicLinkToRemoteVpc": False,
            "AllowEgressFromLocalVpcToRemoteClassicLink": False,
        },
    }


def peering(value: VpcPeering) -> Wire:
    return {
        "VpcPeeringConnectionId": value.id,
        "RequesterVpcInfo": _side(value.requester),
        "AccepterVpcInfo": _side(value.accepter),
        "Status": {"Code": value.status.value, "Message": value.message},
        "Tags": [{"Key": k, "Value": v} for k, v in value.tags],
    }


def _route_state(kind: str, target: str, active: frozenset[str]) -> str:
    """A route to a peering connection that is not active (rejected, deleted) is a blackhole."""
    if kind == "VpcPeeringConnectionId" and target not in active:
        return "blackhole"
    return "active"


def route_table(value: RouteTable, account: str, active: frozenset[str] = frozenset()) -> Wire:
    associations = []
    if value.main:
        associations.append(
            {
                "Main": True,
                "RouteTableAssociationId": value.association_id,
                "RouteTableId": value.id,
                "AssociationState": {"State": "associated"},
            }
        )
    return {
        "RouteTableId": value.id,
        "VpcId": value.vpc_id,
        "OwnerId": account,
        "Routes": [
            {
                "DestinationCidrBlock": route.destination,
                route.target_kind: route.target,
                "Origin": route.origin,
                "State": _route_state(route.target_kind, route.target, active),
            }
            for route in value.routes
        ],
        "Associations": associations,
        "PropagatingVgws": [],
        **tags(value.tags),
    }


def zone(value: Zone) -> Wire:
    return {
        "ZoneName": value.name,
        "ZoneId": value.id,
        "RegionName": value.region,
        "State": "available",
        "OptInStatus": "opt-in-not-required",
        "Messages": [],
        "GroupName": value.region,
        "NetworkBorderGroup": value.region,
        "ZoneType": "availability-zone",
    }


def tag_description(value: TagDescription) -> Wire:
    return {
        "ResourceId": value.resource_id,
        "ResourceType": value.resource_type,
        "Key": value.key,
        "Value": value.value,
    }


def paged(member: str, items: list[Wire], token: str | None) -> Wire:
    return {member: items, **({"NextToken": token} if token else {})}
