"""The README's SnapStart walkthrough, run as written."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.readme import run_walkthroughs
from tests.support.server import GureumProcess


def test_snap_start_as_the_readme_says(server: GureumProcess, tmp_path: Path) -> None:
    done = run_walkthroughs(
        server, tmp_path, "### SnapStart: Init once at publish, then restores in milliseconds"
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "1\tPending" in out
    assert '"OptimizationStatus": "On"' in out
    cold, restored = [line for line in out.splitlines() if line.startswith("REPORT")]
    init = re.search(r"Init Duration: ([\d.]+) ms", cold)
    assert init is not None
    assert float(init.group(1)) >= 1000  # the second of Init, paid by $LATEST's cold start
    assert "Restore Duration: " in restored
    assert "Init Duration" not in restored
    assert "after the restore" in out
