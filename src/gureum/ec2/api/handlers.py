"""EC2's operations: each reads the parameters the ec2 codec parsed into the network's values,
calls one network service method, and renders its answer (`render`).

A request with `DryRun=true` is answered `DryRunOperation` (412) before anything is done, as AWS
answers a caller allowed to make it: every operation here has `DryRun` in its model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gureum.aws.frontend import CallContext, Handler
from gureum.ec2.api import render
from gureum.ec2.domain.errors import DryRunOperation, InvalidParameterValue
from gureum.ec2.domain.filters import Filter, PageRequest
from gureum.ec2.domain.network import Tags
from gureum.ec2.domain.rules import Permission
from gureum.ec2.domain.tags import TagSpecification
from gureum.ec2.domain.vpcs import ROUTE_TARGETS
from gureum.ec2.services.network import NetworkService, Query
from gureum.ec2.services.peering import PeeringService

Params = dict[str, Any]
Result = dict[str, Any]
Operation = Callable[[CallContext, Params], Result]

# The Describe operations whose MaxResults EC2 bounds with its own message, not the model's.
PAGED = (
    "DescribeVpcs",
    "DescribeSubnets",
    "DescribeSecurityGroups",
    "DescribeRouteTables",
    "DescribeVpcPeeringConnections",
)
# The operations that tag what they make (TagSpecifications), checked here.
TAGGED = ("CreateVpc", "CreateSubnet", "CreateSecurityGroup", "CreateVpcPeeringConnection")


def _tags(items: list[Mapping[str, Any]] | None) -> Tags:
    return tuple((t.get("Key", ""), t.get("Value", "")) for t in items or [])


def _specifications(params: Params) -> list[TagSpecification]:
    return [
        TagSpecification(spec.get("ResourceType", ""), _tags(spec.get("Tags")))
        for spec in params.get("TagSpecifications", [])
    ]


def _query(params: Params, ids: str) -> Query:
    filters = [
        Filter(f.get("Name", ""), tuple(f.get("Values", []))) for f in params.get("Filters", [])
    ]
    page = PageRequest(params.get("MaxResults"), params.get("NextToken"))
    return Query(params.get(ids, []), filters, page)


def _permission(item: Mapping[str, Any], account: str) -> Permission:
    cidrs = [(r.get("CidrIp", ""), r.get("Description", "")) for r in item.get("IpRanges", [])]
    cidrs += [(r.get("CidrIpv6", ""), r.get("Description", "")) for r in item.get("Ipv6Ranges", [])]
    pairs = item.get("UserIdGroupPairs", [])
    # A pair naming another account (UserId) references that account's group, over peering.
    foreign = [
        (pair["UserId"], pair.get("GroupId", ""), pair.get("Description", ""))
        for pair in pairs
        if pair.get("UserId") not in (None, "", account)
    ]
    groups = [
        (pair.get("GroupId") or pair.get("GroupName") or "", pair.get("Description", ""))
        for pair in pairs
        if pair.get("UserId") in (None, "", account)
    ]
    if "IpProtocol" not in item:
        raise InvalidParameterValue("Invalid value 'null' for IP protocol. Unknown protocol.")
    return Permission(
        item["IpProtocol"],
        item.get("FromPort"),
        item.get("ToPort"),
        tuple(cidrs),
        tuple(groups),
        tuple(foreign),
    )


def _permissions(params: Params, account: str) -> list[Permission]:
    """AWS's IpPermissions, or the older flat members (CidrIp, IpProtocol, ports, source)."""
    if params.get("IpPermissions"):
        return [_permission(item, account) for item in params["IpPermissions"]]
    cidrs = ((params["CidrIp"], ""),) if "CidrIp" in params else ()
    source = params.get("SourceSecurityGroupName")
    groups = ((source, ""),) if source else ()
    protocol = params.get("IpProtocol", "-1" if source else "")
    if not cidrs and not groups:
        raise InvalidParameterValue("The request must contain the parameter ipPermissions")
    return [Permission(protocol, params.get("FromPort"), params.get("ToPort"), cidrs, groups)]


def _dry_run(operation: Operation) -> Operation:
    def handle(context: CallContext, params: Params) -> Result:
        if params.get("DryRun"):
            raise DryRunOperation()
        return operation(context, params)

    return handle


