"""`CodeStore.compile`: a tree's bytecode for the interpreter that imports it (issue 11, item 2).

Run with the real interpreters, each in a compiler process of its own.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gureum.lambda_.sandbox.interpreters import Interpreter, discover_pythons
from gureum.lambda_.store.bytecode import BYTECODE_FILE_BYTES
from gureum.lambda_.store.codestore import CodeStore

HERE = (sys.version_info[0], sys.version_info[1])


def tree_of(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def compiled(tree: Path, tag: str) -> list[str]:
    return sorted(str(pyc.relative_to(tree)) for pyc in tree.rglob(f"*.{tag}.pyc") if pyc.is_file())


def another_python() -> Interpreter:
    found = [p for p in discover_pythons().values() if p.version != HERE]
    if not found:
        pytest.skip("no Python but the server's own on this host")
    return found[0]


@pytest.fixture
def code(tmp_path: Path) -> Iterator[CodeStore]:
    store = CodeStore(tmp_path / "code")
    yield store
    store.close()


def test_sources_are_compiled_once_shallowest_first_within_the_bound(
    code: CodeStore, tmp_path: Path
) -> None:
    tree = tree_of(
        tmp_path / "tree",
        {"index.py": "A = 1\n", "mine/__init__.py": "", "vendor/deep/big.py": "B = 2\n"},
    )

    assert code.compile(tree, sys.executable, HERE, "/var/task", bound=2) == 2
    assert code.compile(tree, sys.executable, HERE, "/var/task") == 0  # once per version

    tag = sys.implementation.cache_tag
    assert compiled(tree, tag) == [
        f"__pycache__/index.{tag}.pyc",
        f"mine/__pycache__/__init__.{tag}.pyc",
    ]
    pyc = tree / "__pycache__" / f"index.{tag}.pyc"
    header = pyc.read_bytes()[:16]
    assert int.from_bytes(header[4:8], "little") == 1  # unchecked hash (PEP 552)
    assert header[8:16] == importlib.util.source_hash((tree / "index.py").read_bytes())
    assert (tree / "__pycache__").stat().st_mode & 0o777 == 0o755


def test_links_huge_files_and_broken_sources_are_left_to_the_runtime(
    code: CodeStore, tmp_path: Path
) -> None:
    outside = tree_of(tmp_path / "outside", {"secret.py": "S = 1\n"})
    huge = "A = 1\n" * (BYTECODE_FILE_BYTES // 6 + 1)
    files = {"index.py": "A = 1\n", "broken.py": "def (:\n", "table.py": huge}
    tree = tree_of(tmp_path / "tree", files)
    os.symlink(outside / "secret.py", tree / "linked.py")
    os.symlink(outside, tree / "linked_dir")

    code.compile(tree, sys.executable, HERE, "/var/task")

    tag = sys.implementation.cache_tag
    assert compiled(tree, tag) == [f"__pycache__/index.{tag}.pyc"]
    assert not (outside / "__pycache__").exists()


def test_another_python_compiles_for_its_own_version(code: CodeStore, tmp_path: Path) -> None:
    python = another_python()
    tree = tree_of(tmp_path / "tree", {"index.py": "A = 1\n", "broken.py": "def (:\n"})

    assert code.compile(tree, python.executable, python.version, "/var/task") == 2

    tag = f"cpython-{python.version[0]}{python.version[1]}"
    assert compiled(tree, tag) == [f"__pycache__/index.{tag}.pyc"]


def test_one_compiler_process_serves_many_trees_and_a_closed_one_is_started_again(
    code: CodeStore, tmp_path: Path
) -> None:
    python = another_python()
    tag = f"cpython-{python.version[0]}{python.version[1]}"
    trees = [tree_of(tmp_path / f"tree{n}", {"index.py": f"A = {n}\n"}) for n in range(3)]

    code.compile(trees[0], python.executable, python.version, "/var/task")
    code.compile(trees[1], python.executable, python.version, "/var/task")
    code.close()
    code.compile(trees[2], python.executable, python.version, "/var/task")
    code.close()

    for tree in trees:
        assert compiled(tree, tag) == [f"__pycache__/index.{tag}.pyc"]
