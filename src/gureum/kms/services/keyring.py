"""The machinery every KMS operation shares: one `KeyRing` per key database.

It owns the key store, the root key and the clock, and offers what `KeyService`'s operations are
made of: a transaction that first deletes the keys whose pending window has passed, resolving a
caller's key reference (creating an AWS-managed key on first use of its alias), creating keys with
fresh wrapped material, and sealing and opening ciphertexts with lazy rotation.

Material is unwrapped only for the operation at hand and never cached or logged. Randomness (key
ids, key material, nonces) comes from injected callables, so tests can make it deterministic.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from gureum.clock import Clock
from gureum.kms.domain import envelope
from gureum.kms.domain.errors import IncorrectKey, InvalidCiphertext, KeyNotFound, KmsInternal
from gureum.kms.domain.keys import (
    MANAGED_ALIASES,
    RESERVED_PREFIX,
    Key,
    KeyAlias,
    KeyManager,
    KeyUse,
    alias_arn,
    check_usable,
    key_arn,
    parse_key_ref,
    rotated,
    rotation_due,
)
from gureum.kms.store.keys import KeyStore, KeyTransaction
from gureum.kms.store.root_key import RootKeyError

DAY = timedelta(days=1)
DEFAULT_ROTATION_DAYS = 365
_ROOT_CHECK = "root-key-check"
_ROOT_CHECK_LABEL = b"gureum-kms-root-key-check"


@dataclass(frozen=True, slots=True)
class Sealed:
    key: Key
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class Opened:
    key: Key
    plaintext: bytes


@dataclass(frozen=True, slots=True)
class DataKey:
    key: Key
    plaintext: bytes
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class ReEncrypted:
    source: Key
    destination: Key
    ciphertext: bytes


def new_key_id() -> str:
    return str(uuid.uuid4())


class KeyRing:
    """Keys, their wrapped material and the root key behind one store, on one clock."""

    def __init__(
        self,
        store: KeyStore,
        root: bytes,
        clock: Clock,
        time_scale: float,
        random_bytes: Callable[[int], bytes] = os.urandom,
        new_key_id: Callable[[], str] = new_key_id,
    ) -> None:
        self._store = store
        self._root = root
        self._clock = clock
        self._time_scale = time_scale
        self._random = random_bytes
        self._new_key_id = new_key_id

    def check_root_key(self) -> None:
        """Records a check value on first start; refuses a root key that cannot open it."""
        with self._store.transaction() as tx:
            check = tx.setting(_ROOT_CHECK)
            if check is None:
                nonce = self._random(envelope.NONCE_BYTES)
                tx.put_setting(
                    _ROOT_CHECK, envelope.wrap(self._root, nonce, _ROOT_CHECK_LABEL, b"")
                )
            elif envelope.unwrap(self._root, _ROOT_CHECK_LABEL, check) is None:
                raise RootKeyError(
                    "the root key is not the one this key database was made with; start with "
                    "the original root.key or GUREUM_ROOT_KEY"
                )

    def days(self, days: int) -> timedelta:
        return DAY * days * self._time_scale

    def purge(self) -> int:
        """Deletes every key, in any account, whose pending window has passed; returns how many."""
        with self._store.transaction() as tx:
            return tx.delete_due(self._clock.now())

    @contextmanager
    def transaction(self) -> Iterator[tuple[KeyTransaction, datetime]]:
        now = self._clock.now()
        with self._store.transaction() as tx:
            tx.delete_due(now)
            yield tx, now

    def resolve(
        self, tx: KeyTransaction, now: datetime, account: str, region: str, ref: str
    ) -> Key:
        parsed = parse_key_ref(ref, account, region)
        key_id = parsed.key_id
        if parsed.alias is not None:
            alias = tx.alias(account, region, parsed.alias)
            if alias is None and parsed.alias in MANAGED_ALIASES:
                alias = self.create_managed(tx, now, account, region, parsed.alias)
            if alias is None:
                raise KeyNotFound(f"Alias {alias_arn(account, region, parsed.alias)} is not found.")
            key_id = alias.key_id
        assert key_id is not None
        key = tx.key(account, region, key_id)
        if key is None:
            raise KeyNotFound(f"Key '{key_arn(account, region, key_id)}' does not exist")
        return key

    def new_key(
        self,
        tx: KeyTransaction,
        now: datetime,
        account: str,
        region: str,
        description: str,
        manager: KeyManager = KeyManager.CUSTOMER,
        tags: tuple[tuple[str, str], ...] = (),
        rotation_days: int | None = None,
    ) -> Key:
        key = Key(
            account,
            region,
            self._new_key_id(),
            now,
            description,
            manager,
            tags=tags,
            rotation_period_days=rotation_days,
            next_rotation=None if rotation_days is None else now + self.days(rotation_days),
        )
        tx.put_key(key)
        self.add_material(tx, key)
        return key

    def create_managed(
        self, tx: KeyTransaction, now: datetime, account: str, region: str, name: str
    ) -> KeyAlias:
        # AWS-managed keys rotate every year, and no one may turn that off.
        description = MANAGED_ALIASES.get(
            name, f"Default key for {name.removeprefix(RESERVED_PREFIX)}"
        )
        key = self.new_key(
            tx,
            now,
            account,
            region,
            description,
            KeyManager.AWS,
            rotation_days=DEFAULT_ROTATION_DAYS,
        )
        alias = KeyAlias(account, region, name, key.key_id, now, now)
        tx.put_alias(alias)
        return alias

    def add_material(self, tx: KeyTransaction, key: Key) -> None:
        label = envelope.material_label(key.account, key.region, key.key_id, key.material_version)
        material = self._random(envelope.MATERIAL_BYTES)
        nonce = self._random(envelope.NONCE_BYTES)
        wrapped = envelope.wrap(self._root, nonce, label, material)
        tx.add_material(key.account, key.region, key.key_id, key.material_version, wrapped)

    def material(self, tx: KeyTransaction, key: Key, version: int) -> bytes:
        wrapped = tx.material(key.account, key.region, key.key_id, version)
        if wrapped is None:  # a version this key never had: not one of its ciphertexts
            raise InvalidCiphertext()
        label = envelope.material_label(key.account, key.region, key.key_id, version)
        material = envelope.unwrap(self._root, label, wrapped)
        if material is None:
            raise KmsInternal(f"The key material of {key.arn} cannot be unwrapped.")
        return material

    def rotate(self, tx: KeyTransaction, key: Key, next_rotation: datetime | None) -> Key:
        """A new current material version for `key`; older versions stay to decrypt."""
        key = rotated(key, next_rotation)
        tx.put_key(key)
        self.add_material(tx, key)
        return key

    def seal(
        self,
        tx: KeyTransaction,
        now: datetime,
        key: Key,
        plaintext: bytes,
        context: Mapping[str, str] | None,
    ) -> Sealed:
        check_usable(key, KeyUse.CRYPTOGRAPHY)
        if rotation_due(key, now):
            assert key.rotation_period_days is not None
            key = self.rotate(tx, key, now + self.days(key.rotation_period_days))
        ciphertext = envelope.seal(
            self.material(tx, key, key.material_version),
            self._random(envelope.NONCE_BYTES),
            key.key_id,
            key.account,
            key.region,
            key.material_version,
            plaintext,
            context,
        )
        return Sealed(key, ciphertext)

    def open(
        self,
        tx: KeyTransaction,
        now: datetime,
        account: str,
        region: str,
        ciphertext: bytes,
        context: Mapping[str, str] | None,
        key_ref: str | None,
    ) -> Opened:
        sealed = envelope.parse(ciphertext)
        # Another account's or region's ciphertext is not one this caller can open, whatever it
        # claims: the same answer as a tampered one, so it reveals nothing about the other key.
        if sealed.account != account or sealed.region != region:
            raise InvalidCiphertext()
        key = tx.key(account, region, sealed.key_id)
        if key is None:
            raise KeyNotFound(f"Key '{key_arn(account, region, sealed.key_id)}' does not exist")
        if key_ref is not None and self.resolve(tx, now, account, region, key_ref) != key:
            raise IncorrectKey(
                "The key ID in the request does not identify a CMK that can perform this operation."
            )
        check_usable(key, KeyUse.CRYPTOGRAPHY)
        material = self.material(tx, key, sealed.material_version)
        return Opened(key, envelope.open_sealed(material, sealed, context))
