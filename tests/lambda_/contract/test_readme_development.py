"""The README's "Writing functions" walkthroughs (hot reload, breakpoints, response streaming,
recursive loop detection), run as written in bash with the AWS CLI against a server started as
the README says (debug mode for `debug-me`)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lambda_.contract.test_breakpoints import Dap
from tests.support.readme import run_walkthroughs
from tests.support.server import GureumProcess, free_port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GureumProcess]:
    port = free_port()
    process = GureumProcess(
        tmp_path / "data",
        "--debug-functions",
        "debug-me",
        "--debug-wait",
        "60",
        "--debug-port",
        str(port),
        "--inspect-port",
        str(free_port()),
    ).start()
    process.debug_port = port  # type: ignore[attr-defined]
    yield process
    process.stop()


def test_hot_reload_streaming_and_loops_as_the_readme_says(
    server: GureumProcess, tmp_path: Path
) -> None:
    if server.health()["isolation"]["mode"] != "namespaces":
        pytest.skip("hot reload needs gureum's sandboxes (isolation namespaces)")
    done = run_walkthroughs(
        server,
        tmp_path,
        "### Hot reload: save a file, invoke the new code",
        "### Response streaming that streams",
        "### Recursive loop detection",
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.index('"v1"') < out.index('"v2"')
    assert "streamed as written" in out
    assert "{'PayloadChunk': {'Payload': b'streamed '}}" in out
    assert "'InvokeComplete'" in out
    assert '"RecursiveLoop": "Terminate"' in out
    assert "\n16\n" in out
    assert '"round"' in out


def test_breakpoints_as_the_readme_says(server: GureumProcess, tmp_path: Path) -> None:
    result: list[subprocess.CompletedProcess[str]] = []
    walking = threading.Thread(
        target=lambda: result.append(
            run_walkthroughs(server, tmp_path, "### Breakpoints: debugpy and the Node.js inspector")
        ),
        daemon=True,
    )
    walking.start()
    dap = Dap(server.debug_port)  # type: ignore[attr-defined]
    try:
        dap.send("initialize", adapterID="debugpy", linesStartAt1=True, pathFormat="path")
        dap.wait("response", "initialize")
        dap.send("attach", justMyCode=False)
        dap.wait("event", "initialized")
        dap.send("setBreakpoints", source={"path": "/var/task/debug.py"}, breakpoints=[{"line": 3}])
        dap.wait("response", "setBreakpoints")
        dap.send("configurationDone")
        stopped = dap.wait("event", "stopped")
        assert stopped["body"]["reason"] == "breakpoint"
        dap.send("continue", threadId=stopped["body"]["threadId"])
        walking.join(120)
    finally:
        dap.close()
    (done,) = result
    assert done.returncode == 0, done.stderr
    assert '{"doubled": 42}' in done.stdout
