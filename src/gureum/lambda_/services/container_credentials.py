"""Credentials served over HTTP to SnapStart environments, as AWS serves them.

A SnapStart environment is restored from a snapshot taken once, at publish, so whatever is in
its environment variables is as old as the snapshot; a role session there would expire while
the version still restores. AWS's SnapStart runtimes therefore get no keys at all but
`AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN`, and the SDKs fetch
a fresh session of the execution role from that address when they need one (the container
credentials provider every AWS SDK has). gureum does the same: the address is its own
endpoint's `/_gureum/credentials` (on the environment's loopback, as the SDKs require for plain
HTTP), and the token names the function's role and session, one per (role, function).
"""

from __future__ import annotations

import secrets
from datetime import UTC
from typing import Any

from gureum.lambda_.domain.credentials import LIFETIME_S
from gureum.lambda_.sandbox.environment import CREDENTIALS_PATH as PATH
from gureum.lambda_.services.roles import ExecutionRoles

__all__ = ["PATH", "ContainerCredentials"]


class ContainerCredentials:
    """Tokens for SnapStart templates, and the sessions they are answered with."""

    def __init__(self, roles: ExecutionRoles) -> None:
        self._roles = roles
        self._tokens: dict[str, tuple[str, str]] = {}
        self._by_session: dict[tuple[str, str], str] = {}

    def token(self, role_arn: str, function_name: str) -> str:
        """The token of a function's role session (the same one each time: no token piles up
        however often its snapshot is taken again)."""
        key = (role_arn, function_name)
        found = self._by_session.get(key)
        if found is None:
            found = secrets.token_urlsafe(32)
            self._by_session[key] = found
            self._tokens[found] = key
        return found

    def answer(self, token: str) -> dict[str, Any] | None:
        """The container credentials document for `token`; None for a token it never gave."""
        found = self._tokens.get(token)
        if found is None:
            return None
        role_arn, function_name = found
        session = self._roles.credentials(role_arn, function_name, LIFETIME_S)
        expires = session.expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": session.secret_access_key,
            "Token": session.session_token,
            "Expiration": expires,
        }
