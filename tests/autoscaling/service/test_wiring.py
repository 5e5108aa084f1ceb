"""The composition root serves Application Auto Scaling over Lambda's provisioned concurrency."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gureum.app import GureumApp
from gureum.cli import parser, settings_from


def test_served_over_lambdas_provisioned_concurrency(tmp_path: Path) -> None:
    args = parser().parse_args(
        ["serve", "--data-dir", str(tmp_path / "data"), "--isolation", "none"]
    )
    app = GureumApp(settings_from(args))
    try:
        names = [s.endpoint.signing_name for s in app.services]
        assert names[-1] == "application-autoscaling"  # built last, stopped first
    finally:
        asyncio.run(app.shutdown())
