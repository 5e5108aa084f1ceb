"""Functions' "network interfaces": the subnets and security groups functions configured in a VPC
hold, told to EC2 as its `Holder` so that deleting one in use is a DependencyViolation, as it is
in AWS while Lambda's interfaces are in it."""

from __future__ import annotations

from collections.abc import Collection

from gureum.lambda_.domain.functions import FunctionSettings
from gureum.lambda_.store.ports import Store


def _held_by(settings: FunctionSettings) -> set[str]:
    vpc = settings.vpc_config
    if vpc is None:
        return set()
    return {*vpc.get("SubnetIds", []), *vpc.get("SecurityGroupIds", [])}


class NetworkInterfaces:
    """EC2's `Holder` over the function store: every version's VpcConfig counts ($LATEST and
    published ones, which keep theirs)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def held(self, account: str, region: str, resource_ids: Collection[str]) -> Collection[str]:
        used: set[str] = set()
        with self._store.transaction() as tx:
            for function in tx.list_functions(account, region, None, 1 << 30):
                used |= _held_by(function.latest.settings)
                for version in tx.list_versions(function, 0, 1 << 30):
                    used |= _held_by(version.settings)
        return used & set(resource_ids)

    def addresses(self, account: str, region: str, subnet_id: str) -> Collection[str]:
        """Lambda's interfaces take no address of the model (AWS's Hyperplane ENIs are shared and
        few); only mount targets' are counted."""
        return ()
