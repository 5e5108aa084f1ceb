"""Lambda's port to STS: temporary credentials of a function's execution role, for each new
execution environment (the composition root fills it with STS's session service)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from gureum.lambda_.domain.credentials import RoleCredentials


class ExecutionRoles(Protocol):
    def credentials(self, role_arn: str, session_name: str, seconds: int) -> RoleCredentials:
        """A session of `role_arn` named `session_name`, lasting `seconds` (before the server's
        --time-scale), as Lambda assumes the role for an environment. Blocks briefly (reads the
        role); never raises for a role that does not exist (the session then has no policies,
        and acts as nothing under `--iam enforce`)."""
        ...


class RolePermissions(Protocol):
    """IAM's decision on what a principal may do where Lambda asks on its behalf: a function's
    execution role (dead-letter queues, destinations, decrypting its variables) and the signer
    of a request to an AWS_IAM function URL. The root fills it with IAM's authorizer under
    `--iam enforce` (identity policies, and the function's policy in its own account);
    without one, everything is allowed."""

    def denied(
        self,
        principal: str,
        action: str,
        resource: str,
        keys: Mapping[str, str] | None = None,
    ) -> str | None:
        """None when `principal` may; else AWS's AccessDenied message. `keys`: the request's
        condition keys, fixed by its action and resource."""
        ...
