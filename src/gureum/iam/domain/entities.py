"""IAM's entities as values: roles, users, managed policies and their versions, access keys.

IAM is global: its ARNs name no region (`arn:aws:iam::<account>:role/<path><name>`). Names are
unique in an account regardless of case (`Admin` and `admin` are one role), and keep the case
they were created with. Unique ids are a four-letter prefix saying what they name (AROA a role,
AIDA a user, ANPA a managed policy, AKIA an access key) and a random tail, as AWS's are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

# Whose managed policies the AWS managed ones are: their ARNs name `aws` for the account.
AWS_ACCOUNT = "aws"
MAX_POLICY_VERSIONS = 5
MAX_ACCESS_KEYS = 2
MAX_ATTACHED_POLICIES = 10
# Sizes IAM counts in characters, whitespace aside (IAM's quotas page).
MAX_TRUST_POLICY = 2048
MAX_MANAGED_POLICY = 6144
MAX_ROLE_INLINE = 10240
MAX_USER_INLINE = 2048
DEFAULT_MAX_SESSION = 3600

Tags = tuple[tuple[str, str], ...]


class Prefix(StrEnum):
    ROLE = "AROA"
    USER = "AIDA"
    POLICY = "ANPA"
    ACCESS_KEY = "AKIA"
    SESSION_KEY = "ASIA"


class KeyStatus(StrEnum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"


class Holder(StrEnum):
    """What a policy is attached to, or an inline policy embedded in."""

    ROLE = "role"
    USER = "user"


def arn(account: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


def key_of(name: str) -> str:
    """The name as the store keys it: unique regardless of case."""
    return name.lower()


@dataclass(frozen=True, slots=True)
class Role:
    account: str
    name: str
    role_id: str
    path: str
    trust_policy: str  # the JSON text as given
    created: datetime
    max_session: int = DEFAULT_MAX_SESSION
    description: str | None = None
    tags: Tags = ()

    @property
    def arn(self) -> str:
        return arn(self.account, "role", self.path, self.name)


@dataclass(frozen=True, slots=True)
class User:
    account: str
    name: str
    user_id: str
    path: str
    created: datetime
    tags: Tags = ()

    @property
    def arn(self) -> str:
        return arn(self.account, "user", self.path, self.name)


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version_id: str  # v1, v2, ...: never reused within a policy
    document: str
    created: datetime


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    account: str  # AWS_ACCOUNT for AWS's own
    name: str
    policy_id: str
    path: str
    created: datetime
    updated: datetime
    default_version: str
    versions: tuple[PolicyVersion, ...]
    next_version: int
    description: str | None = None
    tags: Tags = ()

    @property
    def arn(self) -> str:
        return arn(self.account, "policy", self.path, self.name)

    @property
    def document(self) -> str:
        """The default version's document: the one IAM evaluates."""
        return self.version(self.default_version).document  # type: ignore[union-attr]

    def version(self, version_id: str) -> PolicyVersion | None:
        return next((v for v in self.versions if v.version_id == version_id), None)


@dataclass(frozen=True, slots=True)
class AccessKeyRecord:
    key_id: str
    secret: str
    account: str
    user: str
    status: KeyStatus
    created: datetime


@dataclass(frozen=True, slots=True)
class Attachment:
    holder: Holder
    owner: str  # the role's or user's name
    policy_arn: str
    policy_name: str


def policy_arn_parts(policy_arn: str) -> tuple[str, str, str] | None:
    """(account, path, name) of a managed policy's ARN, or None if it names no policy."""
    parts = policy_arn.split(":", 5)
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "iam"] or parts[3]:
        return None
    account, resource = parts[4], parts[5]
    if not resource.startswith("policy/"):
        return None
    path, _, name = resource[len("policy") :].rpartition("/")
    if not name:
        return None
    return account, path + "/", name
