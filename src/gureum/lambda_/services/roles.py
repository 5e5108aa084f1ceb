"""Lambda's port to STS: temporary credentials of a function's execution role, for each new
execution environment (the composition root fills it with STS's session service)."""

from __future__ import annotations

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
    """IAM's decision on what a function's execution role may do itself (Lambda acting as
    the role: dead-letter queues, destinations, decrypting its variables). The root fills it
    with IAM's authorizer under `--iam enforce`; without one, everything is allowed."""

    def denied(self, principal: str, action: str, resource: str) -> str | None:
        """None when `principal` (the role's session) may; else AWS's AccessDenied message."""
        ...
