"""The code store keeps only archives it could unpack whole (issue #20, item 1).

`CodeStore.put` unpacks an archive into its tree before keeping it, in one streaming pass that
checks CRCs, real sizes against declared ones and the unzipped limit; a damaged archive leaves
nothing behind. `FunctionService.store_package` turns its refusals into AWS's 400s.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from gureum.clock import SystemClock
from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.packages import BAD_ZIP
from gureum.lambda_.services.context import Ports
from gureum.lambda_.services.functions import FixedRuntimes, FunctionService
from gureum.lambda_.store.codestore import ArchiveTooLarge, CodeStore, UnreadableArchive
from gureum.lambda_.store.sqlite import SqliteStore
from tests.support.archives import BAD_ARCHIVES
from tests.support.packages import HANDLER, zip_of, zip_with_symlink


def blob_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


@pytest.fixture
def code(tmp_path: Path) -> CodeStore:
    return CodeStore(tmp_path / "code")


@pytest.mark.parametrize("damage", sorted(BAD_ARCHIVES))
def test_a_damaged_archive_is_refused_and_leaves_nothing(
    code: CodeStore, tmp_path: Path, damage: str
) -> None:
    data = BAD_ARCHIVES[damage]()
    with pytest.raises(UnreadableArchive):
        code.put(blob_of(data), data)
    assert not code.exists(blob_of(data))
    assert leftovers(tmp_path / "code") == []
    assert list((tmp_path / "code" / "trees").iterdir()) == []


def test_a_sound_archive_is_kept_with_its_tree(code: CodeStore) -> None:
    data = zip_of({"index.py": HANDLER, "lib/util.py": "X = 1\n"})
    code.put(blob_of(data), data)
    assert code.read(blob_of(data)) == data
    tree = code.tree(blob_of(data))
    assert (tree / "index.py").read_text() == HANDLER
    assert (tree / "lib" / "util.py").read_text() == "X = 1\n"


def test_symlinks_are_unpacked(code: CodeStore) -> None:
    data = zip_with_symlink("lib/current", "../index.py")
    code.put(blob_of(data), data)
    link = code.tree(blob_of(data)) / "lib" / "current"
    assert link.is_symlink()
    assert link.read_text() == HANDLER


def test_the_unzipped_limit_counts_bytes_as_they_are_read(code: CodeStore) -> None:
    data = zip_of({"a.bin": bytes(600), "b.bin": bytes(600)})
    with pytest.raises(ArchiveTooLarge):
        code.put(blob_of(data), data, limit=1000)
    assert not code.exists(blob_of(data))
    code.put(blob_of(data), data, limit=1200)
    assert code.exists(blob_of(data))


def test_entries_that_cannot_coexist_are_refused(code: CodeStore) -> None:
    data = zip_of({"lib": "a file", "lib/util.py": "X = 1\n"})
    with pytest.raises(UnreadableArchive):
        code.put(blob_of(data), data)
    assert not code.exists(blob_of(data))


def test_an_archive_damaged_on_disk_is_refused_when_unpacked(code: CodeStore) -> None:
    data = zip_of({"index.py": HANDLER * 20})
    blob = blob_of(data)
    code.put(blob, data)
    code.remove(blob)  # as if kept before archives were verified: a blob without a tree
    at = data.index(b"index.py") + len("index.py") + 2
    damaged = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    code.path(blob).parent.mkdir(parents=True, exist_ok=True)
    code.path(blob).write_bytes(damaged)
    with pytest.raises(UnreadableArchive):
        code.tree(blob)
    with pytest.raises(UnreadableArchive):
        code.merged([blob])


def test_sweep_removes_interrupted_extractions(code: CodeStore, tmp_path: Path) -> None:
    staging = tmp_path / "code" / "trees" / ".0123456789ab-xyz"
    staging.mkdir()
    (staging / "index.py").write_text(HANDLER)
    code.sweep(lambda blob: True)
    assert not staging.exists()


def test_a_shared_sweep_leaves_young_archives_to_their_writers(tmp_path: Path) -> None:
    """In a cluster the archives are shared: one no row names yet may be another server's
    upload whose CreateFunction has not committed. Only old orphans go then."""
    code = CodeStore(tmp_path / "shared" / "code", trees=tmp_path / "host" / "trees")
    young, old = zip_of({"index.py": HANDLER}), zip_of({"index.py": HANDLER + "# old\n"})
    code.put(blob_of(young), young)
    code.put(blob_of(old), old)
    os.utime(code.path(blob_of(old)), (1, 1))
    assert code.sweep(lambda blob: False, older_than=3600) == 1
    assert code.exists(blob_of(young))
    assert not code.exists(blob_of(old))
    assert code.made(blob_of(young)) is not None
    assert code.made(blob_of(old)) is None


def test_a_sweep_drops_this_hosts_trees_of_archives_gone_elsewhere(tmp_path: Path) -> None:
    """Another server deleted the last function using an archive: this host's unpacked copy
    is a cache of nothing, removed at its next start; a tree is made again from its archive."""
    shared = tmp_path / "shared" / "code"
    here = CodeStore(shared, trees=tmp_path / "here" / "trees")
    there = CodeStore(shared, trees=tmp_path / "there" / "trees")
    data = zip_of({"index.py": HANDLER})
    here.put(blob_of(data), data)
    assert (there.tree(blob_of(data)) / "index.py").read_text() == HANDLER  # from the archive
    there.remove(blob_of(data))
    here.sweep(lambda blob: True)
    assert here.made(blob_of(data)) is None


# --- the service's answer --------------------------------------------------------------------


class NoVault:
    generation = 0  # no keys that could change

    def seal(
        self, account: str, region: str, key_arn: str | None, variables: Mapping[str, str]
    ) -> dict[str, str]:
        raise AssertionError("no variables here")

    def open(
        self, account: str, region: str, sealed: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, tuple[str, str] | None]:
        raise AssertionError("no variables here")


class SmallCodeStore(CodeStore):
    """A code store with a 1,000-byte unzipped limit, so the counted limit is reachable."""

    def put(self, blob: str, data: bytes, limit: int = 1000) -> None:
        super().put(blob, data, min(limit, 1000))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[FunctionService]:
    store = SqliteStore(tmp_path / "gureum.sqlite3", NoVault())
    yield FunctionService(
        Ports(store, SmallCodeStore(tmp_path / "code"), SystemClock()), FixedRuntimes(())
    )
    store.close()


@pytest.mark.parametrize("damage", sorted(BAD_ARCHIVES))
def test_store_package_answers_awss_400_for_a_damaged_archive(
    service: FunctionService, damage: str
) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        service.store_package(BAD_ARCHIVES[damage](), None)
    assert caught.value.message == BAD_ZIP
    assert caught.value.status == 400


def test_store_package_answers_awss_400_past_the_counted_limit(service: FunctionService) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        service.store_package(zip_of({"big.bin": bytes(2000)}), None)
    assert caught.value.message == "Unzipped size must be smaller than 262144000 bytes"


def test_layers_are_overlaid_from_their_trees_later_ones_winning(code: CodeStore) -> None:
    first = zip_of({"python/shared.py": "A = 1\n", "python/only_first.py": "F = 1\n"})
    second = zip_of({"python/shared.py": "A = 2\n", "bin/tool": "#!/bin/sh\n"})
    linked = zip_with_symlink("python/current", "shared.py")
    for data in (first, second, linked):
        code.put(blob_of(data), data)
        code.path(blob_of(data)).unlink()  # the trees are enough: nothing is unpacked again
    merged = code.merged([blob_of(first), blob_of(second), blob_of(linked)])
    assert (merged / "python" / "shared.py").read_text() == "A = 2\n"
    assert (merged / "python" / "only_first.py").read_text() == "F = 1\n"
    assert (merged / "bin" / "tool").read_text() == "#!/bin/sh\n"
    assert (merged / "python" / "current").is_symlink()
    assert (merged / "python" / "current").read_text() == "A = 2\n"
    assert (merged / "index.py").read_text() == HANDLER
    # The layers' own trees are untouched by the overlay.
    assert (code.tree(blob_of(first)) / "python" / "shared.py").read_text() == "A = 1\n"


def test_a_tree_removed_while_the_same_bytes_are_unpacked_is_published_again(
    code: CodeStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delete of the last function using a package removes its tree while a create of the
    same bytes unpacks them (CI saw it as a 500 on CreateFunction): the rename finds the
    directory half removed, and by the time it looks again the removal has finished."""
    data = zip_of({"index.py": HANDLER})
    blob = blob_of(data)
    trees = tmp_path / "code" / "trees"
    failed: list[Path] = []
    real_replace = os.replace

    def racing_replace(source: str | Path, target: str | Path) -> None:
        if Path(target) == trees / blob and not failed:
            failed.append(Path(target))
            # A half-removed tree was there, and the removal finished as the rename failed.
            raise OSError(errno.ENOTEMPTY, "Directory not empty")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", racing_replace)
    code.put(blob, data)
    monkeypatch.undo()
    assert failed
    assert code.read(blob) == data
    assert leftovers(trees) == [f"{blob}/index.py"]
