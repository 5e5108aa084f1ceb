"""AssumeRole and GetCallerIdentity, and the sessions they give as a `KeySource` for the front
door."""

from __future__ import annotations

import hmac
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gureum.aws.accounts import AccessKey, ExpiredCredential
from gureum.aws.authorization import authorize
from gureum.aws.policy import (
    ContextValue,
    Decision,
    PolicyRequest,
    evaluate,
    parse_policy,
    role_of_session,
)
from gureum.clock import Clock
from gureum.iam.domain.documents import identity_policy, size_of
from gureum.iam.services.principals import Principals
from gureum.sts.domain.sessions import (
    MAX_SESSION_POLICY,
    Session,
    denied,
    duration_of,
    expiry,
    seal,
    secret_of,
    too_large,
    unseal,
)

_BASE32 = string.ascii_uppercase + "234567"
# A role ARN as Lambda's model admits it (`role/?` then a path): its account and its name.
_ROLE_ARN = re.compile(r"arn:(?:aws[a-zA-Z-]*)?:iam::(\d{12}):role/?(?:[^/]*/)*([^/]+)")


def _derived_role_id(role_arn: str, key: bytes) -> str:
    """A stable AROA... id for a role IAM does not hold."""
    digest = hmac.digest(key, b"role/" + role_arn.encode(), "sha256")
    return "AROA" + "".join(_BASE32[b % 32] for b in digest[:17])


@dataclass(frozen=True, slots=True)
class Caller:
    """Who signed the request, as the front door found them."""

    account: str
    arn: str
    user_id: str


@dataclass(frozen=True, slots=True)
class Credentials:
    session: Session
    secret: str
    token: str


class SessionService:
    """Issues role sessions and recognises them.

    Invariants: a session is issued only when the role exists and its trust policy allows the
    caller (and, with `enforce`, the caller's identity policies allow sts:AssumeRole too, as
    IAM's cross-account rules require); a session's token is good until its expiry, scaled by
    the server's time scale, and only with its own access key id.
    """

    def __init__(
        self,
        principals: Principals,
        clock: Clock,
        key: bytes,
        time_scale: float,
        enforce: bool = False,
    ) -> None:
        self._principals = principals
        self._clock = clock
        self._key = key
        self._scale = time_scale
        self._enforce = enforce

    def assume_role(self, caller: Caller, params: Mapping[str, Any]) -> Credentials:
        role_arn, name = params["RoleArn"], params["RoleSessionName"]
        session_policy: str | None = params.get("Policy")
        if session_policy is not None:
            # A session policy is an identity policy, refused with IAM's messages.
            identity_policy(session_policy)
            if size_of(session_policy) > MAX_SESSION_POLICY:
                raise too_large(size_of(session_policy))
        role = self._principals.role(role_arn)
        if role is None:
            raise denied(caller.arn, role_arn)
        context: dict[str, ContextValue] = {
            "aws:PrincipalAccount": caller.account,
            "aws:PrincipalArn": role_of_session(caller.arn) or caller.arn,
            "aws:userid": caller.user_id,
            "sts:RoleSessionName": name,
            "aws:CurrentTime": self._clock.now().isoformat(),
        }
        if "ExternalId" in params:
            context["sts:ExternalId"] = params["ExternalId"]
        request = PolicyRequest("sts:AssumeRole", role.arn, caller.arn, context)
        trust = parse_policy(role.trust_policy)
        if self._enforce:
            identity = self._principals.identity_policies(caller.arn)
            decision = authorize(
                request, identity=identity, resource=[trust], resource_account=role.account
            )
        else:
            # Without enforcement only resource policies apply, and a trust policy is one.
            decision = evaluate([trust], request)
        if decision is not Decision.ALLOW:
            raise denied(caller.arn, role_arn)
        chained = ":assumed-role/" in caller.arn
        seconds = duration_of(params.get("DurationSeconds"), role.max_session, chained)
        key_id = "ASIA" + "".join(secrets.choice(_BASE32) for _ in range(16))
        ends = expiry(self._clock.now(), seconds, self._scale)
        session = Session(key_id, role.account, role.name, role.role_id, name, ends, session_policy)
        return Credentials(session, secret_of(key_id, self._key), seal(session, self._key))

    def for_service(self, role_arn: str, session_name: str, seconds: int) -> Credentials:
        """A session of `role_arn` that an AWS service starts for itself (Lambda, for a
        function's execution role): no caller's permission is weighed, as the service was given
        the role (CreateFunction checks under `enforce` that the role trusts Lambda). A role
        that does not exist (usual with `--iam off`, where functions name made-up roles) still
        gets a session, with a role id derived from its ARN; it has no policies to act with."""
        match = _ROLE_ARN.fullmatch(role_arn)
        if match is None:
            raise ValueError(f"not a role ARN: {role_arn}")
        account, name = match.groups()
        role = self._principals.role(role_arn)
        role_id = role.role_id if role is not None else _derived_role_id(role_arn, self._key)
        key_id = "ASIA" + "".join(secrets.choice(_BASE32) for _ in range(16))
        ends = expiry(self._clock.now(), seconds, self._scale)
        session = Session(key_id, account, name, role_id, session_name, ends)
        return Credentials(session, secret_of(key_id, self._key), seal(session, self._key))

    # --- the front door's KeySource ------------------------------------------------------

    def find(self, access_key_id: str, session_token: str | None) -> AccessKey | None:
        if not access_key_id.startswith("ASIA") or session_token is None:
            return None
        session = unseal(session_token, self._key)
        if session is None or session.access_key_id != access_key_id:
            return None
        if self._clock.now() >= session.expires:
            raise ExpiredCredential(access_key_id)
        return AccessKey(
            access_key_id,
            secret_of(access_key_id, self._key),
            session.account,
            session.arn,
            session.user_id,
            session_token,
            session.policy,
        )
