"""IAM as the other services see it: who an access key signs as, whether a principal exists,
and the identity policies of a user or role (for STS and for authorization)."""

from __future__ import annotations

import re
import threading

from gureum.aws.accounts import AccessKey
from gureum.aws.policy import Policy, parse_policy
from gureum.iam.domain.entities import Holder, KeyStatus, Role
from gureum.iam.domain.errors import MalformedPolicyDocument
from gureum.iam.services.policies import find_policy
from gureum.iam.store.records import IamStore, Records

_ENTITY = re.compile(r"arn:aws:iam::(\d{12}):(user|role)(/(?:[^/]+/)*)([^/]+)")
# Past this many cached keys the cache starts again.
_CACHE_LIMIT = 10_000
_SESSION = re.compile(r"arn:aws:sts::(\d{12}):assumed-role/([^/]+)/.+")


class Principals:
    """The read side of IAM other services use.

    `find` is a `KeySource` for the front door: an IAM user's active key, as that user. Its
    answers are cached until IAM's store changes (a deleted or deactivated key stops working
    with the next request).
    """

    def __init__(self, store: IamStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._cache: dict[str, AccessKey] = {}
        self._generation = -1
        self._roles: dict[str, Role | None] = {}
        self._roles_generation = -1

    def find(self, access_key_id: str, session_token: str | None) -> AccessKey | None:
        if not access_key_id.startswith("AKIA"):
            return None
        with self._lock:
            if self._generation != self._store.generation:
                self._cache.clear()
                self._generation = self._store.generation
            cached = self._cache.get(access_key_id)
            generation = self._generation
        if cached is not None:
            return cached
        found = self._lookup(access_key_id)
        if found is not None:  # unknown ids are not kept: anyone can send endless new ones
            with self._lock:
                if generation != self._store.generation:
                    return found  # IAM changed meanwhile: answer, but keep nothing stale
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[access_key_id] = found
        return found

    def _lookup(self, access_key_id: str) -> AccessKey | None:
        with self._store.transaction() as records:
            key = records.access_key(access_key_id)
            if key is None or key.status is not KeyStatus.ACTIVE:
                return None
            user = records.user(key.account, key.user)
        if user is None:
            return None
        return AccessKey(key.key_id, key.secret, key.account, user.arn, user.user_id)

    def check_trusted(self, principal: str) -> None:
        """Refuses a trust policy's principal naming a user or role that does not exist."""
        match = _ENTITY.fullmatch(principal)
        if match is None:
            return
        account, kind, path, name = match.groups()
        with self._store.transaction() as records:
            found = records.user(account, name) if kind == "user" else records.role(account, name)
        if found is None or found.path != path:
            raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{principal}"')

    def role(self, role_arn: str) -> Role | None:
        """The role `role_arn` names, if it exists (in whichever account). Cached until IAM's
        store changes: every new Lambda execution environment asks for its role's id."""
        match = _ENTITY.fullmatch(role_arn)
        if match is None or match.group(2) != "role":
            return None
        with self._lock:
            if self._roles_generation != self._store.generation:
                self._roles.clear()
                self._roles_generation = self._store.generation
            if role_arn in self._roles:
                return self._roles[role_arn]
            generation = self._roles_generation
        account, _, path, name = match.groups()
        with self._store.transaction() as records:
            role = records.role(account, name)
        found = role if role is not None and role.path == path else None
        with self._lock:
            if generation == self._store.generation:
                if len(self._roles) >= _CACHE_LIMIT:
                    self._roles.clear()
                self._roles[role_arn] = found
        return found

    def identity_policies(self, principal: str) -> list[Policy]:
        """The inline and attached managed policies of a user, a role, or a role's session."""
        session = _SESSION.fullmatch(principal)
        entity = _ENTITY.fullmatch(principal)
        if session is not None:
            account, name, holder = session.group(1), session.group(2), Holder.ROLE
        elif entity is not None:
            account, name = entity.group(1), entity.group(4)
            holder = Holder.USER if entity.group(2) == "user" else Holder.ROLE
        else:
            return []
        with self._store.transaction() as records:
            return _policies_of(records, account, holder, name)


def _policies_of(records: Records, account: str, holder: Holder, name: str) -> list[Policy]:
    texts = list(records.inlines(account, holder, name).values())
    for attachment in records.attached(account, holder, name):
        policy = find_policy(records, account, attachment.policy_arn)
        if policy is not None:
            texts.append(policy.document)
    return [parse_policy(text) for text in texts]
