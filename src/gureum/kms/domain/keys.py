"""KMS keys: their lifecycle as a state machine, how callers name them, and the alias rules.

    Enabled ──DisableKey──> Disabled ──EnableKey──> Enabled
    Enabled | Disabled ──ScheduleKeyDeletion──> PendingDeletion ──CancelKeyDeletion──> Disabled
    PendingDeletion ──(window passed)──> deleted: the record and its material are gone

Transitions are a table; any other move is the caller's fault and raises AWS's
`KMSInvalidStateException`. Which operations a key accepts in each state is a second table
(`KeyUse`), following https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html: a
disabled key refuses cryptography with `DisabledException`, a key pending deletion refuses
cryptography and changes with `KMSInvalidStateException`, and both can still be described.

Everything here is pure: times arrive as arguments and ids are minted by the service.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from gureum.aws.errors import ValidationError
from gureum.kms.domain.errors import (
    InvalidAliasName,
    InvalidKeyUsage,
    KeyDisabled,
    KeyInvalidState,
    KeyNotFound,
    KmsAccessDenied,
    NotAuthorized,
    TagRejected,
    UnsupportedKeyOperation,
)

# --- the lifecycle ------------------------------------------------------------------------------


class KeyState(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PENDING_DELETION = "PendingDeletion"


class KeyEvent(StrEnum):
    ENABLE = "EnableKey"
    DISABLE = "DisableKey"
    SCHEDULE_DELETION = "ScheduleKeyDeletion"
    CANCEL_DELETION = "CancelKeyDeletion"


TRANSITIONS: Mapping[tuple[KeyState, KeyEvent], KeyState] = {
    (KeyState.ENABLED, KeyEvent.ENABLE): KeyState.ENABLED,
    (KeyState.ENABLED, KeyEvent.DISABLE): KeyState.DISABLED,
    (KeyState.DISABLED, KeyEvent.ENABLE): KeyState.ENABLED,
    (KeyState.DISABLED, KeyEvent.DISABLE): KeyState.DISABLED,
    (KeyState.ENABLED, KeyEvent.SCHEDULE_DELETION): KeyState.PENDING_DELETION,
    (KeyState.DISABLED, KeyEvent.SCHEDULE_DELETION): KeyState.PENDING_DELETION,
    # AWS brings a key back from PendingDeletion disabled, never enabled.
    (KeyState.PENDING_DELETION, KeyEvent.CANCEL_DELETION): KeyState.DISABLED,
}


class KeyUse(StrEnum):
    """What an operation does with a key, which decides the states it accepts."""

    CRYPTOGRAPHY = "cryptography"  # Encrypt, Decrypt, GenerateDataKey*, ReEncrypt
    ROTATION = "rotation"  # Enable/DisableKeyRotation, RotateKeyOnDemand
    MANAGEMENT = "management"  # alias targets, tags, description
    READ = "read"  # DescribeKey, ListAliases, ListResourceTags, GetKeyRotationStatus


USABLE_IN: Mapping[KeyUse, frozenset[KeyState]] = {
    KeyUse.CRYPTOGRAPHY: frozenset({KeyState.ENABLED}),
    KeyUse.ROTATION: frozenset({KeyState.ENABLED}),
    KeyUse.MANAGEMENT: frozenset({KeyState.ENABLED, KeyState.DISABLED}),
    KeyUse.READ: frozenset(KeyState),
}


class KeyManager(StrEnum):
    AWS = "AWS"
    CUSTOMER = "CUSTOMER"


@dataclass(frozen=True, slots=True)
class Key:
    """One symmetric key's metadata; its material lives apart, wrapped under the root key.

    `material_version` names the material that encrypts now; older versions stay so that
    ciphertexts from before a rotation still open. `rotation_period_days` is None while automatic
    rotation is off.
    """

    account: str
    region: str
    key_id: str
    created: datetime
    description: str = ""
    manager: KeyManager = KeyManager.CUSTOMER
    state: KeyState = KeyState.ENABLED
    deletion_date: datetime | None = None
    pending_window_days: int | None = None
    rotation_period_days: int | None = None
    next_rotation: datetime | None = None
    material_version: int = 1
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def arn(self) -> str:
        return key_arn(self.account, self.region, self.key_id)


def key_arn(account: str, region: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def moved(key: Key, event: KeyEvent) -> KeyState:
    """The state `event` takes `key` to, or AWS's error for a move the table does not have."""
    target = TRANSITIONS.get((key.state, event))
    if target is not None:
        return target
    if key.state is KeyState.PENDING_DELETION:
        raise KeyInvalidState(f"{key.arn} is pending deletion.")
    raise KeyInvalidState(f"{key.arn} is not pending deletion.")


