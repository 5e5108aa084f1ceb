"""Managed policies: customer managed ones per account, with up to five versions each, and the
AWS managed ones every account sees (read-only)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gureum.clock import Clock
from gureum.iam.domain.documents import identity_policy
from gureum.iam.domain.entities import (
    AWS_ACCOUNT,
    MAX_MANAGED_POLICY,
    MAX_POLICY_VERSIONS,
    ManagedPolicy,
    PolicyVersion,
    Prefix,
    policy_arn_parts,
)
from gureum.iam.domain.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    IamValidationError,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
)
from gureum.iam.domain.managed import AWS_MANAGED
from gureum.iam.domain.paging import page
from gureum.iam.services.ids import unique_id
from gureum.iam.store.records import IamStore, Records


def find_policy(records: Records, account: str, policy_arn: str) -> ManagedPolicy | None:
    """The managed policy `policy_arn` names, as `account` sees it (its own and AWS's)."""
    managed = AWS_MANAGED.get(policy_arn)
    if managed is not None:
        return managed
    parts = policy_arn_parts(policy_arn)
    if parts is None or parts[0] != account:
        return None
    found = records.policy(account, parts[2])
    return found if found is not None and found.path == parts[1] else None


def _checked_arn(policy_arn: str) -> None:
    if policy_arn_parts(policy_arn) is None:
        raise IamValidationError(f"ARN {policy_arn} is not valid.")


class PolicyService:
    """CreatePolicy, GetPolicy, ListPolicies, DeletePolicy and the version operations.

    Invariants: a policy has between one and five versions, exactly one of them the default;
    version ids are never reused; a policy attached to a role or user cannot be deleted; AWS
    managed policies cannot be changed.
    """

    def __init__(self, store: IamStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def create(self, account: str, params: Mapping[str, Any]) -> ManagedPolicy:
        document = params["PolicyDocument"]
        identity_policy(document, MAX_MANAGED_POLICY)
        now = self._clock.now()
        version = PolicyVersion("v1", document, now)
        policy = ManagedPolicy(
            account,
            params["PolicyName"],
            unique_id(Prefix.POLICY),
            params.get("Path", "/"),
            now,
            now,
            "v1",
            (version,),
            2,
            params.get("Description"),
            tuple((t["Key"], t["Value"]) for t in params.get("Tags", [])),
        )
        with self._store.transaction() as records:
            if records.policy(account, policy.name) is not None:
                raise EntityAlreadyExists(
                    f"A policy called {policy.name} already exists. Duplicate names are not "
                    "allowed."
                )
            records.put_policy(policy)
        return policy

    def get(self, account: str, policy_arn: str) -> tuple[ManagedPolicy, int]:
        """The policy and how many of `account`'s roles and users have it attached."""
        _checked_arn(policy_arn)
        with self._store.transaction() as records:
            policy = find_policy(records, account, policy_arn)
            if policy is None:
                raise NoSuchEntity(f"Policy {policy_arn} was not found.")
            return policy, records.attachment_count(account, policy_arn)

    def listing(
        self, account: str, params: Mapping[str, Any]
    ) -> tuple[list[tuple[ManagedPolicy, int]], str | None]:
        scope = params.get("Scope", "All")
        prefix = params.get("PathPrefix", "/")
        with self._store.transaction() as records:
            found: list[ManagedPolicy] = []
            if scope in ("All", "Local"):
                found += records.policies(account)
            if scope in ("All", "AWS"):
                found += AWS_MANAGED.values()
            counted = [(p, records.attachment_count(account, p.arn)) for p in found]
        chosen = [
            (p, n)
            for p, n in counted
            if p.path.startswith(prefix) and (n > 0 or not params.get("OnlyAttached"))
        ]
        return page(chosen, lambda item: item[0].arn, params.get("Marker"), params.get("MaxItems"))

    def delete(self, account: str, policy_arn: str) -> None:
        _checked_arn(policy_arn)
        with self._store.transaction() as records:
            policy = self._own(records, account, policy_arn)
            if records.attachment_count(account, policy_arn):
                raise DeleteConflict("Cannot delete a policy attached to entities.")
            if len(policy.versions) > 1:
                raise DeleteConflict(
                    "This policy has more than one version. Before you delete a "
                    "policy, you must delete the policy's versions. The default "
                    "version is deleted with the policy."
                )
            records.delete_policy(account, policy.name)

    # --- versions ------------------------------------------------------------------------

    def create_version(
        self, account: str, policy_arn: str, document: str, set_default: bool
    ) -> PolicyVersion:
        _checked_arn(policy_arn)
        identity_policy(document, MAX_MANAGED_POLICY)
        with self._store.transaction() as records:
            policy = self._own(records, account, policy_arn)
            if len(policy.versions) >= MAX_POLICY_VERSIONS:
                raise LimitExceeded(
                    f"A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you "
                    "create a new version, you must delete an existing version."
                )
            now = self._clock.now()
            version = PolicyVersion(f"v{policy.next_version}", document, now)
            changed = replace(
                policy,
                versions=(*policy.versions, version),
                next_version=policy.next_version + 1,
                default_version=version.version_id if set_default else policy.default_version,
                updated=now if set_default else policy.updated,
            )
            records.put_policy(changed)
        return version

    def version(
        self, account: str, policy_arn: str, version_id: str
    ) -> tuple[ManagedPolicy, PolicyVersion]:
        _checked_arn(policy_arn)
        with self._store.transaction() as records:
            policy = find_policy(records, account, policy_arn)
        if policy is None:
            raise NoSuchEntity(f"Policy {policy_arn} was not found.")
        found = policy.version(version_id)
        if found is None:
            raise NoSuchEntity(f"Policy {policy_arn} version {version_id} does not exist.")
        return policy, found

    def versions(self, account: str, policy_arn: str) -> ManagedPolicy:
        _checked_arn(policy_arn)
        with self._store.transaction() as records:
            policy = find_policy(records, account, policy_arn)
        if policy is None:
            raise NoSuchEntity(f"Policy {policy_arn} was not found.")
        return policy

    def set_default(self, account: str, policy_arn: str, version_id: str) -> None:
        _checked_arn(policy_arn)
        with self._store.transaction() as records:
            policy = self._own(records, account, policy_arn)
            if policy.version(version_id) is None:
                raise NoSuchEntity(f"Policy {policy_arn} version {version_id} does not exist.")
            now = self._clock.now()
            records.put_policy(replace(policy, default_version=version_id, updated=now))

    def delete_version(self, account: str, policy_arn: str, version_id: str) -> None:
        _checked_arn(policy_arn)
        with self._store.transaction() as records:
            policy = self._own(records, account, policy_arn)
            if policy.version(version_id) is None:
                raise NoSuchEntity(f"Policy {policy_arn} version {version_id} does not exist.")
            if version_id == policy.default_version:
                raise DeleteConflict("Cannot delete the default version of a policy.")
            kept = tuple(v for v in policy.versions if v.version_id != version_id)
            records.put_policy(replace(policy, versions=kept))

    def _own(self, records: Records, account: str, policy_arn: str) -> ManagedPolicy:
        """A policy this account may change: its own, never AWS's."""
        parts = policy_arn_parts(policy_arn)
        if parts is not None and parts[0] == AWS_ACCOUNT and policy_arn in AWS_MANAGED:
            raise InvalidInput(f"Cannot modify an AWS managed policy: {policy_arn}.")
        policy = find_policy(records, account, policy_arn)
        if policy is None:
            raise NoSuchEntity(f"Policy {policy_arn} was not found.")
        return policy
