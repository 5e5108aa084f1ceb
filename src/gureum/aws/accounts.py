"""Accounts and their access keys, as data, and who signs with each key.

gureum starts with AWS's well-known local default (account `000000000000`, key `test`/`test`).
Any other account needs no configuration: as in LocalStack, an access key id of twelve digits
names that account (secret `test`), signing as its root user. IAM users' keys and STS's session
credentials come from `KeySource`s the composition root adds (the kernel imports no service).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

DEFAULT_ACCOUNT_ID = "000000000000"
# The secret of every account's numeric key, as LocalStack's users expect.
ACCOUNT_KEY_SECRET = "test"
_ACCOUNT_KEY = re.compile(r"\d{12}", re.ASCII)


def root_arn(account_id: str) -> str:
    """The account's root user, the principal its numeric key signs as."""
    return f"arn:aws:iam::{account_id}:root"


@dataclass(frozen=True, slots=True)
class AccessKey:
    """One access key: who signs with it and the secret that proves it.

    `principal_arn` and `user_id` are what STS's GetCallerIdentity answers for the signer (for
    root, the account's root ARN and the account id). A key with a `session_token` is a
    temporary credential: the request must carry that token (its source refuses it once
    expired).
    """

    access_key_id: str
    secret_access_key: str
    account_id: str
    principal_arn: str = ""
    user_id: str = ""
    session_token: str | None = None
    # A session's session policy (AssumeRole's `Policy`), which bounds what it may do.
    session_policy: str | None = None

    @property
    def principal(self) -> str:
        return self.principal_arn or root_arn(self.account_id)

    @property
    def caller_id(self) -> str:
        return self.user_id or self.account_id


DEFAULT_ACCESS_KEY = AccessKey("test", "test", DEFAULT_ACCOUNT_ID)


class ExpiredCredential(Exception):
    """The session token was genuine but its credentials have expired."""


class KeySource(Protocol):
    """Keys the directory does not hold itself (IAM users' keys, STS sessions)."""

    def find(self, access_key_id: str, session_token: str | None) -> AccessKey | None:
        """The key, or None if this source does not know it (or the token is not genuine).
        Raises `ExpiredCredential` for a genuine session past its expiry."""
        ...


class AccountDirectory:
    """Looks up the account and secret behind an access key id."""

    def __init__(self, keys: Iterable[AccessKey], sources: Sequence[KeySource] = ()) -> None:
        self._keys = {key.access_key_id: key for key in keys}
        self._sources = list(sources)

    def find(self, access_key_id: str, session_token: str | None = None) -> AccessKey | None:
        key = self._keys.get(access_key_id)
        if key is not None:
            return key
        if _ACCOUNT_KEY.fullmatch(access_key_id):
            return AccessKey(access_key_id, ACCOUNT_KEY_SECRET, access_key_id)
        for source in self._sources:
            found = source.find(access_key_id, session_token)
            if found is not None:
                return found
        return None
