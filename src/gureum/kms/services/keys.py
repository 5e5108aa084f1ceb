"""The KMS key service: symmetric keys per account and region, and the cryptography done with them.

Invariants (the machinery is `gureum.kms.services.keyring`):
- Key material is in the clear only in memory, for one operation. At rest it is wrapped under the
  root key, which never enters the key database: the operator's `GUREUM_ROOT_KEY` (base64 of 32
  bytes) when set, else `root.key` in the shared directory, created with mode 0600 on first use
  (`gureum.kms.store.root_key`). A database made under another root key is refused at start-up,
  by every process that opens it (the check value is in the database, `KeyRing.check_root_key`).
- A ciphertext (`gureum.kms.domain.envelope`) opens only in the account and region that made
  it, with its own key's material and encryption context, and only while that key is Enabled.
- Deletion and rotation are lazy, on the injected clock with periods times `time_scale`: a key
  whose pending window has passed is deleted (with material and aliases) at the start of the next
  transaction; with rotation on, the first encryption after the rotation date adds a material
  version. Old versions are kept, so old ciphertexts still decrypt.

`GUREUM_ROOT_KEY` is read here, not from `Settings`, on purpose: the composition root builds this
service with a fixed signature, and an operator secret is better kept out of the settings object.
`environ` lets tests supply their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from gureum.aws.errors import ValidationError
from gureum.aws.sql import Backend
from gureum.clock import Clock
from gureum.kms.domain.keys import (
    AWS_KMS,
    DEFAULT_PENDING_WINDOW_DAYS,
    ENCRYPT_DECRYPT,
    RESERVED_PREFIX,
    SYMMETRIC_DEFAULT,
    Key,
    KeyEvent,
    KeyUse,
    cancelled,
    check_customer_managed,
    check_key_spec,
    check_usable,
    moved,
    scheduled,
    tagged,
    untagged,
)
from gureum.kms.services.aliases import KeyAliases
from gureum.kms.services.keyring import (
    DEFAULT_ROTATION_DAYS,
    DataKey,
    KeyRing,
    Opened,
    ReEncrypted,
    Sealed,
    new_key_id,
)
from gureum.kms.store.keys import SqlKeyStore
from gureum.kms.store.root_key import load_root_key

DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}


class KeyService:
    """KMS keys, aliases and cryptography; every method is one transaction on the key store.

    `account` and `region` are the caller's; a key reference may be a key id, key ARN, alias name
    or alias ARN. Errors are the KMS model's (`gureum.kms.domain.errors`), with AWS's messages.
    """

    def __init__(
        self,
        stores: Backend,
        root_key_file: Path,
        clock: Clock,
        time_scale: float,
        *,
        environ: Mapping[str, str] | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        new_key_id: Callable[[], str] = new_key_id,
    ) -> None:
        root = load_root_key(root_key_file, os.environ if environ is None else environ)
        self._store = SqlKeyStore(stores)
        self._ring = KeyRing(self._store, root, clock, time_scale, random_bytes, new_key_id)
        self._random = random_bytes
        self.aliases = KeyAliases(self._ring)
        try:
            self._ring.check_root_key()
        except BaseException:
            self._store.close()
            raise

    @property
    def generation(self) -> int:
        """Moves whenever anything about the keys changed (state, aliases, material, a key
        deleted when due): what a key allows is the same as long as this stays put."""
        return self._store.generation

    def close(self) -> None:
        self._store.close()

    def purge_deleted(self) -> int:
        return self._ring.purge()

    def random(self, size: int | None) -> bytes:
        """GenerateRandom: bytes from the service's source of randomness."""
        if size is None:
            raise ValidationError("NumberOfBytes is required.")
        return self._random(size)

    # --- keys ---------------------------------------------------------------------------------

    def create_key(
        self,
        account: str,
        region: str,
        description: str = "",
        tags: Iterable[tuple[str, str]] = (),
        *,
        key_spec: str = SYMMETRIC_DEFAULT,
        key_usage: str = ENCRYPT_DECRYPT,
        origin: str = AWS_KMS,
        multi_region: bool = False,
    ) -> Key:
        check_key_spec(key_spec, key_usage, origin, multi_region)
        with self._ring.transaction() as (tx, now):
            return self._ring.new_key(tx, now, account, region, description, tags=tagged((), tags))

    def describe_key(self, account: str, region: str, key_ref: str) -> Key:
        with self._ring.transaction() as (tx, now):
            key = self._ring.resolve(tx, now, account, region, key_ref)
            check_usable(key, KeyUse.READ)
            return key

    def list_keys(self, account: str, region: str) -> list[Key]:
        with self._ring.transaction() as (tx, _):
            return tx.keys(account, region)

    def managed_key_arn(self, account: str, region: str, alias: str) -> str:
        """The ARN of the AWS-managed key `alias` (e.g. alias/aws/lambda), created on first use."""
        if not alias.startswith(RESERVED_PREFIX):
            raise ValueError(f"{alias} is not the alias of an AWS-managed key")
        with self._ring.transaction() as (tx, now):
            found = tx.alias(account, region, alias)
            if found is None:
                found = self._ring.create_managed(tx, now, account, region, alias)
            key = tx.key(account, region, found.key_id)
            assert key is not None  # an alias is deleted with its key
            return key.arn

    def _change(
        self,
        account: str,
        region: str,
        key_ref: str,
        operation: str,
        change: Callable[[Key, datetime], Key],
    ) -> Key:
        """One read-modify-write of a customer-managed key."""
        with self._ring.transaction() as (tx, now):
            key = self._ring.resolve(tx, now, account, region, key_ref)
            check_customer_managed(key, operation, account)
            changed = change(key, now)
            if changed != key:
                tx.put_key(changed)
            return changed

    def _move(self, account: str, region: str, key_ref: str, event: KeyEvent) -> Key:
        return self._change(
            account, region, key_ref, event.value, lambda k, _: replace(k, state=moved(k, event))
        )

    def enable_key(self, account: str, region: str, key_ref: str) -> Key:
        return self._move(account, region, key_ref, KeyEvent.ENABLE)

    def disable_key(self, account: str, region: str, key_ref: str) -> Key:
        return self._move(account, region, key_ref, KeyEvent.DISABLE)

    def schedule_key_deletion(
        self, account: str, region: str, key_ref: str, window_days: int | None = None
    ) -> Key:
        days = DEFAULT_PENDING_WINDOW_DAYS if window_days is None else window_days
        return self._change(
            account,
            region,
            key_ref,
            "ScheduleKeyDeletion",
            lambda k, now: scheduled(k, now, days, self._ring.days(days)),
        )

    def cancel_key_deletion(self, account: str, region: str, key_ref: str) -> Key:
        return self._change(
            account, region, key_ref, "CancelKeyDeletion", lambda k, _: cancelled(k)
        )

    def update_key_description(
        self, account: str, region: str, key_ref: str, description: str
    ) -> Key:
        def describe(key: Key, _: datetime) -> Key:
            check_usable(key, KeyUse.MANAGEMENT)
            return replace(key, description=description)

        return self._change(account, region, key_ref, "UpdateKeyDescription", describe)

    def enable_key_rotation(
        self, account: str, region: str, key_ref: str, period_days: int | None = None
    ) -> Key:
        days = DEFAULT_ROTATION_DAYS if period_days is None else period_days

        def enable(key: Key, now: datetime) -> Key:
            check_usable(key, KeyUse.ROTATION)
            return replace(
                key, rotation_period_days=days, next_rotation=now + self._ring.days(days)
            )

        return self._change(account, region, key_ref, "EnableKeyRotation", enable)

    def disable_key_rotation(self, account: str, region: str, key_ref: str) -> Key:
        def disable(key: Key, _: datetime) -> Key:
            check_usable(key, KeyUse.ROTATION)
            return replace(key, rotation_period_days=None, next_rotation=None)

        return self._change(account, region, key_ref, "DisableKeyRotation", disable)

    def rotate_key_on_demand(self, account: str, region: str, key_ref: str) -> Key:
        with self._ring.transaction() as (tx, now):
            key = self._ring.resolve(tx, now, account, region, key_ref)
            check_customer_managed(key, "RotateKeyOnDemand", account)
            check_usable(key, KeyUse.ROTATION)
            # On-demand rotation leaves the automatic schedule where it was.
            return self._ring.rotate(tx, key, key.next_rotation)

    def tag_key(
        self, account: str, region: str, key_ref: str, tags: Iterable[tuple[str, str]]
    ) -> Key:
        def tag(key: Key, _: datetime) -> Key:
            check_usable(key, KeyUse.MANAGEMENT)
            return replace(key, tags=tagged(key.tags, tags))

        return self._change(account, region, key_ref, "TagResource", tag)

    def untag_key(self, account: str, region: str, key_ref: str, tag_keys: Iterable[str]) -> Key:
        def untag(key: Key, _: datetime) -> Key:
            check_usable(key, KeyUse.MANAGEMENT)
            return replace(key, tags=untagged(key.tags, tag_keys))

        return self._change(account, region, key_ref, "UntagResource", untag)

    # --- cryptography -------------------------------------------------------------------------

    def seal(
        self,
        account: str,
        region: str,
        key_ref: str,
        plaintext: bytes,
        context: Mapping[str, str] | None = None,
    ) -> Sealed:
        with self._ring.transaction() as (tx, now):
            key = self._ring.resolve(tx, now, account, region, key_ref)
            return self._ring.seal(tx, now, key, plaintext, context)

    def encrypt(
        self,
        account: str,
        region: str,
        key_id: str,
        plaintext: bytes,
        context: Mapping[str, str] | None = None,
    ) -> bytes:
        return self.seal(account, region, key_id, plaintext, context).ciphertext

    def unseal(
        self,
        account: str,
        region: str,
        ciphertext: bytes,
        context: Mapping[str, str] | None = None,
        key_ref: str | None = None,
    ) -> Opened:
        with self._ring.transaction() as (tx, now):
            return self._ring.open(tx, now, account, region, ciphertext, context, key_ref)

    def decrypt(
        self,
        account: str,
        region: str,
        ciphertext: bytes,
        context: Mapping[str, str] | None = None,
    ) -> bytes:
        return self.unseal(account, region, ciphertext, context).plaintext

    def generate_data_key(
        self,
        account: str,
        region: str,
        key_ref: str,
        key_spec: str | None = None,
        number_of_bytes: int | None = None,
        context: Mapping[str, str] | None = None,
    ) -> DataKey:
        if (key_spec is None) == (number_of_bytes is None):
            raise ValidationError("Please specify either number of bytes or key spec.")
        size = DATA_KEY_BYTES[key_spec] if key_spec is not None else number_of_bytes
        assert size is not None
        plaintext = self._random(size)
        sealed = self.seal(account, region, key_ref, plaintext, context)
        return DataKey(sealed.key, plaintext, sealed.ciphertext)

    def re_encrypt(
        self,
        account: str,
        region: str,
        ciphertext: bytes,
        destination_ref: str,
        source_context: Mapping[str, str] | None = None,
        destination_context: Mapping[str, str] | None = None,
        source_ref: str | None = None,
    ) -> ReEncrypted:
        """Decrypts and encrypts again in one transaction: the plaintext never leaves it."""
        with self._ring.transaction() as (tx, now):
            opened = self._ring.open(
                tx, now, account, region, ciphertext, source_context, source_ref
            )
            destination = self._ring.resolve(tx, now, account, region, destination_ref)
            sealed = self._ring.seal(tx, now, destination, opened.plaintext, destination_context)
            return ReEncrypted(opened.key, sealed.key, sealed.ciphertext)
