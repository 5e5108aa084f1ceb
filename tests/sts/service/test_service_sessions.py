"""Sessions STS starts for a service (Lambda's execution roles), over a real IAM store: the
role's own id when IAM holds it, a stable derived one when not, the session's name and ARN, an
expiry scaled like every other session's, and credentials the front door accepts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.session import get_session

from gureum.aws.kernel import Kernel
from gureum.aws.singletons import LocalSingletons
from gureum.aws.sql import SqliteBackend
from gureum.clock import ManualClock, SystemClock
from gureum.config import Settings
from gureum.iam.services.principals import Principals
from gureum.iam.services.roles import RoleService
from gureum.iam.store.records import IamStore
from gureum.sts import assembly as sts
from gureum.sts.services.sessions import SessionService

A = "111122223333"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
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


@pytest.fixture
def store(tmp_path: Path) -> Iterator[IamStore]:
    store = IamStore(SqliteBackend(tmp_path))
    yield store
    store.close()


def test_a_service_session_is_of_the_role_and_named_as_asked(store: IamStore) -> None:
    principals = Principals(store)
    role = RoleService(store, ManualClock(NOW), principals.check_trusted).create(
        A, {"RoleName": "worker", "Path": "/svc/", "AssumeRolePolicyDocument": TRUST}
    )
    sessions = SessionService(principals, ManualClock(NOW), b"k" * 32, time_scale=0.5)
    made = sessions.for_service(role.arn, "my-function", 3600)
    assert made.session.arn == f"arn:aws:sts::{A}:assumed-role/worker/my-function"
    assert made.session.user_id == f"{role.role_id}:my-function"
    assert made.session.expires == NOW + timedelta(seconds=1800)
    found = sessions.find(made.session.access_key_id, made.token)
    assert found is not None
    assert (found.principal_arn, found.secret_access_key) == (made.session.arn, made.secret)
    assert sessions.find(made.session.access_key_id, None) is None


@pytest.mark.parametrize(
    "role_arn", [f"arn:aws:iam::{A}:role/made-up", f"arn:aws:iam::{A}:role/a/b/made-up"]
)
def test_a_role_iam_does_not_hold_gets_a_stable_derived_id(store: IamStore, role_arn: str) -> None:
    sessions = SessionService(Principals(store), ManualClock(NOW), b"k" * 32, time_scale=1.0)
    first = sessions.for_service(role_arn, "f", 60).session
    second = sessions.for_service(role_arn, "g", 60).session
    assert first.role_id == second.role_id
    assert first.role_id.startswith("AROA")
    assert len(first.role_id) == 21
    assert first.arn == f"arn:aws:sts::{A}:assumed-role/made-up/f"
    assert first.access_key_id != second.access_key_id


@pytest.fixture
def servers() -> Iterator[Callable[[Settings], SessionService]]:
    """Builds STS as one server does (its IAM store in its own data directory); closes all."""
    executor = ThreadPoolExecutor(max_workers=1)
    opened: list[IamStore] = []

    def build(settings: Settings) -> SessionService:
        backend = SqliteBackend(settings.data_dir)
        kernel = Kernel(
            settings,
            SystemClock(),
            executor,
            "http://sts.test",
            get_session(),
            backend,
            LocalSingletons(),
        )
        opened.append(IamStore(backend))
        return sts.assemble(kernel, Principals(opened[-1])).sessions

    yield build
    for store in opened:
        store.close()
    executor.shutdown()


def test_every_server_on_a_shared_directory_opens_the_others_sessions(
    tmp_path: Path, servers: Callable[[Settings], SessionService]
) -> None:
    shared = tmp_path / "shared"
    one = servers(Settings(data_dir=tmp_path / "one", shared_dir=shared))
    two = servers(Settings(data_dir=tmp_path / "two", shared_dir=shared))
    made = one.for_service(f"arn:aws:iam::{A}:role/worker", "f", 3600)
    found = two.find(made.session.access_key_id, made.token)
    assert found is not None
    assert (found.principal_arn, found.secret_access_key) == (made.session.arn, made.secret)
    assert (shared / "sts.key").stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "one" / "sts.key").exists()


def test_without_a_shared_directory_the_key_stays_in_the_data_directory(
    tmp_path: Path, servers: Callable[[Settings], SessionService]
) -> None:
    alone = servers(Settings(data_dir=tmp_path / "data"))
    made = alone.for_service(f"arn:aws:iam::{A}:role/worker", "f", 3600)
    assert (tmp_path / "data" / "sts.key").stat().st_size == 32
    other = servers(Settings(data_dir=tmp_path / "other"))
    assert other.find(made.session.access_key_id, made.token) is None  # another key
