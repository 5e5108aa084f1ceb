"""Access points over the real store and directories, and their root directories attacked:
`..`, symbolic links (absolute, relative, swapped in after the check), files in the way."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from gureum.efs.domain import resources
from gureum.efs.domain.access_points import (
    AccessPointSpec,
    CreationInfo,
    PosixUser,
    RootDirectory,
)
from gureum.efs.domain.errors import (
    AccessPointAlreadyExists,
    AccessPointNotFound,
    FileSystemNotFound,
    IncorrectFileSystemLifeCycleState,
    MountRefused,
)
from gureum.efs.domain.file_systems import FileSystem, file_system_spec
from gureum.efs.domain.resources import Kind
from tests.efs.service.conftest import ACCOUNT, REGION, Efs

USER = PosixUser(1000, 1001, (5,))
CREATION = CreationInfo(1000, 1001, "0750")


def point_arn(efs: Efs, fs: FileSystem, path: str, creation: CreationInfo | None = CREATION) -> str:
    spec = AccessPointSpec(
        f"token-{path}-{creation}", fs.file_system_id, USER, RootDirectory(path, creation)
    )
    point = efs.access_points.create(ACCOUNT, REGION, spec)
    return resources.arn(REGION, ACCOUNT, Kind.ACCESS_POINT, point.access_point_id)


def test_a_client_token_makes_one_access_point(efs: Efs) -> None:
    fs = efs.file_system()
    spec = AccessPointSpec("c", fs.file_system_id, USER, RootDirectory("/a", CREATION), {"k": "v"})
    first = efs.access_points.create(ACCOUNT, REGION, spec)
    assert first.access_point_id.startswith("fsap-")
    assert len(first.access_point_id) == len("fsap-") + 17
    # A retry, the same request with another root, or the same token on another file system of
    # the account: AccessPointAlreadyExists naming the first, as AWS answers.
    other_fs = efs.file_system("other")
    for again in (
        spec,
        AccessPointSpec("c", fs.file_system_id, USER, RootDirectory("/b", CREATION)),
        AccessPointSpec("c", other_fs.file_system_id),
    ):
        with pytest.raises(AccessPointAlreadyExists) as caught:
            efs.access_points.create(ACCOUNT, REGION, again)
        assert caught.value.fields["AccessPointId"] == first.access_point_id
        assert caught.value.status == 409
    assert len(efs.access_points.describe(ACCOUNT, REGION)[0]) == 1
    # Tokens are the account's and region's own.
    theirs = efs.file_systems.create("444455556666", REGION, file_system_spec("t"))
    efs.clock.advance(1)
    efs.access_points.create("444455556666", REGION, AccessPointSpec("c", theirs.file_system_id))


def test_access_points_need_an_available_file_system(efs: Efs) -> None:
    fs = efs.file_systems.create(ACCOUNT, REGION, file_system_spec("new"))
    with pytest.raises(IncorrectFileSystemLifeCycleState):
        efs.access_points.create(ACCOUNT, REGION, AccessPointSpec("c", fs.file_system_id))
    with pytest.raises(FileSystemNotFound):
        efs.access_points.create(ACCOUNT, REGION, AccessPointSpec("c", "fs-0123456789abcdef0"))


def test_describe_by_file_system_pages(efs: Efs) -> None:
    fs, other = efs.file_system("1"), efs.file_system("2")
    made = sorted(
        efs.access_points.create(
            ACCOUNT, REGION, AccessPointSpec(f"c{i}", fs.file_system_id)
        ).access_point_id
        for i in range(3)
    )
    efs.access_points.create(ACCOUNT, REGION, AccessPointSpec("x", other.file_system_id))
    first, token = efs.access_points.describe(
        ACCOUNT, REGION, file_system=fs.file_system_id, max_results=2
    )
    rest, end = efs.access_points.describe(
        ACCOUNT, REGION, file_system=fs.file_system_id, token=token
    )
    assert [p.access_point_id for p in first + rest] == made
    assert end is None


def test_deleting_a_file_system_deletes_its_access_points(efs: Efs) -> None:
    fs = efs.file_system()
    arn = point_arn(efs, fs, "/a")
    efs.file_systems.delete(ACCOUNT, REGION, fs.file_system_id)
    with pytest.raises(AccessPointNotFound):
        efs.access_points.get(ACCOUNT, REGION, arn)


def test_the_root_is_made_with_creation_info_on_first_use(efs: Efs) -> None:
    fs = efs.file_system()
    path, user = efs.access_points.root_directory(ACCOUNT, REGION, point_arn(efs, fs, "/apps/one"))
    tree = efs.trees.path_of(fs.file_system_id).resolve()
    assert path == tree / "apps" / "one"
    assert user == USER
    for made in (tree / "apps", path):
        info = made.stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (1000, 1001, 0o750)


def test_an_existing_root_is_used_as_it_is(efs: Efs) -> None:
    fs = efs.file_system()
    existing = efs.trees.path_of(fs.file_system_id) / "kept"
    existing.mkdir(mode=0o700)
    os.chmod(existing, 0o711)
    path, _ = efs.access_points.root_directory(ACCOUNT, REGION, point_arn(efs, fs, "/kept"))
    info = path.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o711)


def test_the_root_slash_is_the_file_system(efs: Efs) -> None:
    fs = efs.file_system()
    path, _ = efs.access_points.root_directory(ACCOUNT, REGION, point_arn(efs, fs, "/", None))
    assert path == efs.trees.path_of(fs.file_system_id).resolve()


def test_a_missing_root_without_creation_info_cannot_be_mounted(efs: Efs) -> None:
    fs = efs.file_system()
    with pytest.raises(MountRefused, match="does not exist"):
        efs.access_points.root_directory(ACCOUNT, REGION, point_arn(efs, fs, "/absent", None))
    assert not (efs.trees.path_of(fs.file_system_id) / "absent").exists()


@pytest.mark.parametrize("target", ["ABSOLUTE", "../../..", "../..", ".."])
def test_a_symbolic_link_on_the_way_is_never_followed(
    efs: Efs, target: str, tmp_path: Path
) -> None:
    # The targets are all under tmp_path (never /etc or /): were a regression to follow the
    # link, what it made would land in the test's own directory, which the test then checks.
    outside = tmp_path / "outside"
    outside.mkdir()
    fs = efs.file_system()
    tree = efs.trees.path_of(fs.file_system_id)
    (tree / "link").symlink_to(str(outside) if target == "ABSOLUTE" else target)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for path in ("/link", "/link/below", "/link/outside/below"):
        with pytest.raises(MountRefused, match="not a directory"):
            efs.access_points.root_directory(ACCOUNT, REGION, point_arn(efs, fs, path))
    # Nothing was made through the link.
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_link_to_a_directory_inside_is_refused_too(efs: Efs) -> None:
    fs = efs.file_system()
    tree = efs.trees.path_of(fs.file_system_id)
    (tree / "real").mkdir()
    (tree / "alias").symlink_to("real")
    with pytest.raises(MountRefused):
        efs.access_points.root_directory(ACCOUNT, REGION, point_arn(efs, fs, "/alias"))


def test_a_file_in_the_way_is_refused(efs: Efs) -> None:
    fs = efs.file_system()
    (efs.trees.path_of(fs.file_system_id) / "file").write_text("x")
    with pytest.raises(MountRefused, match="not a directory"):
        efs.access_points.root_directory(ACCOUNT, REGION, point_arn(efs, fs, "/file/below"))


def test_the_root_held_open_stays_the_checked_directory_when_swapped(efs: Efs) -> None:
    # A client of another access point (root /) renames the directory and puts a link to /etc
    # in its place after the walk: the descriptor still names the directory that was checked.
    fs = efs.file_system()
    tree = efs.trees.path_of(fs.file_system_id)
    arn = point_arn(efs, fs, "/data")
    with efs.access_points.open_root(ACCOUNT, REGION, arn) as (fd, point):
        checked = os.fstat(fd)
        (tree / "data").rename(tree / "moved")
        (tree / "data").symlink_to("/etc")
        now = os.stat(f"/proc/self/fd/{fd}")
        assert (now.st_dev, now.st_ino) == (checked.st_dev, checked.st_ino)
        assert efs.trees.resolved(point.file_system_id, fd) == (tree / "moved").resolve()
    # And the next mount refuses the link.
    with pytest.raises(MountRefused):
        efs.access_points.root_directory(ACCOUNT, REGION, arn)


def test_a_directory_outside_the_tree_is_refused(efs: Efs) -> None:
    fs = efs.file_system()
    fd = os.open("/etc", os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(MountRefused, match="outside"):
            efs.trees.resolved(fs.file_system_id, fd)
    finally:
        os.close(fd)


def test_a_deleted_access_point_has_no_root(efs: Efs) -> None:
    fs = efs.file_system()
    arn = point_arn(efs, fs, "/a")
    efs.access_points.delete(ACCOUNT, REGION, arn)
    with pytest.raises(AccessPointNotFound):
        efs.access_points.root_directory(ACCOUNT, REGION, arn)


def test_an_access_point_of_a_deleted_file_systems_tree_cannot_be_mounted(efs: Efs) -> None:
    fs = efs.file_system()
    arn = point_arn(efs, fs, "/a")
    efs.trees.remove(fs.file_system_id)  # the data gone behind EFS's back
    with pytest.raises(MountRefused):
        efs.access_points.root_directory(ACCOUNT, REGION, arn)


def test_a_component_flipped_to_a_link_during_walks_never_leads_out(efs: Efs) -> None:
    # Another client keeps replacing /a with a link to / and back while mounts resolve /a/b:
    # each resolution is either the real directory inside the tree or a refusal, never outside.
    fs = efs.file_system()
    tree = efs.trees.path_of(fs.file_system_id)
    inside = tree.resolve()
    (tree / "a" / "b").mkdir(parents=True)
    # No CreationInfo: a walk that finds /a missing mid-flip refuses instead of making it.
    arn = point_arn(efs, fs, "/a/b", None)
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            (tree / "a").rename(tree / "real-a")
            (tree / "a").symlink_to("/")
            (tree / "a").unlink()
            (tree / "real-a").rename(tree / "a")

    flipper = threading.Thread(target=flip)
    flipper.start()
    outcomes = {"inside": 0, "refused": 0}
    try:
        for _ in range(300):
            try:
                path, _ = efs.access_points.root_directory(ACCOUNT, REGION, arn)
            except MountRefused:
                outcomes["refused"] += 1
                continue
            assert inside in path.parents
            outcomes["inside"] += 1
    finally:
        stop.set()
        flipper.join()
    assert not Path("/b").exists()  # nothing was made through the link
    assert sum(outcomes.values()) == 300
