"""gureum as a user installs it: a wheel in a fresh virtual environment outside the checkout.

Nothing of the source tree may be read at run time, so the server is started from the installed
`gureum` script in another directory, and it must create and invoke a Python and a Node.js
function (the runtimes' guest files come from the wheel's package data).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.functions import invoke
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

ROOT = Path(__file__).resolve().parents[3]
ROLE = "arn:aws:iam::000000000000:role/lambda-role"

pytestmark = pytest.mark.slow


def _run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        # The checkout must not leak in through the environment either.
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
        check=False,
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv outside the checkout with gureum installed from a freshly built wheel."""
    scratch = tmp_path_factory.mktemp("install")
    wheels = scratch / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, ROOT, cwd=scratch)
    (wheel,) = wheels.glob("gureum-*.whl")
    env_dir = scratch / "venv"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(env_dir)
    pip: list[str | Path] = [env_dir / "bin" / "python", "-m", "pip", "install", "-q"]
    pip.append("--disable-pip-version-check")
    _run(*pip, "-c", ROOT / "constraints.txt", wheel, cwd=scratch)
    yield env_dir
    shutil.rmtree(scratch, ignore_errors=True)


def test_the_installed_package_is_not_the_checkout(installed: Path) -> None:
    where = _run(
        installed / "bin" / "python", "-c", "import gureum; print(gureum.__file__)", cwd=installed
    )
    assert where.strip().startswith(str(installed)), where
    assert _run(installed / "bin" / "gureum", "--version", cwd=installed).strip() == "gureum 0.1.0"
    assert "gureum 0.1.0" in _run(
        installed / "bin" / "python", "-m", "gureum", "--version", cwd=installed
    )


def test_an_installed_server_creates_and_invokes_python_and_node(installed: Path) -> None:
    server = GureumProcess(
        installed / "data", command=(str(installed / "bin" / "gureum"),), cwd=installed
    ).start()
    try:
        client = server.client()
        runtimes = server.health()["runtimes"]
        python = next(r for r in runtimes if r.startswith("python3"))
        cases = [
            ("py", python, "index.py", "def handler(event, context):\n    return {'py': event}\n")
        ]
        node = next((r for r in runtimes if r.startswith("nodejs")), None)
        if node is not None:  # runtimes exist where the machine has node (the fidelity issue)
            cases.append(("js", node, "index.js", "exports.handler = async (e) => ({js: e});\n"))
        for name, runtime, filename, source in cases:
            client.create_function(
                FunctionName=name,
                Runtime=runtime,
                Role=ROLE,
                Handler="index.handler",
                Code={"ZipFile": zip_of({filename: source})},
            )
            client.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 0.1}
            )
            reply = invoke(client, name, {"n": 1})
            assert reply.status == 200
            assert json.loads(reply.payload) == {name: {"n": 1}}
        _the_console_s_assets_are_served(server.url)
    finally:
        server.stop()


def _the_console_s_assets_are_served(url: str) -> None:
    """The console's pages and assets (uPlot and its licence among them) come from the wheel's
    package data: nothing is fetched from a CDN or read from the checkout."""
    console = f"{url}/_gureum/console"
    with urllib.request.urlopen(f"{console}/sign-in", timeout=10) as reply:
        assert b'action="/_gureum/console/sign-in"' in reply.read()
    for asset, marker in (
        ("vendor/uplot/uPlot.iife.min.js", b"uPlot"),
        ("vendor/uplot/LICENSE", b"MIT"),
        ("dashboard.js", b"EventSource"),
        ("console.css", b"body"),
    ):
        with urllib.request.urlopen(f"{console}/static/{asset}", timeout=10) as reply:
            assert reply.status == 200, asset
            assert marker in reply.read(), asset
