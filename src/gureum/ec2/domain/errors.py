"""EC2's errors, with the codes and messages EC2 answers (its model declares none: EC2 names them
in its documentation, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
Every one is a 400 but DryRunOperation (412)."""

from __future__ import annotations

from gureum.aws.errors import ClientError


class InvalidParameterValue(ClientError):
    code = "InvalidParameterValue"


class InvalidParameter(ClientError):
    code = "InvalidParameter"


class InvalidParameterCombination(ClientError):
    code = "InvalidParameterCombination"


class MissingParameter(ClientError):
    code = "MissingParameter"


class DryRunOperation(ClientError):
    code = "DryRunOperation"
    status = 412

    def __init__(self) -> None:
        super().__init__("Request would have succeeded, but DryRun flag is set.")


class InvalidNextToken(ClientError):
    code = "InvalidNextToken"


class InvalidFilter(ClientError):
    code = "InvalidParameterValue"


class VpcNotFound(ClientError):
    code = "InvalidVpcID.NotFound"

    def __init__(self, vpc_id: str) -> None:
        super().__init__(f"The vpc ID '{vpc_id}' does not exist")


class SubnetNotFound(ClientError):
    code = "InvalidSubnetID.NotFound"

    def __init__(self, subnet_id: str) -> None:
        super().__init__(f"The subnet ID '{subnet_id}' does not exist")


class GroupNotFound(ClientError):
    code = "InvalidGroup.NotFound"

    def __init__(self, group: str) -> None:
        super().__init__(f"The security group '{group}' does not exist")


class RouteTableNotFound(ClientError):
    code = "InvalidRouteTableID.NotFound"

    def __init__(self, route_table_id: str) -> None:
        super().__init__(f"The routeTable ID '{route_table_id}' does not exist")


class RouteNotFound(ClientError):
    code = "InvalidRoute.NotFound"

    def __init__(self, route_table_id: str, cidr: str) -> None:
        super().__init__(
            f"no route with destination-cidr-block {cidr} in route table {route_table_id}"
        )


class RouteAlreadyExists(ClientError):
    code = "RouteAlreadyExists"

    def __init__(self, cidr: str) -> None:
        super().__init__(f"The route identified by {cidr} already exists.")


class InvalidVpcRange(ClientError):
    code = "InvalidVpc.Range"

    def __init__(self, cidr: str) -> None:
        super().__init__(f"The CIDR '{cidr}' is invalid.")


class InvalidSubnetRange(ClientError):
    code = "InvalidSubnet.Range"

    def __init__(self, cidr: str) -> None:
        super().__init__(f"The CIDR '{cidr}' is invalid.")


class SubnetConflict(ClientError):
    code = "InvalidSubnet.Conflict"

    def __init__(self, cidr: str) -> None:
        super().__init__(f"The CIDR '{cidr}' conflicts with another subnet")


class DependencyViolation(ClientError):
    code = "DependencyViolation"


class CannotDelete(ClientError):
    code = "CannotDelete"


class GroupDuplicate(ClientError):
    code = "InvalidGroup.Duplicate"


class GroupReserved(ClientError):
    code = "InvalidGroup.Reserved"


class PermissionDuplicate(ClientError):
    code = "InvalidPermission.Duplicate"


class PermissionNotFound(ClientError):
    code = "InvalidPermission.NotFound"

    def __init__(self) -> None:
        super().__init__("The specified rule does not exist in this security group.")


class InvalidId(ClientError):
    code = "InvalidID"

    def __init__(self, resource_id: str) -> None:
        super().__init__(f"The ID '{resource_id}' is not valid")


class VpcIdNotSpecified(ClientError):
    code = "VPCIdNotSpecified"


class InsufficientFreeAddresses(ClientError):
    code = "InsufficientFreeAddressesInSubnet"


class PeeringNotFound(ClientError):
    code = "InvalidVpcPeeringConnectionID.NotFound"

    def __init__(self, peering_id: str) -> None:
        super().__init__(f"The vpcPeeringConnection ID '{peering_id}' does not exist")


class InvalidStateTransition(ClientError):
    code = "InvalidStateTransition"


class OperationNotPermitted(ClientError):
    code = "OperationNotPermitted"
