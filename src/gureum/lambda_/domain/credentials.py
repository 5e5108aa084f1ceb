"""An execution environment's credentials: a session of the function's execution role
(session name = function name), and when the environment must stop taking invocations so that
no invocation outlives them.

An environment's variables are fixed at Init (as on AWS), so its credentials cannot be renewed
in place: an environment is retired once the rest of its credentials' life is shorter than one
invocation may take (the function's timeout, which is never scaled, plus a minute), or than half
their life when that is shorter (under a small --time-scale), and the next invocation starts a
new one with a new session. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

# How long an environment's session lasts (scaled by --time-scale, as STS scales every
# session): longer than provisioned environments live (4 hours, then recycled).
LIFETIME_S = 6 * 3600
# Room for the invocation that starts just before the environment is retired.
SLACK_S = 60


@dataclass(frozen=True, slots=True)
class RoleCredentials:
    """A role session's temporary credentials. The secret and the token stay out of `repr`,
    so no log line can show them."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    issued: datetime
    expires: datetime

    def retire_at(self, timeout_s: float) -> float:
        """When an environment holding these stops taking invocations (epoch seconds)."""
        life = self.expires - self.issued
        margin = min(timedelta(seconds=timeout_s + SLACK_S), life / 2)
        return (self.expires - margin).timestamp()

    def variables(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


def session_arn(role_arn: str, function_name: str) -> str:
    """The ARN a function's code acts as: its execution role's session named after it."""
    parts = role_arn.split(":", 5)
    account, resource = parts[4], parts[5]  # the model's pattern has made sure of both
    role = resource.removeprefix("role").rsplit("/", 1)[-1]
    return f"arn:aws:sts::{account}:assumed-role/{role}/{function_name}"


def kms_denied(message: str) -> str:
    """Lambda's KMSAccessDeniedException message when the role may not decrypt the variables'
    key (spec 3.4: no space between the KMS exception's code and "KMS Message")."""
    return (
        "Lambda was unable to decrypt the environment variables because KMS access was denied. "
        "Please check the function's KMS key settings. KMS Exception: "
        f"AccessDeniedExceptionKMS Message: {message}"
    )
