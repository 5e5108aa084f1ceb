"""IAM's services over the real store, on SQLite and on PostgreSQL (the `stores` fixture): the
store's contract suite (issue #24). What a user would see differ if a query were not portable:
a changed role written over the old one, attachments counted per policy, access keys listed and
removed, names in byte order, and everything still there after a restart."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from gureum.aws.sql import Backend
from gureum.clock import SystemClock
from gureum.iam.domain.entities import Holder
from gureum.iam.domain.errors import DeleteConflict, NoSuchEntity
from gureum.iam.services.holders import PolicyHolders
from gureum.iam.services.policies import PolicyService
from gureum.iam.services.principals import Principals
from gureum.iam.services.roles import RoleService
from gureum.iam.services.users import UserService
from gureum.iam.store.records import IamStore

A, B = "111122223333", "444455556666"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
ALLOW = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
    }
)


class Iam:
    def __init__(self, store: IamStore) -> None:
        self.store = store
        clock = SystemClock()
        self.roles = RoleService(store, clock, Principals(store).check_trusted)
        self.users = UserService(store, clock)
        self.policies = PolicyService(store, clock)
        self.holders = PolicyHolders(store)

    def role(self, name: str, account: str = A) -> None:
        self.roles.create(account, {"RoleName": name, "AssumeRolePolicyDocument": TRUST})


@pytest.fixture
def iam(stores: Callable[[], Backend]) -> Iterator[Iam]:
    store = IamStore(stores())
    yield Iam(store)
    store.close()


def test_a_changed_role_replaces_the_stored_one(iam: Iam) -> None:
    iam.role("App")
    iam.roles.update(A, "app", {"Description": "second"})
    iam.roles.tag(A, "APP", [{"Key": "team", "Value": "t"}])
    role = iam.roles.get(A, "app")
    assert (role.name, role.description, role.tags) == ("App", "second", (("team", "t"),))
    assert [r.name for r in iam.roles.listing(A, {})[0]] == ["App"]


def test_attachments_are_counted_per_policy_and_account(iam: Iam) -> None:
    iam.role("app")
    iam.users.create(A, {"UserName": "dev"})
    iam.role("app", account=B)
    policy = iam.policies.create(A, {"PolicyName": "Queues_All", "PolicyDocument": ALLOW})
    other = iam.policies.create(A, {"PolicyName": "QueuesXAll", "PolicyDocument": ALLOW})
    iam.holders.attach(A, Holder.ROLE, "app", policy.arn)
    iam.holders.attach(A, Holder.USER, "dev", policy.arn)
    iam.holders.attach(A, Holder.ROLE, "app", other.arn)
    assert iam.policies.get(A, policy.arn)[1] == 2
    assert iam.policies.get(A, other.arn)[1] == 1
    counted = {p.name: n for p, n in iam.policies.listing(A, {"Scope": "Local"})[0]}
    assert counted == {"Queues_All": 2, "QueuesXAll": 1}
    with pytest.raises(DeleteConflict):
        iam.policies.delete(A, policy.arn)
    iam.holders.detach(A, Holder.ROLE, "app", policy.arn)
    iam.holders.detach(A, Holder.USER, "dev", policy.arn)
    assert iam.policies.get(A, policy.arn)[1] == 0
    iam.policies.delete(A, policy.arn)
    with pytest.raises(NoSuchEntity):
        iam.policies.get(A, policy.arn)


def test_access_keys_are_kept_listed_and_removed(iam: Iam) -> None:
    iam.users.create(A, {"UserName": "Signer"})
    made = [iam.users.create_key(A, "signer") for _ in range(2)]
    iam.users.update_key(A, "SIGNER", made[0].key_id, "Inactive")
    listed = iam.users.keys(A, "Signer")
    assert [k.key_id for k in listed] == sorted(k.key_id for k in made)
    assert {k.key_id: k.status.value for k in listed} == {
        made[0].key_id: "Inactive",
        made[1].key_id: "Active",
    }
    assert {(k.user, k.secret) for k in listed} == {("Signer", k.secret) for k in made}
    iam.users.delete_key(A, "signer", made[0].key_id)
    with pytest.raises(NoSuchEntity):
        iam.users.delete_key(A, "signer", made[0].key_id)
    assert [k.key_id for k in iam.users.keys(A, "signer")] == [made[1].key_id]


def test_inline_policies_are_listed_in_byte_order(iam: Iam) -> None:
    # IAM lists names in byte order ("B" and "a-b" before "a_b" and "ab"), on either database.
    iam.role("app")
    for name in ("ab", "a_b", "B", "a-b"):
        iam.holders.put_inline(A, Holder.ROLE, "app", name, ALLOW)
    names, _ = iam.holders.list_inline(A, Holder.ROLE, "app", None, None)
    assert names == ["B", "a-b", "a_b", "ab"]
    iam.holders.delete_inline(A, Holder.ROLE, "app", "B")
    with pytest.raises(NoSuchEntity):
        iam.holders.delete_inline(A, Holder.ROLE, "app", "B")


def test_everything_survives_a_restart(stores: Callable[[], Backend]) -> None:
    first = Iam(IamStore(stores()))
    first.role("app")
    first.holders.put_inline(A, Holder.ROLE, "app", "p", ALLOW)
    first.users.create(A, {"UserName": "dev"})
    key = first.users.create_key(A, "dev")
    first.store.close()
    second = Iam(IamStore(stores()))
    try:
        assert second.roles.get(A, "APP").trust_policy == TRUST
        assert second.holders.get_inline(A, Holder.ROLE, "app", "p") == ("app", ALLOW)
        found = Principals(second.store).find(key.key_id, None)
        assert found is not None
        assert found.secret_access_key == key.secret
    finally:
        second.store.close()
