"""IAM's records: a row per role, user, managed policy, inline policy, attachment and access
key, each a JSON document beside the columns it is found by, through the SQL port
(`gureum.aws.sql`): `iam.sqlite3` in the data directory, or PostgreSQL (`migrations/`).

Names are keyed in lower case (IAM's names are unique regardless of case), so a uniqueness
check and the insert that follows it run in one transaction (`transaction()`), and two
concurrent CreateRole calls for `App` and `app` cannot both succeed, whichever processes they
reach (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's advisory lock of the store). Access keys have
a table of their own, keyed by id alone, because the front door finds a key before it knows the
account.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from gureum.aws.sql import Backend, Sql, StoreSpec
from gureum.iam.domain.entities import (
    AccessKeyRecord,
    Attachment,
    Holder,
    KeyStatus,
    ManagedPolicy,
    PolicyVersion,
    Role,
    User,
    key_of,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    account TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, owner TEXT NOT NULL,
    document TEXT NOT NULL, PRIMARY KEY (account, kind, key));
CREATE INDEX IF NOT EXISTS records_of ON records (account, kind, owner);
CREATE TABLE IF NOT EXISTS access_keys (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, user TEXT NOT NULL, document TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS access_keys_of ON access_keys (account, user);
"""
SPEC = StoreSpec("iam", "iam.sqlite3", SCHEMA, "gureum.iam.store")

ROLE, USER, POLICY = "role", "user", "policy"


def _inline_kind(holder: Holder) -> str:
    return f"{holder.value}-policy"