def check_usable(key: Key, use: KeyUse) -> None:
    if key.state in USABLE_IN[use]:
        return
    if key.state is KeyState.DISABLED:
        raise KeyDisabled(f"{key.arn} is disabled.")
    raise KeyInvalidState(f"{key.arn} is pending deletion.")


def check_customer_managed(key: Key, operation: str, account: str) -> None:
    """AWS-managed keys belong to the service that made them: their key policy lets no one
    disable, delete, rotate or tag them, and KMS says so as IAM does."""
    if key.manager is KeyManager.AWS:
        raise KmsAccessDenied(
            f"User: arn:aws:iam::{account}:root is not authorized to perform: kms:{operation} "
            f"on resource: {key.arn} because no resource-based policy allows the "
            f"kms:{operation} action"
        )


MIN_PENDING_WINDOW_DAYS = 7
MAX_PENDING_WINDOW_DAYS = 30
DEFAULT_PENDING_WINDOW_DAYS = 30


def scheduled(key: Key, now: datetime, window_days: int, window: timedelta) -> Key:
    """ScheduleKeyDeletion: `window` is `window_days` as the platform's clock runs (scaled)."""
    if not MIN_PENDING_WINDOW_DAYS <= window_days <= MAX_PENDING_WINDOW_DAYS:
        raise ValidationError(
            f"PendingWindowInDays should be between {MIN_PENDING_WINDOW_DAYS} and "
            f"{MAX_PENDING_WINDOW_DAYS}, but it is {window_days}"
        )
    state = moved(key, KeyEvent.SCHEDULE_DELETION)
    return replace(key, state=state, deletion_date=now + window, pending_window_days=window_days)


def cancelled(key: Key) -> Key:
    state = moved(key, KeyEvent.CANCEL_DELETION)
    return replace(key, state=state, deletion_date=None, pending_window_days=None)


def deletion_due(key: Key, now: datetime) -> bool:
    return (
        key.state is KeyState.PENDING_DELETION
        and key.deletion_date is not None
        and now >= key.deletion_date
    )


def rotation_due(key: Key, now: datetime) -> bool:
    return key.next_rotation is not None and now >= key.next_rotation


def rotated(key: Key, next_rotation: datetime | None) -> Key:
    """`key` with a new current material version, and the next automatic rotation's date."""
    return replace(key, material_version=key.material_version + 1, next_rotation=next_rotation)


SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
AWS_KMS = "AWS_KMS"
_SYMMETRIC_ONLY = (
    "gureum's KMS supports only symmetric encryption keys made by KMS: KeySpec SYMMETRIC_DEFAULT, "
    "KeyUsage ENCRYPT_DECRYPT, Origin AWS_KMS, single-Region."
)


def check_key_spec(key_spec: str, key_usage: str, origin: str, multi_region: bool) -> None:
    """CreateKey: the one kind of key gureum makes (asymmetric, HMAC and imported keys are not)."""
    if (key_spec, key_usage, origin, multi_region) != (
        SYMMETRIC_DEFAULT,
        ENCRYPT_DECRYPT,
        AWS_KMS,
        False,
    ):
        raise UnsupportedKeyOperation(_SYMMETRIC_ONLY)


def check_algorithm(algorithm: str) -> None:
    if algorithm != SYMMETRIC_DEFAULT:
        raise InvalidKeyUsage(
            f"Algorithm {algorithm} is incompatible with key spec SYMMETRIC_DEFAULT."
        )


