"""`--iam off|enforce`: off by default, enforce when asked, anything else refused."""

from __future__ import annotations

import pytest

from gureum.cli import parser, settings_from


def test_iam_is_off_by_default_and_enforce_when_asked() -> None:
    assert settings_from(parser().parse_args(["serve"])).iam == "off"
    assert settings_from(parser().parse_args(["serve", "--iam", "enforce"])).iam == "enforce"


def test_other_modes_are_refused() -> None:
    with pytest.raises(SystemExit, match="--iam must be off or enforce, not strict"):
        settings_from(parser().parse_args(["serve", "--iam", "strict"]))
