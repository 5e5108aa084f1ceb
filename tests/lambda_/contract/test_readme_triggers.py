"""The README's SQS-triggered function and function URL walkthroughs, run as written."""

from __future__ import annotations

from pathlib import Path

from tests.support.readme import run_walkthroughs
from tests.support.server import GureumProcess


def test_an_sqs_trigger_and_a_function_url_as_the_readme_says(
    server: GureumProcess, tmp_path: Path
) -> None:
    done = run_walkthroughs(
        server, tmp_path, "### An SQS-triggered function", "### `curl` a function URL"
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for order in (1, 2, 3):
        assert f"processed order {order}" in out
    assert '"{\\"id\\": 4, \\"bad\\": true}"' in out  # reported failed twice: in the DLQ
    assert "hello gureum from /greet" in out
    assert "hello world from /by-host" in out
    assert "access-control-allow-origin: https://example.com" in out.lower()
