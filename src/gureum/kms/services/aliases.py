"""KMS aliases: friendly names for keys, one account and region at a time.

An alias names exactly one key, and a key may have many. Customers cannot create, retarget or
delete aliases under `alias/aws/`: those belong to AWS-managed keys, which `KeyRing` creates with
their alias on first use. Deleting a key deletes its aliases with it (in the store). Messages name
the alias by its ARN, as AWS's do.
"""

from __future__ import annotations

from dataclasses import replace

from gureum.kms.domain.errors import AliasExists, KeyNotFound
from gureum.kms.domain.keys import (
    KeyAlias,
    KeyUse,
    alias_arn,
    check_alias_name,
    check_alias_target,
    check_usable,
)
from gureum.kms.services.keyring import KeyRing


class KeyAliases:
    """CreateAlias, UpdateAlias, DeleteAlias and ListAliases over one `KeyRing`."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    def create(self, account: str, region: str, name: str, target: str) -> KeyAlias:
        check_alias_name(name)
        check_alias_target(target)
        with self._ring.transaction() as (tx, now):
            if tx.alias(account, region, name) is not None:
                arn = alias_arn(account, region, name)
                raise AliasExists(f"An alias with the name {arn} already exists")
            key = self._ring.resolve(tx, now, account, region, target)
            check_usable(key, KeyUse.MANAGEMENT)
            alias = KeyAlias(account, region, name, key.key_id, now, now)
            tx.put_alias(alias)
            return alias

    def update(self, account: str, region: str, name: str, target: str) -> KeyAlias:
        check_alias_name(name)
        check_alias_target(target)
        with self._ring.transaction() as (tx, now):
            alias = tx.alias(account, region, name)
            if alias is None:
                raise KeyNotFound(f"Alias {alias_arn(account, region, name)} is not found.")
            key = self._ring.resolve(tx, now, account, region, target)
            # A key pending deletion cannot take on a name; the key losing it may be in any state.
            check_usable(key, KeyUse.MANAGEMENT)
            alias = replace(alias, key_id=key.key_id, updated=now)
            tx.put_alias(alias)
            return alias

    def delete(self, account: str, region: str, name: str) -> None:
        check_alias_name(name)
        with self._ring.transaction() as (tx, _):
            if tx.alias(account, region, name) is None:
                raise KeyNotFound(f"Alias {alias_arn(account, region, name)} is not found")
            tx.delete_alias(account, region, name)

    def list(self, account: str, region: str, key_ref: str | None = None) -> list[KeyAlias]:
        with self._ring.transaction() as (tx, now):
            aliases = tx.aliases(account, region)
            if key_ref is None:
                return aliases
            key = self._ring.resolve(tx, now, account, region, key_ref)
            return [alias for alias in aliases if alias.key_id == key.key_id]