def _attachment_kind(holder: Holder) -> str:
    return f"{holder.value}-attachment"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _tags(raw: list[list[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in raw)


def _role_document(role: Role) -> dict[str, Any]:
    return {
        "name": role.name,
        "id": role.role_id,
        "path": role.path,
        "trust": role.trust_policy,
        "created": role.created.isoformat(),
        "max_session": role.max_session,
        "description": role.description,
        "tags": list(role.tags),
    }


def _role(account: str, doc: dict[str, Any]) -> Role:
    return Role(
        account,
        doc["name"],
        doc["id"],
        doc["path"],
        doc["trust"],
        _time(doc["created"]),
        doc["max_session"],
        doc["description"],
        _tags(doc["tags"]),
    )


def _user_document(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "id": user.user_id,
        "path": user.path,
        "created": user.created.isoformat(),
        "tags": list(user.tags),
    }


def _user(account: str, doc: dict[str, Any]) -> User:
    return User(
        account, doc["name"], doc["id"], doc["path"], _time(doc["created"]), _tags(doc["tags"])
    )


def _policy_document(policy: ManagedPolicy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "id": policy.policy_id,
        "path": policy.path,
        "created": policy.created.isoformat(),
        "updated": policy.updated.isoformat(),
        "default": policy.default_version,
        "versions": [[v.version_id, v.document, v.created.isoformat()] for v in policy.versions],
        "next": policy.next_version,
        "description": policy.description,
        "tags": list(policy.tags),
    }


def _policy(account: str, doc: dict[str, Any]) -> ManagedPolicy:
    return ManagedPolicy(
        account,
        doc["name"],
        doc["id"],
        doc["path"],
        _time(doc["created"]),
        _time(doc["updated"]),
        doc["default"],
        tuple(PolicyVersion(i, d, _time(c)) for i, d, c in doc["versions"]),
        doc["next"],
        doc["description"],
        _tags(doc["tags"]),
    )


def _key(account: str, user: str, doc: dict[str, Any], key_id: str) -> AccessKeyRecord:
    # The user's name as created (the column holds it in lower case, for lookups).
    name = str(doc.get("user", user))
    return AccessKeyRecord(
        key_id, doc["secret"], account, name, KeyStatus(doc["status"]), _time(doc["created"])
    )


class Records:
    """IAM's rows, inside one transaction."""

    def __init__(self, db: Sql) -> None:
        self._db = db

    # --- generic rows --------------------------------------------------------------------

    def _get(self, account: str, kind: str, key: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT document FROM records WHERE account = ? AND kind = ? AND key = ?",
            (account, kind, key),
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def _put(self, account: str, kind: str, key: str, doc: dict[str, Any], owner: str) -> None:
        self._db.execute(
            "INSERT INTO records (account, kind, key, owner, document) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (account, kind, key) "
            "DO UPDATE SET owner = excluded.owner, document = excluded.document",
            (account, kind, key, owner, json.dumps(doc)),
        )

    def _delete(self, account: str, kind: str, key: str) -> bool:
        cursor = self._db.execute(
            "DELETE FROM records WHERE account = ? AND kind = ? AND key = ?", (account, kind, key)
        )
        return cursor.rowcount > 0

    def _all(self, account: str, kind: str, owner: str | None = None) -> list[dict[str, Any]]:
        if owner is None:
            rows = self._db.execute(
                "SELECT document FROM records WHERE account = ? AND kind = ? ORDER BY key",
                (account, kind),
            )
        else:
            rows = self._db.execute(
                "SELECT document FROM records WHERE account = ? AND kind = ? AND owner = ? "
                "ORDER BY key",
                (account, kind, owner),
            )
        return [dict(json.loads(text)) for (text,) in rows]

    # --- roles and users -----------------------------------------------------------------

    def role(self, account: str, name: str) -> Role | None:
        doc = self._get(account, ROLE, key_of(name))
        return None if doc is None else _role(account, doc)

    def put_role(self, role: Role) -> None:
        self._put(role.account, ROLE, key_of(role.name), _role_document(role), "")

    def delete_role(self, account: str, name: str) -> bool:
        return self._delete(account, ROLE, key_of(name))

    def roles(self, account: str) -> list[Role]:
        return [_role(account, doc) for doc in self._all(account, ROLE)]

    def user(self, account: str, name: str) -> User | None:
        doc = self._get(account, USER, key_of(name))
        return None if doc is None else _user(account, doc)

    def put_user(self, user: User) -> None:
        self._put(user.account, USER, key_of(user.name), _user_document(user), "")

    def delete_user(self, account: str, name: str) -> bool:
        return self._delete(account, USER, key_of(name))

    def users(self, account: str) -> list[User]:
        return [_user(account, doc) for doc in self._all(account, USER)]

    # --- managed policies ----------------------------------------------------------------

    def policy(self, account: str, name: str) -> ManagedPolicy | None:
        doc = self._get(account, POLICY, key_of(name))
        return None if doc is None else _policy(account, doc)

    def put_policy(self, policy: ManagedPolicy) -> None:
        self._put(policy.account, POLICY, key_of(policy.name), _policy_document(policy), "")

    def delete_policy(self, account: str, name: str) -> bool:
        return self._delete(account, POLICY, key_of(name))

    def policies(self, account: str) -> list[ManagedPolicy]:
        return [_policy(account, doc) for doc in self._all(account, POLICY)]

    # --- inline policies and attachments -------------------------------------------------

    def inline(self, account: str, holder: Holder, owner: str, name: str) -> str | None:
        doc = self._get(account, _inline_kind(holder), f"{key_of(owner)}/{name}")
        return None if doc is None else str(doc["document"])

    def put_inline(
        self, account: str, holder: Holder, owner: str, name: str, document: str
    ) -> None:
        key = f"{key_of(owner)}/{name}"
        doc = {"name": name, "document": document}
        self._put(account, _inline_kind(holder), key, doc, key_of(owner))

    def delete_inline(self, account: str, holder: Holder, owner: str, name: str) -> bool:
        return self._delete(account, _inline_kind(holder), f"{key_of(owner)}/{name}")

    def inlines(self, account: str, holder: Holder, owner: str) -> dict[str, str]:
        """name -> document of every inline policy of one role or user."""
        rows = self._all(account, _inline_kind(holder), key_of(owner))
        return {str(doc["name"]): str(doc["document"]) for doc in rows}

    def attach(self, account: str, attachment: Attachment) -> None:
        owner = key_of(attachment.owner)
        doc = {"arn": attachment.policy_arn, "name": attachment.policy_name}
        key = f"{owner} {attachment.policy_arn}"
        self._put(account, _attachment_kind(attachment.holder), key, doc, owner)

    def detach(self, account: str, holder: Holder, owner: str, policy_arn: str) -> bool:
        return self._delete(account, _attachment_kind(holder), f"{key_of(owner)} {policy_arn}")

    def attached(self, account: str, holder: Holder, owner: str) -> list[Attachment]:
        rows = self._all(account, _attachment_kind(holder), key_of(owner))
        return [Attachment(holder, owner, doc["arn"], doc["name"]) for doc in rows]

    def attachment_count(self, account: str, policy_arn: str) -> int:
        """How many roles and users of `account` have `policy_arn` attached."""
        # An attachment's key is its owner's, a space and the policy's ARN (`attach`): matched
        # in SQL both databases speak, where JSON functions differ.
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM records WHERE account = ? AND kind IN (?, ?) "
            "AND key = owner || ' ' || ?",
            (account, "role-attachment", "user-attachment", policy_arn),
        ).fetchone()
        return int(count)

    # --- access keys ---------------------------------------------------------------------

    def access_key(self, key_id: str) -> AccessKeyRecord | None:
        row = self._db.execute(
            'SELECT account, "user", document FROM access_keys WHERE id = ?', (key_id,)
        ).fetchone()
        return None if row is None else _key(row[0], row[1], json.loads(row[2]), key_id)

    def put_access_key(self, key: AccessKeyRecord) -> None:
        doc = {
            "secret": key.secret,
            "status": key.status.value,
            "created": key.created.isoformat(),
            "user": key.user,
        }
        # `user` is a reserved word in PostgreSQL: quoted, it names the column on both.
        self._db.execute(
            'INSERT INTO access_keys (id, account, "user", document) VALUES (?, ?, ?, ?) '
            'ON CONFLICT (id) DO UPDATE SET account = excluded.account, "user" = excluded."user", '
            "document = excluded.document",
            (key.key_id, key.account, key_of(key.user), json.dumps(doc)),
        )

    def delete_access_key(self, key_id: str) -> bool:
        return self._db.execute("DELETE FROM access_keys WHERE id = ?", (key_id,)).rowcount > 0

    def access_keys(self, account: str, user: str) -> list[AccessKeyRecord]:
        rows = self._db.execute(
            'SELECT id, document FROM access_keys WHERE account = ? AND "user" = ? ORDER BY id',
            (account, key_of(user)),
        )
        return [_key(account, user, json.loads(doc), key_id) for key_id, doc in rows]


class IamStore:
    """IAM's database; `transaction()` for lookups and changes alike."""

    def __init__(self, stores: Backend) -> None:
        self._database = stores.open(SPEC)

    @contextmanager
    def transaction(self) -> Iterator[Records]:
        with self._database.transaction() as db:
            yield Records(db)

    @property
    def generation(self) -> int:
        """Moves on every change, in this process or (on PostgreSQL) another: readers that
        cache, such as the front door's, compare it, read before what they cache is read."""
        return self._database.generation

    def close(self) -> None:
        self._database.close()
