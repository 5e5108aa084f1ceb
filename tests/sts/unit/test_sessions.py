"""STS's pure core: sealed session tokens (forgery, tampering, other keys), derived secrets,
durations and their limits, scaled expiry."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gureum.sts.domain.errors import StsValidationError
from gureum.sts.domain.sessions import (
    Session,
    duration_of,
    expiry,
    packed_size,
    seal,
    secret_of,
    too_large,
    unseal,
)

KEY = b"k" * 32
SESSION = Session(
    "ASIAAAAAAAAAAAAAAAAA",
    "111122223333",
    "app",
    "AROAAAAAAAAAAAAAAAAAA",
    "s1",
    datetime(2030, 1, 1, tzinfo=UTC),
)


def test_a_sealed_session_opens_as_itself() -> None:
    assert unseal(seal(SESSION, KEY), KEY) == SESSION
    assert SESSION.arn == "arn:aws:sts::111122223333:assumed-role/app/s1"
    assert SESSION.user_id == "AROAAAAAAAAAAAAAAAAAA:s1"


def _tampered(token: str) -> str:
    """The same token with its payload's account changed and the old seal kept."""
    body, _, mac = token.removeprefix("FQoGZXIvYXdzE").partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload[1] = "999999999999"
    raw = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
    return "FQoGZXIvYXdzE" + raw.decode().rstrip("=") + "." + mac


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "FQoGZXIvYXdzE",
        "FQoGZXIvYXdzE!!!.###",
        seal(SESSION, b"x" * 32),  # sealed by another server
        _tampered(seal(SESSION, KEY)),
        seal(SESSION, KEY)[:-2],
        "FQoGZXIvYXdzE" + "A" * 5000,
    ],
)
def test_forged_tokens_do_not_open(token: str) -> None:
    assert unseal(token, KEY) is None


def test_secrets_are_derived_per_key_id_and_server() -> None:
    secret = secret_of("ASIAAAAAAAAAAAAAAAAA", KEY)
    assert len(secret) == 40
    assert secret == secret_of("ASIAAAAAAAAAAAAAAAAA", KEY)
    assert secret != secret_of("ASIAAAAAAAAAAAAAAAAB", KEY)
    assert secret != secret_of("ASIAAAAAAAAAAAAAAAAA", b"x" * 32)


@pytest.mark.parametrize(
    ("requested", "limit", "chained", "expected"),
    [
        (None, 3600, False, 3600),
        (900, 3600, False, 900),
        (43200, 43200, False, 43200),
        (3600, 43200, True, 3600),
    ],
)
def test_durations(requested: int | None, limit: int, chained: bool, expected: int) -> None:
    assert duration_of(requested, limit, chained) == expected


@pytest.mark.parametrize(
    ("requested", "limit", "chained", "message"),
    [
        (7200, 3600, False, "exceeds the MaxSessionDuration set for this role."),
        (7200, 43200, True, "exceeds the 1 hour session limit for roles assumed by role chaining."),
    ],
)
def test_durations_refused(requested: int, limit: int, chained: bool, message: str) -> None:
    with pytest.raises(StsValidationError, match=message):
        duration_of(requested, limit, chained)


def test_expiry_is_scaled() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert expiry(now, 3600, 1.0) == now + timedelta(hours=1)
    assert expiry(now, 3600, 0.01) == now + timedelta(seconds=36)


def test_a_session_policy_travels_in_the_token() -> None:
    bounded = replace(SESSION, policy='{"Version":"2012-10-17","Statement":[]}')
    assert unseal(seal(bounded, KEY), KEY) == bounded
    assert packed_size(2048) == 100
    assert packed_size(1) == 1
    assert "103%" in too_large(2100).message
