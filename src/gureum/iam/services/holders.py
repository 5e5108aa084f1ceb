"""What roles and users share: inline policies and attached managed policies."""

from __future__ import annotations

from gureum.iam.domain.documents import identity_policy, size_of
from gureum.iam.domain.entities import (
    MAX_ATTACHED_POLICIES,
    MAX_ROLE_INLINE,
    MAX_USER_INLINE,
    Attachment,
    Holder,
)
from gureum.iam.domain.errors import LimitExceeded, NoSuchEntity
from gureum.iam.domain.paging import page
from gureum.iam.services.policies import find_policy
from gureum.iam.store.records import IamStore, Records


def require(records: Records, account: str, holder: Holder, name: str) -> str:
    """The holder's name as created; NoSuchEntity if there is none."""
    found = records.role(account, name) if holder is Holder.ROLE else records.user(account, name)
    if found is None:
        raise NoSuchEntity(f"The {holder.value} with name {name} cannot be found.")
    return found.name


class PolicyHolders:
    """Put/Get/List/Delete<Role|User>Policy and Attach/Detach/ListAttached<Role|User>Policies.

    Invariants: an inline policy is an identity policy no larger than the holder's quota (the
    sum of a role's inline policies at most 10,240 characters, a user's 2,048); a holder has at
    most ten managed policies attached, each one that exists and is attachable.
    """

    def __init__(self, store: IamStore) -> None:
        self._store = store

    def put_inline(
        self, account: str, holder: Holder, owner: str, name: str, document: str
    ) -> None:
        identity_policy(document)
        with self._store.transaction() as records:
            owner = require(records, account, holder, owner)
            others = records.inlines(account, holder, owner)
            others.pop(name, None)
            total = size_of(document) + sum(size_of(text) for text in others.values())
            limit = MAX_ROLE_INLINE if holder is Holder.ROLE else MAX_USER_INLINE
            if total > limit:
                raise LimitExceeded(
                    f"Maximum policy size of {limit} bytes exceeded for {holder.value} {owner}"
                )
            records.put_inline(account, holder, owner, name, document)

    def get_inline(self, account: str, holder: Holder, owner: str, name: str) -> tuple[str, str]:
        """(the holder's name as created, the document)."""
        with self._store.transaction() as records:
            owner = require(records, account, holder, owner)
            document = records.inline(account, holder, owner, name)
        if document is None:
            raise NoSuchEntity(f"The {holder.value} policy with name {name} cannot be found.")
        return owner, document

    def list_inline(
        self, account: str, holder: Holder, owner: str, marker: str | None, max_items: int | None
    ) -> tuple[list[str], str | None]:
        with self._store.transaction() as records:
            owner = require(records, account, holder, owner)
            names = list(records.inlines(account, holder, owner))
        return page(names, lambda name: name, marker, max_items)

    def delete_inline(self, account: str, holder: Holder, owner: str, name: str) -> None:
        with self._store.transaction() as records:
            owner = require(records, account, holder, owner)
            if not records.delete_inline(account, holder, owner, name):
                raise NoSuchEntity(f"The {holder.value} policy with name {name} cannot be found.")

    def attach(self, account: str, holder: Holder, owner: str, policy_arn: str) -> None:
        with self._store.transaction() as records:
            owner = require(records, account, holder, owner)
            policy = find_policy(records, account, policy_arn)
            if policy is None:
                raise NoSuchEntity(f"Policy {policy_arn} does not exist or is not attachable.")
            attached = records.attached(account, holder, owner)
            if policy_arn in {a.policy_arn for a in attached}:
                return  # attaching twice is not an error in IAM
            if len(attached) >= MAX_ATTACHED_POLICIES:
                kind = "PoliciesPerRole" if holder is Holder.ROLE else "PoliciesPerUser"
                raise LimitExceeded(f"Cannot exceed quota for {kind}: {MAX_ATTACHED_POLICIES}")
            records.attach(account, Attachment(holder, owner, policy_arn, policy.name))

    def detach(self, account: str, holder: Holder, owner: str, policy_arn: str) -> None:
        with self._store.transaction() as records:
            owner = require(records, account, holder, owner)
            if not records.detach(account, holder, owner, policy_arn):
                raise NoSuchEntity(f"Policy {policy_arn} was not found.")

    def attached(
        self,
        account: str,
        holder: Holder,
        owner: str,
        marker: str | None,
        max_items: int | None,
        path_prefix: str = "/",
    ) -> tuple[list[Attachment], str | None]:
        with self._store.transaction() as records:
            owner = require(records, account, holder, owner)
            found = records.attached(account, holder, owner)
            kept = [
                a
                for a in found
                if (p := find_policy(records, account, a.policy_arn)) is None
                or p.path.startswith(path_prefix)
            ]
        return page(kept, lambda a: a.policy_arn, marker, max_items)
