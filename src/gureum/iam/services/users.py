"""Users and their access keys (long-term credentials that sign requests with SigV4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gureum.clock import Clock
from gureum.iam.domain.entities import (
    MAX_ACCESS_KEYS,
    AccessKeyRecord,
    Holder,
    KeyStatus,
    Prefix,
    User,
)
from gureum.iam.domain.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    NoSuchEntity,
)
from gureum.iam.domain.paging import page
from gureum.iam.domain.tags import tagged, untagged
from gureum.iam.services.holders import require
from gureum.iam.services.ids import access_key_id, secret_access_key, unique_id
from gureum.iam.store.records import IamStore


class UserService:
    """CreateUser, GetUser, ListUsers, DeleteUser and the access key operations.

    Invariants: a user has at most two access keys; a user is deleted only once it has no
    access keys, inline or attached policies left (so no key outlives its user).
    """

    def __init__(self, store: IamStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def create(self, account: str, params: Mapping[str, Any]) -> User:
        user = User(
            account,
            params["UserName"],
            unique_id(Prefix.USER),
            params.get("Path", "/"),
            self._clock.now(),
            tuple((t["Key"], t["Value"]) for t in params.get("Tags", [])),
        )
        with self._store.transaction() as records:
            if records.user(account, user.name) is not None:
                raise EntityAlreadyExists(f"User with name {user.name} already exists.")
            records.put_user(user)
        return user

    def get(self, account: str, name: str) -> User:
        with self._store.transaction() as records:
            user = records.user(account, name)
        if user is None:
            raise NoSuchEntity(f"The user with name {name} cannot be found.")
        return user

    def listing(self, account: str, params: Mapping[str, Any]) -> tuple[list[User], str | None]:
        with self._store.transaction() as records:
            users = records.users(account)
        prefix = params.get("PathPrefix", "/")
        chosen = [u for u in users if u.path.startswith(prefix)]
        return page(chosen, lambda u: u.name.lower(), params.get("Marker"), params.get("MaxItems"))

    def delete(self, account: str, name: str) -> None:
        with self._store.transaction() as records:
            user = records.user(account, name)
            if user is None:
                raise NoSuchEntity(f"The user with name {name} cannot be found.")
            if records.access_keys(account, user.name):
                raise DeleteConflict("Cannot delete entity, must delete access keys first.")
            if records.attached(account, Holder.USER, user.name):
                raise DeleteConflict("Cannot delete entity, must detach all policies first.")
            if records.inlines(account, Holder.USER, user.name):
                raise DeleteConflict("Cannot delete entity, must delete policies first.")
            records.delete_user(account, user.name)

    def tag(self, account: str, name: str, tags: list[dict[str, str]]) -> None:
        pairs = [(t["Key"], t["Value"]) for t in tags]
        with self._store.transaction() as records:
            user = self._found(records.user(account, name), name)
            records.put_user(replace(user, tags=tagged(user.tags, pairs, "TagsPerUser")))

    def untag(self, account: str, name: str, keys: list[str]) -> None:
        with self._store.transaction() as records:
            user = self._found(records.user(account, name), name)
            records.put_user(replace(user, tags=untagged(user.tags, keys)))

    @staticmethod
    def _found(user: User | None, name: str) -> User:
        if user is None:
            raise NoSuchEntity(f"The user with name {name} cannot be found.")
        return user

    # --- access keys ---------------------------------------------------------------------

    def create_key(self, account: str, name: str) -> AccessKeyRecord:
        with self._store.transaction() as records:
            name = require(records, account, Holder.USER, name)
            if len(records.access_keys(account, name)) >= MAX_ACCESS_KEYS:
                raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS}")
            key = AccessKeyRecord(
                access_key_id(Prefix.ACCESS_KEY),
                secret_access_key(),
                account,
                name,
                KeyStatus.ACTIVE,
                self._clock.now(),
            )
            records.put_access_key(key)
        return key

    def keys(self, account: str, name: str) -> list[AccessKeyRecord]:
        with self._store.transaction() as records:
            name = require(records, account, Holder.USER, name)
            return records.access_keys(account, name)

    def update_key(self, account: str, name: str, key_id: str, status: str) -> None:
        with self._store.transaction() as records:
            name = require(records, account, Holder.USER, name)
            key = records.access_key(key_id)
            if key is None or key.account != account or key.user.lower() != name.lower():
                raise NoSuchEntity(f"The Access Key with id {key_id} cannot be found.")
            records.put_access_key(replace(key, status=KeyStatus(status)))

    def delete_key(self, account: str, name: str, key_id: str) -> None:
        with self._store.transaction() as records:
            name = require(records, account, Holder.USER, name)
            key = records.access_key(key_id)
            if key is None or key.account != account or key.user.lower() != name.lower():
                raise NoSuchEntity(f"The Access Key with id {key_id} cannot be found.")
            records.delete_access_key(key_id)
