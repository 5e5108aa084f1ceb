"""Roles: created with a trust policy that says who may assume them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from gureum.clock import Clock
from gureum.iam.domain.documents import trust_policy
from gureum.iam.domain.entities import DEFAULT_MAX_SESSION, Holder, Prefix, Role
from gureum.iam.domain.errors import DeleteConflict, EntityAlreadyExists, NoSuchEntity
from gureum.iam.domain.paging import page
from gureum.iam.domain.tags import tagged, untagged
from gureum.iam.services.ids import unique_id
from gureum.iam.store.records import IamStore

# Checks that every IAM principal a trust policy names exists (AWS refuses the document with
# "Invalid principal in policy" otherwise); filled by `TrustPrincipals`.
PrincipalCheck = Callable[[str], None]


class RoleService:
    """CreateRole, GetRole, ListRoles, DeleteRole, UpdateAssumeRolePolicy.

    Invariants: a role's trust policy is always a valid one (checked when created and
    updated); a role is deleted only once it has no inline or attached policies left.
    """

    def __init__(self, store: IamStore, clock: Clock, check_principals: PrincipalCheck) -> None:
        self._store = store
        self._clock = clock
        self._check_principals = check_principals

    def _trust(self, document: str) -> None:
        policy = trust_policy(document)
        for statement in policy.statements:
            for principal in statement.principals or ():
                self._check_principals(principal)

    def create(self, account: str, params: Mapping[str, Any]) -> Role:
        document = params["AssumeRolePolicyDocument"]
        self._trust(document)
        role = Role(
            account,
            params["RoleName"],
            unique_id(Prefix.ROLE),
            params.get("Path", "/"),
            document,
            self._clock.now(),
            params.get("MaxSessionDuration", DEFAULT_MAX_SESSION),
            params.get("Description"),
            tuple((t["Key"], t["Value"]) for t in params.get("Tags", [])),
        )
        with self._store.transaction() as records:
            if records.role(account, role.name) is not None:
                raise EntityAlreadyExists(f"Role with name {role.name} already exists.")
            records.put_role(role)
        return role

    def get(self, account: str, name: str) -> Role:
        with self._store.transaction() as records:
            role = records.role(account, name)
        if role is None:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        return role

    def listing(self, account: str, params: Mapping[str, Any]) -> tuple[list[Role], str | None]:
        with self._store.transaction() as records:
            roles = records.roles(account)
        prefix = params.get("PathPrefix", "/")
        chosen = [r for r in roles if r.path.startswith(prefix)]
        return page(chosen, lambda r: r.name.lower(), params.get("Marker"), params.get("MaxItems"))

    def delete(self, account: str, name: str) -> None:
        with self._store.transaction() as records:
            role = records.role(account, name)
            if role is None:
                raise NoSuchEntity(f"The role with name {name} cannot be found.")
            if records.attached(account, Holder.ROLE, role.name):
                raise DeleteConflict("Cannot delete entity, must detach all policies first.")
            if records.inlines(account, Holder.ROLE, role.name):
                raise DeleteConflict("Cannot delete entity, must delete policies first.")
            records.delete_role(account, role.name)

    def update_trust(self, account: str, name: str, document: str) -> None:
        self._trust(document)
        with self._store.transaction() as records:
            role = records.role(account, name)
            if role is None:
                raise NoSuchEntity(f"The role with name {name} cannot be found.")
            records.put_role(replace(role, trust_policy=document))

    def update(self, account: str, name: str, params: Mapping[str, Any]) -> None:
        """UpdateRole and UpdateRoleDescription: the description and the session limit."""
        with self._store.transaction() as records:
            role = self._found(records.role(account, name), name)
            changed = replace(
                role,
                description=params.get("Description", role.description),
                max_session=params.get("MaxSessionDuration", role.max_session),
            )
            records.put_role(changed)

    def tag(self, account: str, name: str, tags: list[dict[str, str]]) -> None:
        pairs = [(t["Key"], t["Value"]) for t in tags]
        with self._store.transaction() as records:
            role = self._found(records.role(account, name), name)
            records.put_role(replace(role, tags=tagged(role.tags, pairs, "TagsPerRole")))

    def untag(self, account: str, name: str, keys: list[str]) -> None:
        with self._store.transaction() as records:
            role = self._found(records.role(account, name), name)
            records.put_role(replace(role, tags=untagged(role.tags, keys)))

    @staticmethod
    def _found(role: Role | None, name: str) -> Role:
        if role is None:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        return role
