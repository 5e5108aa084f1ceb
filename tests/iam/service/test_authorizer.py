"""IAM's services over the real store: the authorizer's decisions and their cache, the
principals the front door finds keys through, and case-insensitive names under concurrency. Every
test runs on SQLite and on PostgreSQL (the `stores` fixture), as `test_records.py`'s do."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from gureum.aws.errors import AccessDenied
from gureum.aws.frontend import CallContext
from gureum.aws.sql import Backend
from gureum.clock import SystemClock
from gureum.iam.domain.entities import Holder
from gureum.iam.domain.errors import EntityAlreadyExists
from gureum.iam.services.authorizer import Authorizer
from gureum.iam.services.holders import PolicyHolders
from gureum.iam.services.principals import Principals
from gureum.iam.services.roles import RoleService
from gureum.iam.services.users import UserService
from gureum.iam.store.records import IamStore

A = "111122223333"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": A}, "Action": "sts:AssumeRole"}],
    }
)


def allow(action: str) -> str:
    statement = {"Effect": "Allow", "Action": action, "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def store(stores: Callable[[], Backend]) -> Iterator[IamStore]:
    store = IamStore(stores())
    yield store
    store.close()


def context(principal: str) -> CallContext:
    return CallContext(A, "us-east-1", "r", "http://x", principal=principal, user_id="AIDAX")


def test_decisions_follow_policy_changes(store: IamStore) -> None:
    principals = Principals(store)
    users, holders = UserService(store, SystemClock()), PolicyHolders(store)
    user = users.create(A, {"UserName": "u"})
    authorizer = Authorizer(store, principals)
    caller = context(user.arn)
    with pytest.raises(AccessDenied):
        authorizer.authorize("sqs", "ListQueues", caller, {})
    holders.put_inline(A, Holder.USER, "u", "p", allow("sqs:List*"))
    authorizer.authorize("sqs", "ListQueues", caller, {})  # the cache saw the change
    authorizer.authorize("sqs", "ListQueues", caller, {})
    holders.delete_inline(A, Holder.USER, "u", "p")
    with pytest.raises(AccessDenied):
        authorizer.authorize("sqs", "ListQueues", caller, {})
    authorizer.authorize("sqs", "ListQueues", context(f"arn:aws:iam::{A}:root"), {})


def test_keys_are_found_until_deactivated(store: IamStore) -> None:
    principals = Principals(store)
    users = UserService(store, SystemClock())
    users.create(A, {"UserName": "Signer"})
    key = users.create_key(A, "signer")
    found = principals.find(key.key_id, None)
    assert found is not None
    assert (found.principal, found.secret_access_key) == (
        f"arn:aws:iam::{A}:user/Signer",
        key.secret,
    )
    users.update_key(A, "Signer", key.key_id, "Inactive")
    assert principals.find(key.key_id, None) is None
    assert principals.find("ASIAAAAAAAAAAAAAAAAA", "token") is None


def test_one_of_two_concurrent_creates_wins_regardless_of_case(store: IamStore) -> None:
    roles = RoleService(store, SystemClock(), Principals(store).check_trusted)

    def create(name: str) -> str:
        try:
            roles.create(A, {"RoleName": name, "AssumeRolePolicyDocument": TRUST})
        except EntityAlreadyExists:
            return "taken"
        return "made"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(create, ["App", "app", "APP", "aPp"] * 4))
    assert results.count("made") == 1
    listed, _ = roles.listing(A, {})
    assert len(listed) == 1


def test_a_sessions_principal_arn_is_its_role(store: IamStore) -> None:
    roles, holders = (
        RoleService(store, SystemClock(), Principals(store).check_trusted),
        PolicyHolders(store),
    )
    role = roles.create(A, {"RoleName": "app", "AssumeRolePolicyDocument": TRUST})
    only_the_role = {
        "Effect": "Allow",
        "Action": "sqs:ListQueues",
        "Resource": "*",
        "Condition": {"ArnEquals": {"aws:PrincipalArn": role.arn}},
    }
    document = json.dumps({"Version": "2012-10-17", "Statement": [only_the_role]})
    holders.put_inline(A, Holder.ROLE, "app", "p", document)
    session = f"arn:aws:sts::{A}:assumed-role/app/s"
    Authorizer(store, Principals(store)).authorize("sqs", "ListQueues", context(session), {})