# --- naming keys --------------------------------------------------------------------------------

_KEY_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}|mrk-[0-9a-f]{32}")
_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:kms:(?P<region>[^:]*):(?P<account>[^:]*):"
    r"(?P<kind>key/|alias/)(?P<name>.+)"
)


@dataclass(frozen=True, slots=True)
class KeyRef:
    """A key as a caller named it: by id (`key_id`) or by alias (`alias`, `alias/...`)."""

    key_id: str | None = None
    alias: str | None = None


def parse_key_ref(value: str, account: str, region: str) -> KeyRef:
    """Key id, key ARN, alias name or alias ARN, with the errors AWS gives for each kind of miss."""
    if value.startswith("alias/"):
        return KeyRef(alias=value)
    if value.startswith("arn:"):
        match = _ARN.fullmatch(value)
        if match is None:
            raise KeyNotFound(f"Invalid keyId '{value}'")
        if match["region"] != region:
            raise KeyNotFound(f"Invalid arn {match['region']}")
        if match["kind"] == "alias/":
            if match["account"] != account:
                raise KeyNotFound(f"Alias {value} is not found.")
            return KeyRef(alias="alias/" + match["name"])
        if match["account"] != account:
            raise KeyNotFound(f"Key '{value}' does not exist")
        value = match["name"]
    if not _KEY_ID.fullmatch(value):
        raise KeyNotFound(f"Invalid keyId '{value}'")
    return KeyRef(key_id=value)


# --- aliases ------------------------------------------------------------------------------------

ALIAS_PREFIX = "alias/"
RESERVED_PREFIX = "alias/aws/"
ALIAS_PREFIX_MESSAGE = (
    'Alias must start with the prefix "alias/". Please see '
    "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
)
# The AWS-managed keys a reference may bring into being, as using them in a service does on AWS.
MANAGED_ALIASES: Mapping[str, str] = {
    "alias/aws/lambda": (
        "Default master key that protects my Lambda functions when no other key is defined"
    ),
    "alias/aws/sqs": "Default key that protects my SQS messages when no other key is defined",
    "alias/aws/logs": "Default key that protects my CloudWatch Logs when no other key is defined",
}


@dataclass(frozen=True, slots=True)
class KeyAlias:
    account: str
    region: str
    name: str
    key_id: str
    created: datetime
    updated: datetime

    @property
    def arn(self) -> str:
        return alias_arn(self.account, self.region, self.name)


def alias_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:kms:{region}:{account}:{name}"


def check_alias_name(name: str) -> None:
    """The rules CreateAlias, UpdateAlias and DeleteAlias apply beyond the model's pattern."""
    if not name.startswith(ALIAS_PREFIX):
        raise ValidationError(ALIAS_PREFIX_MESSAGE)
    if name == ALIAS_PREFIX:
        raise InvalidAliasName(f"Alias name {name} is not valid.")
    if ":" in name:
        raise ValidationError(f"{name} contains invalid characters for an alias")
    if name.startswith(RESERVED_PREFIX):
        raise NotAuthorized("")


def check_alias_target(target: str) -> None:
    if target.startswith(ALIAS_PREFIX) or ":alias/" in target:
        raise ValidationError("Aliases must refer to keys. Not aliases")


# --- tags ---------------------------------------------------------------------------------------


Tags = tuple[tuple[str, str], ...]


def tagged(existing: Iterable[tuple[str, str]], new: Iterable[tuple[str, str]]) -> Tags:
    """`existing` with `new` added, a repeated key taking its latest value (TagResource)."""
    merged = dict(existing)
    for key, value in new:
        if key.lower().startswith("aws:"):
            raise TagRejected("Tags beginning with aws: are reserved")
        merged[key] = value
    return tuple(merged.items())


def untagged(existing: Iterable[tuple[str, str]], keys: Iterable[str]) -> Tags:
    """UntagResource: removing a tag the key does not have is not an error."""
    gone = set(keys)
    return tuple((key, value) for key, value in existing if key not in gone)
