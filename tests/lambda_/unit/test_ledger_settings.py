"""`--ledger`: in process by default, a Redis URL, or refused at start-up with the reason."""

from __future__ import annotations

import pytest

from gureum.cli import parser, settings_from


@pytest.mark.parametrize(
    ("given", "ledger"),
    [
        ([], ""),
        (["--ledger", "in-process"], ""),
        (["--ledger", "redis://127.0.0.1:6379/0"], "redis://127.0.0.1:6379/0"),
        (["--ledger", "rediss://cache.internal:6380/2"], "rediss://cache.internal:6380/2"),
        (["--ledger", "unix:///run/redis.sock?db=1"], "unix:///run/redis.sock?db=1"),
    ],
)
def test_ledger_setting(given: list[str], ledger: str) -> None:
    assert settings_from(parser().parse_args(["serve", *given])).ledger == ledger


@pytest.mark.parametrize("value", ["postgresql://db/gureum", "127.0.0.1:6379", "redis"])
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(SystemExit, match="--ledger must be in-process or a redis://"):
        settings_from(parser().parse_args(["serve", "--ledger", value]))


def test_a_redis_url_with_options_the_ledger_would_not_honour_is_refused() -> None:
    with pytest.raises(SystemExit, match="options gureum does not take in a Redis URL: retry"):
        settings_from(parser().parse_args(["serve", "--ledger", "redis://h:1/0?retry=3"]))
