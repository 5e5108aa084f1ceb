"""A role's session and the token that carries it, sealed so that only this server could have
issued it.

A session needs no row anywhere: its token holds who it is (account, role, session name) and
when it ends, with an HMAC-SHA256 under the server's key, and its secret key is derived from its
access key id under the same key. The front door opens the token it is sent, checks the seal,
the key id and the expiry, and so refuses a forged, altered or expired token without any
lookup. Tokens survive a restart because the key is kept in the data directory.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gureum.sts.domain.errors import AccessDenied, PackedPolicyTooLarge, StsValidationError

MIN_DURATION = 900
DEFAULT_DURATION = 3600
# A role assumed with a role's session ("role chaining") lasts an hour at most.
CHAINED_LIMIT = 3600
# What AWS's session tokens start with (any SDK treats them as opaque; the prefix says "ours").
_TOKEN_PREFIX = "FQoGZXIvYXdzE"
# A token carries its session policy (2,048 characters at most), so it may be this long.
MAX_TOKEN = 8192
# The most a session policy may take, in characters (whitespace aside): AWS's packed limit.
MAX_SESSION_POLICY = 2048
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@dataclass(frozen=True, slots=True)
class Session:
    access_key_id: str  # ASIA...
    account: str
    role_name: str
    role_id: str  # AROA...
    name: str  # RoleSessionName
    expires: datetime
    # The session policy AssumeRole was given: it limits what the role's policies allow.
    policy: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/{self.name}"

    @property
    def user_id(self) -> str:
        """How GetCallerIdentity and AssumedRoleUser name the session: role id and name."""
        return f"{self.role_id}:{self.name}"


def secret_of(access_key_id: str, key: bytes) -> str:
    """The session's secret access key (40 characters), derived, never stored."""
    digest = hmac.digest(key, b"secret/" + access_key_id.encode(), "sha256")
    digest += hmac.digest(key, b"secret2/" + access_key_id.encode(), "sha256")
    return "".join(_SECRET_ALPHABET[b % 64] for b in digest[:40])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(session: Session, key: bytes) -> str:
    payload = json.dumps(
        [
            session.access_key_id,
            session.account,
            session.role_name,
            session.role_id,
            session.name,
            int(session.expires.timestamp() * 1000),
            session.policy,
        ],
        separators=(",", ":"),
    ).encode()
    mac = hmac.digest(key, payload, "sha256")
    return f"{_TOKEN_PREFIX}{_b64(payload)}.{_b64(mac)}"


def unseal(token: str, key: bytes) -> Session | None:
    """The session `token` carries, or None unless this server sealed it as it is."""
    if not token.startswith(_TOKEN_PREFIX) or len(token) > MAX_TOKEN:
        return None
    body, _, mac_text = token[len(_TOKEN_PREFIX) :].partition(".")
    try:
        payload, mac = _unb64(body), _unb64(mac_text)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(mac, hmac.digest(key, payload, "sha256")):
        return None
    key_id, account, role_name, role_id, name, millis, policy = json.loads(payload)
    expires = datetime.fromtimestamp(millis / 1000, UTC)
    return Session(key_id, account, role_name, role_id, name, expires, policy)


def duration_of(requested: int | None, role_limit: int, chained: bool) -> int:
    """The session's length in seconds, checked against the role's MaxSessionDuration and the
    one-hour limit of role chaining, with AWS's messages."""
    seconds = DEFAULT_DURATION if requested is None else requested
    if chained and seconds > CHAINED_LIMIT:
        raise StsValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
            "by role chaining."
        )
    if seconds > role_limit:
        raise StsValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    return seconds


def expiry(now: datetime, seconds: int, time_scale: float) -> datetime:
    """When a session of `seconds` started `now` ends: scaled, as every platform delay is."""
    return now + timedelta(seconds=seconds * time_scale)


def denied(caller: str, role_arn: str) -> AccessDenied:
    """AWS's refusal, the same whether the role is missing or does not trust the caller (so
    that the answer does not reveal which roles exist)."""
    return AccessDenied(
        f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    )


def packed_size(policy_size: int) -> int:
    """AssumeRole's PackedPolicySize: the percentage of the allowed size a session policy uses."""
    return -(-policy_size * 100 // MAX_SESSION_POLICY)


def too_large(policy_size: int) -> PackedPolicyTooLarge:
    return PackedPolicyTooLarge(
        f"Packed policy consumes {packed_size(policy_size)}% of allotted space, please use "
        "smaller policy for the session."
    )
