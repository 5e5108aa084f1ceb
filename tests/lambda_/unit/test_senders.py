"""Who Lambda sends destination records and dead letters as (spec 5.4, 5.5): the role's session."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from gureum.lambda_.domain.event_configs import role_unique_id, sender_id

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
NOW = datetime(2016, 10, 7, 22, 47, 8, 400_000, tzinfo=UTC).timestamp()


def test_a_roles_unique_id_is_stable_distinct_and_shaped_as_iams() -> None:
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", role_unique_id(ROLE))
    assert role_unique_id(ROLE) == role_unique_id(ROLE)
    assert role_unique_id(ROLE) != role_unique_id(f"{ROLE}-2")


def test_the_sender_id_is_the_roles_id_and_an_awslambda_session_at_that_millisecond() -> None:
    # An AWS SenderId, quoted in getmoto/moto#792:
    # AROAIL6GAI2XEC672SWG2:awslambda_39_20161007224708400
    sender = sender_id(ROLE, "request-1", NOW)
    match = re.fullmatch(r"(AROA[A-Z2-7]{17}):awslambda_(\d{1,3})_(\d{17})", sender)
    assert match is not None, sender
    assert match[1] == role_unique_id(ROLE)
    assert match[3] == "20161007224708400"
    assert sender == sender_id(ROLE, "request-1", NOW)
