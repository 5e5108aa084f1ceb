"""File systems over the real store (SQLite and PostgreSQL): tokens, lifecycle, data
directories, policies, tags."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from botocore.session import get_session

from gureum.aws.kernel import Kernel
from gureum.aws.singletons import LocalSingletons
from gureum.aws.sql import Backend, SqliteBackend
from gureum.clock import ManualClock, SystemClock
from gureum.config import Settings
from gureum.efs import assembly
from gureum.efs.domain import resources
from gureum.efs.domain.access_points import AccessPointSpec
from gureum.efs.domain.errors import (
    AccessPointNotFound,
    FileSystemAlreadyExists,
    FileSystemInUse,
    FileSystemLimitExceeded,
    FileSystemNotFound,
    IncorrectFileSystemLifeCycleState,
    InvalidPolicy,
    PolicyNotFound,
)
from gureum.efs.domain.file_systems import LifeCycleState, file_system_spec
from gureum.efs.domain.policies import FULL_ACCESS, ClientAccess
from gureum.efs.domain.resources import Kind
from gureum.efs.services.fakes import InMemoryNetwork
from gureum.efs.services.file_systems import FileSystemService
from gureum.efs.store.records import SPEC
from tests.efs.service.conftest import ACCOUNT, REGION, SUBNET_A, Efs, build

ROLE = f"arn:aws:iam::{ACCOUNT}:role/fn"


def test_a_creation_token_makes_one_file_system(efs: Efs) -> None:
    fs = efs.file_systems.create(ACCOUNT, REGION, file_system_spec("token"))
    with pytest.raises(FileSystemAlreadyExists) as caught:
        efs.file_systems.create(ACCOUNT, REGION, file_system_spec("token"))
    assert caught.value.fields["FileSystemId"] == fs.file_system_id
    assert caught.value.status == 409
    # The refused create left no directory behind.
    assert [p.name for p in efs.trees.root.iterdir()] == [fs.file_system_id]
    # Another account or region may use the same token.
    efs.file_systems.create("444455556666", REGION, file_system_spec("token"))
    efs.file_systems.create(ACCOUNT, "eu-west-1", file_system_spec("token"))


def test_a_file_system_is_creating_then_available(efs: Efs) -> None:
    fs = efs.file_systems.create(ACCOUNT, REGION, file_system_spec("t"))
    assert fs.state(efs.clock.now()) is LifeCycleState.CREATING
    with pytest.raises(IncorrectFileSystemLifeCycleState):
        efs.mount_targets.create(ACCOUNT, REGION, fs.file_system_id, SUBNET_A.subnet_id)
    efs.clock.advance(1)
    assert efs.file_systems.get(ACCOUNT, REGION, fs.file_system_id).state(efs.clock.now()) is (
        LifeCycleState.AVAILABLE
    )


def test_the_creating_delay_is_scaled(tmp_path: Path, stores: Callable[[], Backend]) -> None:
    clock = ManualClock()
    efs = build(tmp_path, stores(), clock, InMemoryNetwork())
    scaled = FileSystemService(efs.store, efs.trees, clock, 0.1)
    fs = scaled.create(ACCOUNT, REGION, file_system_spec("t"))
    clock.advance(0.1)
    assert fs.state(clock.now()) is LifeCycleState.AVAILABLE
    efs.store.close()


def test_each_file_system_has_a_directory_until_it_is_deleted(efs: Efs) -> None:
    fs = efs.file_system()
    directory = efs.trees.path_of(fs.file_system_id)
    assert directory.is_dir()
    (directory / "kept.txt").write_text("data")
    efs.file_systems.delete(ACCOUNT, REGION, fs.file_system_id)
    assert not directory.exists()
    with pytest.raises(FileSystemNotFound):
        efs.file_systems.get(ACCOUNT, REGION, fs.file_system_id)


def test_a_file_system_with_mount_targets_cannot_be_deleted(efs: Efs) -> None:
    fs = efs.file_system()
    target = efs.mount_targets.create(ACCOUNT, REGION, fs.file_system_id, SUBNET_A.subnet_id)
    with pytest.raises(FileSystemInUse):
        efs.file_systems.delete(ACCOUNT, REGION, fs.file_system_id)
    efs.mount_targets.delete(ACCOUNT, REGION, target.mount_target_id)
    efs.file_systems.delete(ACCOUNT, REGION, fs.file_system_id)


def test_describe_pages_and_counts_mount_targets(efs: Efs) -> None:
    made = sorted(efs.file_system(f"t{i}").file_system_id for i in range(5))
    efs.mount_targets.create(ACCOUNT, REGION, made[0], SUBNET_A.subnet_id)
    seen: list[str] = []
    marker = None
    while True:
        found, marker = efs.file_systems.describe(ACCOUNT, REGION, marker=marker, max_items=2)
        seen += [fs.file_system_id for fs, _ in found]
        if marker is None:
            break
    assert seen == made
    found, _ = efs.file_systems.describe(ACCOUNT, REGION, file_system=made[0])
    assert [count for _, count in found] == [1]
    found, _ = efs.file_systems.describe(ACCOUNT, REGION, creation_token="t3")
    assert len(found) == 1
    assert found[0][0].spec.creation_token == "t3"
    assert efs.file_systems.describe(ACCOUNT, REGION, creation_token="none") == ([], None)


def test_policies(efs: Efs) -> None:
    fs = efs.file_system()
    with pytest.raises(PolicyNotFound):
        efs.file_systems.policy(ACCOUNT, REGION, fs.file_system_id)
    assert efs.file_systems.client_access(ACCOUNT, REGION, fs.file_system_id, ROLE, None) == (
        FULL_ACCESS
    )
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ROLE},
                    "Action": "elasticfilesystem:ClientMount",
                }
            ],
        }
    )
    efs.file_systems.put_policy(ACCOUNT, REGION, fs.file_system_id, policy)
    assert efs.file_systems.policy(ACCOUNT, REGION, fs.file_system_id)[1] == policy
    assert efs.file_systems.client_access(
        ACCOUNT, REGION, fs.file_system_id, ROLE, None
    ) == ClientAccess(True, False, False)
    stranger = f"arn:aws:iam::{ACCOUNT}:role/stranger"
    assert not efs.file_systems.client_access(
        ACCOUNT, REGION, fs.file_system_id, stranger, None
    ).mount
    with pytest.raises(InvalidPolicy):
        efs.file_systems.put_policy(ACCOUNT, REGION, fs.file_system_id, "{not json")
    efs.file_systems.delete_policy(ACCOUNT, REGION, fs.file_system_id)
    with pytest.raises(PolicyNotFound):
        efs.file_systems.policy(ACCOUNT, REGION, fs.file_system_id)


def test_tags_of_file_systems_and_access_points(efs: Efs) -> None:
    fs = efs.file_system()
    fs_arn = resources.arn(REGION, ACCOUNT, Kind.FILE_SYSTEM, fs.file_system_id)
    efs.file_systems.tag(ACCOUNT, REGION, fs_arn, {"Name": "data", "team": "a"})
    efs.file_systems.untag(ACCOUNT, REGION, fs.file_system_id, ["team"])
    assert efs.file_systems.tags(ACCOUNT, REGION, fs.file_system_id) == {"Name": "data"}
    assert efs.file_systems.get(ACCOUNT, REGION, fs.file_system_id).name == "data"
    with pytest.raises(AccessPointNotFound):
        efs.file_systems.tags(ACCOUNT, REGION, "fsap-0123456789abcdef0")
    with pytest.raises(FileSystemNotFound):
        efs.file_systems.tag(ACCOUNT, REGION, "fs-0123456789abcdef0", {"a": "b"})


def test_everything_survives_a_reopen(
    tmp_path: Path, stores: Callable[[], Backend], network: InMemoryNetwork
) -> None:
    clock = ManualClock()
    first = build(tmp_path, stores(), clock, network)
    fs = first.file_systems.create(ACCOUNT, REGION, file_system_spec("t", tags={"Name": "n"}))
    clock.advance(1)
    target = first.mount_targets.create(ACCOUNT, REGION, fs.file_system_id, SUBNET_A.subnet_id)
    first.store.close()
    second = build(tmp_path, stores(), clock, network)
    assert second.file_systems.get(ACCOUNT, REGION, fs.file_system_id) == fs
    found, _ = second.mount_targets.describe(
        ACCOUNT, REGION, mount_target_id=target.mount_target_id
    )
    assert found == [target]
    second.store.close()


def test_the_file_system_quota(efs: Efs) -> None:
    limited = FileSystemService(efs.store, efs.trees, efs.clock, 1.0, max_file_systems=2)
    for token in ("1", "2"):
        limited.create(ACCOUNT, REGION, file_system_spec(token))
    with pytest.raises(FileSystemLimitExceeded) as caught:
        limited.create(ACCOUNT, REGION, file_system_spec("3"))
    assert caught.value.status == 403
    assert len(list(efs.trees.root.iterdir())) == 2  # the refused one left no directory
    limited.create("444455556666", REGION, file_system_spec("3"))  # per account


def test_sweep_removes_what_no_file_system_owns_but_never_data(efs: Efs) -> None:
    kept = efs.file_system()
    (efs.trees.path_of(kept.file_system_id) / "data").write_text("x")
    crashed_create = efs.trees.path_of("fs-0123456789abcdef0")  # empty: made before a commit
    crashed_create.mkdir()
    crashed_delete = efs.trees.retire(efs.file_system("other").file_system_id)
    (crashed_delete / "data").write_text("x")  # committed, then killed before removal
    unknown = efs.trees.path_of("fs-0fedcba9876543210")  # data, but no row (a lost database?)
    unknown.mkdir()
    (unknown / "data").write_text("x")
    assert efs.file_systems.sweep() == {"fs-0fedcba9876543210"}
    assert not crashed_create.exists()
    assert not crashed_delete.exists()
    assert (unknown / "data").read_text() == "x"
    assert (efs.trees.path_of(kept.file_system_id) / "data").read_text() == "x"


def test_a_delete_that_fails_to_commit_keeps_the_data(
    efs: Efs, stores: Callable[[], Backend]
) -> None:
    fs = efs.file_system()
    (efs.trees.path_of(fs.file_system_id) / "data").write_text("x")
    # A row that refers to the file system through a deferred foreign key: deleting the file
    # system then fails at COMMIT, after the directory was moved aside.
    beside = stores().open(SPEC)
    with beside.transaction() as sql:
        sql.execute(
            "CREATE TABLE holds (fs TEXT REFERENCES file_systems(id) DEFERRABLE INITIALLY DEFERRED)"
        )
        sql.execute("INSERT INTO holds VALUES (?)", (fs.file_system_id,))
    beside.close()
    with pytest.raises((sqlite3.IntegrityError, psycopg.errors.ForeignKeyViolation)):
        efs.file_systems.delete(ACCOUNT, REGION, fs.file_system_id)
    assert (efs.trees.path_of(fs.file_system_id) / "data").read_text() == "x"
    assert efs.file_systems.get(ACCOUNT, REGION, fs.file_system_id) == fs


def test_a_retired_directory_of_a_file_system_that_still_exists_is_put_back(efs: Efs) -> None:
    # Killed after the directory was moved aside and before the delete committed.
    fs = efs.file_system()
    (efs.trees.path_of(fs.file_system_id) / "data").write_text("x")
    efs.trees.retire(fs.file_system_id)
    assert efs.file_systems.sweep() == set()
    assert (efs.trees.path_of(fs.file_system_id) / "data").read_text() == "x"


def test_hosts_on_one_shared_directory_and_database_serve_the_same_file_systems(
    tmp_path: Path, stores: Callable[[], Backend], network: InMemoryNetwork
) -> None:
    # Two servers of a cluster: one database, one shared directory every host mounts.
    clock = ManualClock()
    one = build(tmp_path / "shared", stores(), clock, network)
    two = build(tmp_path / "shared", stores(), clock, network)
    try:
        fs = one.file_systems.create(ACCOUNT, REGION, file_system_spec("t"))
        clock.advance(1)
        assert two.file_systems.sweep() == set()  # a host that starts keeps the others' data
        point = two.access_points.create(ACCOUNT, REGION, AccessPointSpec("c", fs.file_system_id))
        arn = resources.arn(REGION, ACCOUNT, Kind.ACCESS_POINT, point.access_point_id)
        (one.trees.path_of(fs.file_system_id) / "note").write_text("x")
        root, _ = two.access_points.root_directory(ACCOUNT, REGION, arn)
        assert (root / "note").read_text() == "x"
        two.file_systems.delete(ACCOUNT, REGION, fs.file_system_id)
        with pytest.raises(FileSystemNotFound):
            one.file_systems.get(ACCOUNT, REGION, fs.file_system_id)
        assert not one.trees.path_of(fs.file_system_id).exists()
    finally:
        one.store.close()
        two.store.close()


@pytest.mark.parametrize("shared", [True, False])
def test_the_data_is_in_the_shared_directory_when_there_is_one(
    tmp_path: Path, network: InMemoryNetwork, shared: bool
) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data, shared_dir=tmp_path / "shared" if shared else None)
    executor = ThreadPoolExecutor(max_workers=1)
    kernel = Kernel(
        settings,
        SystemClock(),
        executor,
        "http://efs.test",
        get_session(),
        SqliteBackend(data),
        LocalSingletons(),
    )
    efs = assembly.assemble(kernel, network)
    try:
        fs = efs.file_systems.create(ACCOUNT, REGION, file_system_spec("t"))
        where = (tmp_path / "shared" if shared else data) / "efs" / fs.file_system_id
        assert efs.file_systems.data_of(fs.file_system_id) == where
        assert where.is_dir()
        assert (data / "efs.sqlite3").exists()  # the records stay with the store
    finally:
        efs.close()
        executor.shutdown()
