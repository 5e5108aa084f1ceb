"""What Lambda needs of EC2 and EFS, as ports the composition root fills (`app.LambdaNetwork`,
`app.LambdaFileSystems`): Lambda imports neither service.

`FunctionNetwork` checks a VpcConfig when it is set (spec 7.1) and tells EC2 which subnets and
groups functions hold. `FileSystems` checks an access point when FileSystemConfigs names it, and
at each environment start answers where and how to mount it, or refuses with EFSMount* (7.2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.file_systems import Mount, mount_refused


class FunctionNetwork(Protocol):
    """EC2, as Lambda reads it."""

    def subnet_vpcs(self, account: str, region: str, ids: Sequence[str]) -> Mapping[str, str]:
        """The VPC of each subnet named; a subnet that does not exist is left out."""
        ...

    def group_vpcs(self, account: str, region: str, ids: Sequence[str]) -> Mapping[str, str]:
        """The VPC of each security group named; a group that does not exist is left out."""
        ...


class FileSystems(Protocol):
    """EFS (and EC2's reachability rules), as a function's mount needs them."""

    def check_access_point(self, account: str, region: str, arn: str, vpc_id: str) -> None:
        """InvalidParameterValue unless the access point exists and its file system has a mount
        target in `vpc_id` (what Lambda verifies with the caller's DescribeMountTargets)."""
        ...

    def mount(
        self,
        account: str,
        region: str,
        arn: str,
        local_path: str,
        vpc: Mapping[str, Any],
        role: str,
    ) -> Mount:
        """The mount an environment starting now makes, or EFSMountConnectivity (no mount
        target reached on TCP 2049) or EFSMountFailure (refused by the policy, or gone)."""
        ...

    def present(self, mount: Mount, region: str) -> bool:
        """Whether the file system of a mount made earlier still exists (its data with it)."""
        ...

    def access_point_exists(self, account: str, region: str, arn: str) -> bool:
        """Whether the access point (of whichever account its ARN names) exists now."""
        ...


class NoNetwork:
    """A `FunctionNetwork` and `FileSystems` of an empty cloud (a shipped fake): nothing exists,
    so any VpcConfig or FileSystemConfigs is refused as AWS refuses unknown ids."""

    def subnet_vpcs(self, account: str, region: str, ids: Sequence[str]) -> Mapping[str, str]:
        return {}

    def group_vpcs(self, account: str, region: str, ids: Sequence[str]) -> Mapping[str, str]:
        return {}

    def check_access_point(self, account: str, region: str, arn: str, vpc_id: str) -> None:
        raise InvalidParameterValue(f"Access point {arn} does not exist.")

    def mount(
        self,
        account: str,
        region: str,
        arn: str,
        local_path: str,
        vpc: Mapping[str, Any],
        role: str,
    ) -> Mount:
        raise mount_refused(arn)

    def present(self, mount: Mount, region: str) -> bool:
        return True  # nothing was mounted from here

    def access_point_exists(self, account: str, region: str, arn: str) -> bool:
        return False
