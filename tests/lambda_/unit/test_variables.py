"""Environment variables: reserved keys and the 4 KB aggregate limit (spec 3.1, 3.2)."""

from __future__ import annotations

import json

import pytest

from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.variables import RESERVED_KEYS, SIZE_LIMIT, check_variables

PREFIX = "Lambda was unable to configure your environment variables because the environment "
RESERVED = (
    PREFIX + "variables you have provided contains reserved keys that are currently not "
    "supported for modification. Reserved keys used in this request: "
)
TOO_LARGE = PREFIX + "variables you have provided exceeded the 4KB limit. String measured: "


def of_compact_size(size: int, key: str = "LARGE_VAR") -> dict[str, str]:
    """One variable whose compact JSON serialization is exactly `size` bytes."""
    overhead = len(json.dumps({key: ""}, separators=(",", ":")))
    return {key: "x" * (size - overhead)}


def compact(variables: dict[str, str]) -> str:
    return json.dumps(variables, separators=(",", ":"))


@pytest.mark.parametrize(
    "variables",
    [
        pytest.param({}, id="none"),
        pytest.param({"STAGE": "prod", "DEBUG": "1"}, id="ordinary"),
        pytest.param({"AWS_REGION_NAME": "x", "MY_AWS_REGION": "y"}, id="near-reserved"),
        pytest.param({"aws_region": "x"}, id="reserved-is-case-sensitive"),
        pytest.param(of_compact_size(4096), id="exactly-4096-bytes"),
    ],
)
def test_accepted(variables: dict[str, str]) -> None:
    check_variables(variables)


@pytest.mark.parametrize("key", sorted(RESERVED_KEYS))
def test_every_reserved_key_is_refused(key: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_variables({"STAGE": "prod", key: "value"})
    assert caught.value.message == RESERVED + key


@pytest.mark.parametrize(
    "key",
    [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "_HANDLER",
    ],
)
def test_documented_reserved_keys_are_in_the_set(key: str) -> None:
    assert key in RESERVED_KEYS


def test_several_reserved_keys_are_listed_like_aws() -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_variables({"AWS_ACCESS_KEY_ID": "a", "STAGE": "b", "AWS_SECRET_ACCESS_KEY": "c"})
    assert caught.value.message == RESERVED + "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"


def test_several_reserved_keys_are_all_listed_in_request_order() -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_variables({"AWS_SECRET_ACCESS_KEY": "c", "STAGE": "b", "AWS_ACCESS_KEY_ID": "a"})
    listed = caught.value.message.removeprefix(RESERVED)
    assert [key.strip() for key in listed.split(",")] == [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
    ]


def test_reserved_keys_are_checked_before_size() -> None:
    variables = of_compact_size(5000) | {"AWS_REGION": "us-east-1"}
    with pytest.raises(InvalidParameterValue) as caught:
        check_variables(variables)
    assert caught.value.message == RESERVED + "AWS_REGION"


def test_4097_bytes_is_too_large() -> None:
    variables = of_compact_size(4097)
    measured = compact(variables)
    assert len(measured) == SIZE_LIMIT + 1
    with pytest.raises(InvalidParameterValue) as caught:
        check_variables(variables)
    assert caught.value.message == TOO_LARGE + measured
    assert caught.value.status == 400


def test_size_counts_every_variable() -> None:
    # Each variable is small; together their compact JSON is 4097 bytes.
    variables = {f"K{index:02d}": "v" * 100 for index in range(30)}
    padding = SIZE_LIMIT + 1 - len(compact(variables))
    variables["PAD"] = "p" * (padding - len(',"PAD":""'))
    measured = compact(variables)
    assert len(measured) == SIZE_LIMIT + 1
    with pytest.raises(InvalidParameterValue) as caught:
        check_variables(variables)
    assert caught.value.message == TOO_LARGE + measured


def test_measured_string_is_compact_json_with_quotes_escaped() -> None:
    variables = {"A": 'say "hi"', "B": "x" * 4090}
    with pytest.raises(InvalidParameterValue) as caught:
        check_variables(variables)
    assert caught.value.message == TOO_LARGE + '{"A":"say \\"hi\\"","B":"' + "x" * 4090 + '"}'
