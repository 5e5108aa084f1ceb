"""The lineage of a chain of invocations (domain.recursion), table-driven."""

from __future__ import annotations

import pytest

from gureum.lambda_.domain.recursion import (
    THRESHOLD,
    carried,
    count,
    function_key,
    is_loop,
    lineage,
    most_recursive,
)

A = "arn:aws:lambda:us-east-1:000000000000:function:a"
B = "arn:aws:lambda:us-east-1:000000000000:function:b"


def chain(*arns: str, header: str | None = None) -> str | None:
    for arn in arns:
        header = carried(header, arn, "1-00000000-000000000000000000000000", "0" * 16)
    return header


def test_each_invocation_counts_its_function_once() -> None:
    header = chain(A, B, A)
    assert (count(header, A), count(header, B)) == (2, 1)


def test_the_caller_s_root_and_sampling_are_kept() -> None:
    header = carried("Root=1-abc-def;Parent=1234;Sampled=1", A, "1-new", "5678")
    assert header.startswith("Root=1-abc-def;Parent=5678;Sampled=1;Lineage=")
    assert carried(None, A, "1-new", "5678").startswith("Root=1-new;Parent=5678;Sampled=0;")


@pytest.mark.parametrize(
    ("invocations", "loop"), [(THRESHOLD - 1, False), (THRESHOLD, True), (THRESHOLD + 3, True)]
)
def test_past_sixteen_invocations_of_one_function_is_a_loop(invocations: int, loop: bool) -> None:
    assert is_loop(chain(*[A] * invocations), A) is loop


def test_a_loop_through_two_functions_counts_each() -> None:
    header = chain(*[A, B] * THRESHOLD)
    assert is_loop(header, A)
    assert is_loop(header, B)


def test_fan_out_is_no_loop() -> None:
    # One event to many functions, or one function calling another many times: each
    # invocation continues the caller's header, so no count grows past one.
    caller = chain(A)
    for _ in range(THRESHOLD * 2):
        assert count(carried(caller, B, "r", "p"), B) == 1
    assert not is_loop(caller, B)


@pytest.mark.parametrize(
    "header",
    [None, "", "Root=1-x", "Lineage=", "Lineage=zz:1", "Lineage=abcdefgh:x", "garbage;;=;"],
)
def test_unreadable_lineage_counts_nothing(header: str | None) -> None:
    assert lineage(header) == {}
    assert count(header, A) == 0


def test_a_batch_runs_with_its_most_recursive_header() -> None:
    short, long = chain(A), chain(A, A, A)
    assert most_recursive([None, short, long, short], A) == long
    assert most_recursive([None, None], A) is None
    assert function_key(A) != function_key(B)
