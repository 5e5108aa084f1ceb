"""IAM, built from the kernel: its services (STS and the front door read `principals`) and its
query endpoint. IAM is global: clients sign for us-east-1 whatever region they use."""

from __future__ import annotations

from dataclasses import dataclass

from gureum.aws.frontend import ServiceEndpoint
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.protocols.query import QUERY_AUTH_ERRORS, QueryProtocol
from gureum.iam.api import IamApi
from gureum.iam.services.authorizer import Authorizer
from gureum.iam.services.holders import PolicyHolders
from gureum.iam.services.policies import PolicyService
from gureum.iam.services.principals import Principals
from gureum.iam.services.roles import RoleService
from gureum.iam.services.users import UserService
from gureum.iam.store.records import IamStore


@dataclass(eq=False)
class Iam(Assembly):
    roles: RoleService
    users: UserService
    policies: PolicyService
    principals: Principals
    endpoint: ServiceEndpoint
    store: IamStore
    # The front door's authorizer under `--iam enforce`; None when IAM is off.
    authorizer: Authorizer | None

    def close(self) -> None:
        self.store.close()


def assemble(kernel: Kernel) -> Iam:
    store = IamStore(kernel.stores)
    principals = Principals(store)
    roles = RoleService(store, kernel.clock, principals.check_trusted)
    users = UserService(store, kernel.clock)
    policies = PolicyService(store, kernel.clock)
    api = IamApi(roles, users, policies, PolicyHolders(store))
    endpoint = ServiceEndpoint(
        "iam",
        QueryProtocol(kernel.model("iam"), QUERY_AUTH_ERRORS),
        api.handlers(),
    )
    enforce = kernel.settings.iam == "enforce"
    authorizer = Authorizer(store, principals) if enforce else None
    return Iam(roles, users, policies, principals, endpoint, store, authorizer)