class Ec2Api:
    def __init__(self, network: NetworkService, peerings: PeeringService) -> None:
        self._network = network
        self._peerings = peerings

    def handlers(self) -> Mapping[str, Handler]:
        operations: dict[str, Operation] = {
            "CreateVpc": self.create_vpc,
            "DescribeVpcs": self.describe_vpcs,
            "DeleteVpc": self.delete_vpc,
            "CreateSubnet": self.create_subnet,
            "DescribeSubnets": self.describe_subnets,
            "DeleteSubnet": self.delete_subnet,
            "CreateSecurityGroup": self.create_security_group,
            "DescribeSecurityGroups": self.describe_security_groups,
            "DeleteSecurityGroup": self.delete_security_group,
            "AuthorizeSecurityGroupIngress": self.authorize_ingress,
            "AuthorizeSecurityGroupEgress": self.authorize_egress,
            "RevokeSecurityGroupIngress": self.revoke_ingress,
            "RevokeSecurityGroupEgress": self.revoke_egress,
            "DescribeRouteTables": self.describe_route_tables,
            "CreateRoute": self.create_route,
            "DeleteRoute": self.delete_route,
            "DescribeAvailabilityZones": self.describe_availability_zones,
            "CreateVpcPeeringConnection": self.create_peering,
            "AcceptVpcPeeringConnection": self.accept_peering,
            "RejectVpcPeeringConnection": self.reject_peering,
            "DeleteVpcPeeringConnection": self.delete_peering,
            "DescribeVpcPeeringConnections": self.describe_peerings,
            "CreateTags": self.create_tags,
            "DeleteTags": self.delete_tags,
            "DescribeTags": self.describe_tags,
        }
        return {name: _dry_run(operation) for name, operation in operations.items()}

    # --- VPCs and subnets ----------------------------------------------------------------------

    def create_vpc(self, context: CallContext, params: Params) -> Result:
        account = context.account_id
        made = self._network.create_vpc(
            account, context.region, params.get("CidrBlock"), _specifications(params)
        )
        # AWS answers CreateVpc while the VPC is still pending; Describe finds it available.
        return {"Vpc": render.vpc(made, account, "pending")}

    def describe_vpcs(self, context: CallContext, params: Params) -> Result:
        account = context.account_id
        found, token = self._network.describe_vpcs(
            account, context.region, _query(params, "VpcIds")
        )
        return render.paged("Vpcs", [render.vpc(v, account) for v in found], token)

    def delete_vpc(self, context: CallContext, params: Params) -> Result:
        self._network.delete_vpc(context.account_id, context.region, params["VpcId"])
        return {}

    def create_subnet(self, context: CallContext, params: Params) -> Result:
        account, region = context.account_id, context.region
        made = self._network.create_subnet(
            account,
            region,
            params["VpcId"],
            params.get("CidrBlock"),
            (params.get("AvailabilityZone"), params.get("AvailabilityZoneId")),
            _specifications(params),
        )
        return {"Subnet": render.subnet(made, account, region)}

    def describe_subnets(self, context: CallContext, params: Params) -> Result:
        account, region = context.account_id, context.region
        found, token = self._network.describe_subnets(account, region, _query(params, "SubnetIds"))
        rendered = [render.subnet(s, account, region, available) for s, available in found]
        return render.paged("Subnets", rendered, token)

    def delete_subnet(self, context: CallContext, params: Params) -> Result:
        self._network.delete_subnet(context.account_id, context.region, params["SubnetId"])
        return {}

    # --- security groups -----------------------------------------------------------------------

    def create_security_group(self, context: CallContext, params: Params) -> Result:
        account, region = context.account_id, context.region
        made = self._network.create_group(
            account,
            region,
            params.get("VpcId"),
            params["GroupName"],
            params["Description"],
            _specifications(params),
        )
        arn = render.group(made, account, region)["SecurityGroupArn"]
        return {"GroupId": made.id, "SecurityGroupArn": arn, **render.tags(made.tags)}

    def describe_security_groups(self, context: CallContext, params: Params) -> Result:
        account, region = context.account_id, context.region
        found, token = self._network.describe_groups(
            account, region, _query(params, "GroupIds"), params.get("GroupNames", [])
        )
        rendered = [render.group(g, account, region) for g in found]
        return render.paged("SecurityGroups", rendered, token)

    def delete_security_group(self, context: CallContext, params: Params) -> Result:
        account, region = context.account_id, context.region
        group_id = self._network.delete_group(
            account, region, params.get("GroupId"), params.get("GroupName")
        )
        return {"Return": True, "GroupId": group_id}

    def _authorize(self, context: CallContext, params: Params, *, egress: bool) -> Result:
        account, region = context.account_id, context.region
        group_id, added = self._network.authorize(
            account,
            region,
            (params.get("GroupId"), params.get("GroupName")),
            _permissions(params, context.account_id),
            egress=egress,
        )
        rules = [render.group_rule(r, group_id, account, region) for r in added]
        return {"Return": True, "SecurityGroupRules": rules}

    def _revoke(self, context: CallContext, params: Params, *, egress: bool) -> Result:
        group_id, removed = self._network.revoke(
            context.account_id,
            context.region,
            (params.get("GroupId"), params.get("GroupName")),
            _permissions(params, context.account_id),
            egress=egress,
        )
        rules = [render.revoked_rule(r, group_id) for r in removed]
        return {"Return": True, "RevokedSecurityGroupRules": rules}

    def authorize_ingress(self, context: CallContext, params: Params) -> Result:
        return self._authorize(context, params, egress=False)

    def authorize_egress(self, context: CallContext, params: Params) -> Result:
        return self._authorize(context, params, egress=True)

    def revoke_ingress(self, context: CallContext, params: Params) -> Result:
        return self._revoke(context, params, egress=False)

    def revoke_egress(self, context: CallContext, params: Params) -> Result:
        return self._revoke(context, params, egress=True)

    # --- routes, zones, tags -------------------------------------------------------------------

    def describe_route_tables(self, context: CallContext, params: Params) -> Result:
        account = context.account_id
        found, token = self._network.describe_route_tables(
            account, context.region, _query(params, "RouteTableIds")
        )
        active = self._network.active_peerings(account, context.region)
        rendered = [render.route_table(t, account, active) for t in found]
        return render.paged("RouteTables", rendered, token)

    def create_route(self, context: CallContext, params: Params) -> Result:
        self._network.create_route(
            context.account_id,
            context.region,
            params["RouteTableId"],
            params.get("DestinationCidrBlock"),
            {kind: params.get(kind) for kind in ROUTE_TARGETS},
        )
        return {"Return": True}

    def delete_route(self, context: CallContext, params: Params) -> Result:
        self._network.delete_route(
            context.account_id,
            context.region,
            params["RouteTableId"],
            params.get("DestinationCidrBlock"),
        )
        return {}

    # --- peering connections --------------------------------------------------------------------

    def create_peering(self, context: CallContext, params: Params) -> Result:
        made = self._peerings.create_peering(
            context.account_id,
            context.region,
            params["VpcId"],
            params.get("PeerVpcId"),
            params.get("PeerOwnerId"),
            params.get("PeerRegion"),
            _specifications(params),
        )
        return {"VpcPeeringConnection": render.peering(made)}

    def accept_peering(self, context: CallContext, params: Params) -> Result:
        accepted = self._peerings.accept_peering(
            context.account_id, context.region, params["VpcPeeringConnectionId"]
        )
        return {"VpcPeeringConnection": render.peering(accepted)}

    def reject_peering(self, context: CallContext, params: Params) -> Result:
        self._peerings.reject_peering(
            context.account_id, context.region, params["VpcPeeringConnectionId"]
        )
        return {"Return": True}

    def delete_peering(self, context: CallContext, params: Params) -> Result:
        self._peerings.delete_peering(
            context.account_id, context.region, params["VpcPeeringConnectionId"]
        )
        return {"Return": True}

    def describe_peerings(self, context: CallContext, params: Params) -> Result:
        found, token = self._peerings.describe_peerings(
            context.account_id, context.region, _query(params, "VpcPeeringConnectionIds")
        )
        rendered = [render.peering(p) for p in found]
        return render.paged("VpcPeeringConnections", rendered, token)

    def describe_availability_zones(self, context: CallContext, params: Params) -> Result:
        filters = _query(params, "ZoneNames").filters
        found = self._network.zones(
            context.region, params.get("ZoneNames", []), params.get("ZoneIds", []), filters
        )
        return {"AvailabilityZones": [render.zone(z) for z in found]}

    def create_tags(self, context: CallContext, params: Params) -> Result:
        self._network.create_tags(
            context.account_id, context.region, params["Resources"], _tags(params["Tags"])
        )
        return {}

    def delete_tags(self, context: CallContext, params: Params) -> Result:
        removed = [(t.get("Key", ""), t.get("Value")) for t in params.get("Tags", [])]
        self._network.delete_tags(context.account_id, context.region, params["Resources"], removed)
        return {}

    def describe_tags(self, context: CallContext, params: Params) -> Result:
        found, token = self._network.describe_tags(
            context.account_id, context.region, _query(params, "")
        )
        return render.paged("Tags", [render.tag_description(d) for d in found], token)
