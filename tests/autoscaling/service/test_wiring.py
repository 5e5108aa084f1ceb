"""How the composition root serves Application Auto Scaling: not at all by default (until
Lambda's provisioned concurrency fills its capacity port), over the in-memory capacity with
`--autoscaling-capacity memory`, and never with an unknown value."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gureum.app import GureumApp
from gureum.cli import parser, settings_from


def served(data_dir: Path, *flags: str) -> list[str]:
    args = parser().parse_args(
        ["serve", "--data-dir", str(data_dir), "--isolation", "none", *flags]
    )
    app = GureumApp(settings_from(args))
    try:
        return [s.endpoint.signing_name for s in app.services]
    finally:
        asyncio.run(app.shutdown())


def test_not_served_by_default(tmp_path: Path) -> None:
    assert "application-autoscaling" not in served(tmp_path / "data")


def test_served_over_the_in_memory_capacity(tmp_path: Path) -> None:
    names = served(tmp_path / "data", "--autoscaling-capacity", "memory")
    assert names[-1] == "application-autoscaling"  # built last, stopped first


def test_an_unknown_capacity_is_refused(tmp_path: Path) -> None:
    args = parser().parse_args(["serve", "--autoscaling-capacity", "lambda"])
    with pytest.raises(SystemExit, match="--autoscaling-capacity must be off or memory"):
        settings_from(args)
