"""Accounts and their access keys, as data.

gureum starts with AWS's well-known local default (account `000000000000`, key `test`/`test`);
more accounts are more entries, which is what cross-account features (resource policies, EFS
access across accounts) build on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_ACCOUNT_ID = "000000000000"


@dataclass(frozen=True, slots=True)
class AccessKey:
    """One IAM access key: who signs with it and the secret that proves it."""

    access_key_id: str
    secret_access_key: str
    account_id: str


DEFAULT_ACCESS_KEY = AccessKey("test", "test", DEFAULT_ACCOUNT_ID)


class AccountDirectory:
    """Looks up the account and secret behind an access key id."""

    def __init__(self, keys: Iterable[AccessKey]) -> None:
        self._keys = {key.access_key_id: key for key in keys}

    def find(self, access_key_id: str) -> AccessKey | None:
        return self._keys.get(access_key_id)
