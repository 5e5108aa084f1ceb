"""Which runtime runs on what: one node per Node.js major, fetched builds, and the why-not."""

from __future__ import annotations

import json
from pathlib import Path

from gureum.lambda_.sandbox.catalog import RuntimeCatalog
from gureum.lambda_.sandbox.interpreters import Interpreter
from gureum.lambda_.sandbox.provisioning import RuntimeShelf

PY311 = Interpreter("/usr/bin/python3.11", (3, 11), "/usr", ("/usr/lib/python3.11",))
HOST_NODE = {"nodejs20.x": "/usr/bin/node"}


def fetched(shelf: RuntimeShelf, runtime: str, version: str) -> Path:
    """What a completed `RuntimeShelf.add` leaves behind."""
    home = shelf.root / runtime
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "node").write_bytes(b"")
    (home / "release.json").write_text(json.dumps({"version": version}))
    return home


def test_the_hosts_node_serves_only_the_runtime_of_its_major(tmp_path: Path) -> None:
    catalog = RuntimeCatalog(
        {"python3.11": PY311}, HOST_NODE, RuntimeShelf(tmp_path, machine="x86_64")
    )
    assert catalog.available() == ["python3.11", "provided.al2023", "provided.al2", "nodejs20.x"]
    launcher = catalog.launcher("nodejs20.x")
    assert launcher is not None
    assert launcher.program == ("/usr/bin/node", "/var/runtime/node_runtime.js")
    assert catalog.launcher("nodejs22.x") is None
    assert catalog.addable() == ["nodejs18.x", "nodejs22.x", "nodejs24.x"]
    assert catalog.creatable()[-3:] == ["nodejs18.x", "nodejs22.x", "nodejs24.x"]


def test_fetched_builds_run_their_runtime_from_var_lang_as_on_aws(tmp_path: Path) -> None:
    shelf = RuntimeShelf(tmp_path, machine="x86_64")
    home = fetched(shelf, "nodejs22.x", "22.23.5")
    catalog = RuntimeCatalog({"python3.11": PY311}, {}, shelf)
    launcher = catalog.launcher("nodejs22.x")
    assert launcher is not None
    assert launcher.program == ("/var/lang/bin/node", "/var/runtime/node_runtime.js")
    assert launcher.lang == str(home)
    assert launcher.zygote == PY311.executable
    assert "nodejs22.x" not in catalog.addable()


def test_a_fetched_build_wins_over_the_hosts_node_of_the_same_major(tmp_path: Path) -> None:
    shelf = RuntimeShelf(tmp_path, machine="x86_64")
    home = fetched(shelf, "nodejs20.x", "20.20.2")
    launcher = RuntimeCatalog({"python3.11": PY311}, HOST_NODE, shelf).launcher("nodejs20.x")
    assert launcher is not None
    assert launcher.lang == str(home)


def test_ensure_adds_what_was_fetched_meanwhile_without_fetching(tmp_path: Path) -> None:
    shelf = RuntimeShelf(tmp_path, machine="x86_64", registry=(tmp_path / "none").as_uri())
    catalog = RuntimeCatalog({"python3.11": PY311}, {}, shelf)
    fetched(shelf, "nodejs24.x", "24.22.3")  # by `gureum runtimes add`, while the server runs
    assert catalog.ensure("nodejs24.x") is None
    assert catalog.launcher("nodejs24.x") is not None


def test_ensure_says_why_a_fetch_failed(tmp_path: Path) -> None:
    shelf = RuntimeShelf(tmp_path, machine="x86_64", registry=(tmp_path / "none").as_uri())
    catalog = RuntimeCatalog({"python3.11": PY311}, {}, shelf)
    problem = catalog.ensure("nodejs18.x")
    assert problem is not None
    assert problem.startswith("The runtime nodejs18.x could not be installed: could not download")
    assert catalog.launcher("nodejs18.x") is None


def test_a_python_the_host_lacks_is_explained_with_what_it_has(tmp_path: Path) -> None:
    catalog = RuntimeCatalog({"python3.11": PY311}, {}, RuntimeShelf(tmp_path, machine="x86_64"))
    assert "python3.12" not in catalog.creatable()
    assert catalog.why_not("python3.12") == (
        "This gureum host cannot run python3.12: no Python 3.12 interpreter is installed. "
        "Runtimes this host has: python3.11, provided.al2023, provided.al2. "
        "To add it: gureum runtimes add python3.12"
    )
    assert catalog.ensure("python3.12") == catalog.why_not("python3.12")
    assert catalog.why_not("python3.11") is None
    assert catalog.why_not("nodejs22.x") is None  # fetchable, so creatable
    assert catalog.why_not("cobol") is None  # not a Lambda runtime: AWS's message alone


def test_node_runtimes_on_a_machine_with_no_pinned_build(tmp_path: Path) -> None:
    catalog = RuntimeCatalog({"python3.11": PY311}, {}, RuntimeShelf(tmp_path, machine="riscv64"))
    assert catalog.addable() == []
    assert catalog.why_not("nodejs22.x") == (
        "This gureum host cannot run nodejs22.x: no Node.js build for nodejs22.x is pinned for "
        "this machine. Runtimes this host has: python3.11, provided.al2023, provided.al2. "
        "To add it: gureum runtimes add nodejs22.x"
    )


def test_invoking_a_runtime_that_is_fetchable_but_not_fetched_says_how_to_add_it(
    tmp_path: Path,
) -> None:
    catalog = RuntimeCatalog(
        {"python3.11": PY311}, HOST_NODE, RuntimeShelf(tmp_path, machine="x86_64")
    )
    assert catalog.unavailable("nodejs22.x") == (
        "The runtime nodejs22.x is not installed on this gureum server yet. "
        "To add it: gureum runtimes add nodejs22.x"
    )
    assert catalog.unavailable("python3.12") == catalog.why_not("python3.12")
    assert catalog.unavailable("java21") == (
        "The runtime java21 cannot run on this gureum server. Runtimes it can run: "
        "python3.11, provided.al2023, provided.al2, nodejs20.x"
    )
