"""The evaluator's newer half, table-driven from AWS's documented examples: identity and resource
policies across accounts, IpAddress and Date operators, and policy variables.

Sources: IAM's "Policy evaluation logic" and "Cross-account policy evaluation logic" pages, and
the examples of the condition operators and policy variables pages of the IAM User Guide.
"""

from __future__ import annotations

from typing import Any

import pytest

from gureum.aws.authorization import account_of, authorize
from gureum.aws.policy import (
    ContextValue,
    Decision,
    PolicyRequest,
    evaluate,
    read_policy,
    substitute,
)

ALLOW, EXPLICIT, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY
A, B = "111111111111", "222222222222"
USER_A = f"arn:aws:iam::{A}:user/alice"
SESSION_B = f"arn:aws:sts::{B}:assumed-role/app/s1"
QUEUE_A = f"arn:aws:sqs:us-east-1:{A}:jobs"


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> Any:
    return read_policy({"Version": version, "Statement": list(statements)})


ALLOW_SEND = doc({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"})
DENY_SEND = doc({"Effect": "Deny", "Action": "sqs:*", "Resource": "*"})


def resource_allowing(principal: str) -> Any:
    return doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "sqs:SendMessage",
            "Resource": QUEUE_A,
        }
    )


# (principal, identity policies, resource policies, decision): AWS's tables of which policy
# kinds must allow, in the resource's account and from another.
AUTHORIZE = [
    ("same account, identity allows", USER_A, [ALLOW_SEND], [], ALLOW),
    ("same account, resource names the user", USER_A, [], [resource_allowing(USER_A)], ALLOW),
    ("same account, neither allows", USER_A, [], [], IMPLICIT),
    # A resource policy naming only the account delegates to identity policies.
    ("same account, resource names the account", USER_A, [], [resource_allowing(A)], IMPLICIT),
    (
        "same account, resource names the account's root",
        USER_A,
        [],
        [resource_allowing(f"arn:aws:iam::{A}:root")],
        IMPLICIT,
    ),
    (
        "same account, account-wide and identity",
        USER_A,
        [ALLOW_SEND],
        [resource_allowing(A)],
        ALLOW,
    ),
    ("same account, resource names everyone", USER_A, [], [resource_allowing("*")], ALLOW),
    ("same account, identity denies", USER_A, [DENY_SEND], [resource_allowing(USER_A)], EXPLICIT),
    (
        "same account, resource denies",
        USER_A,
        [ALLOW_SEND],
        [doc_deny := doc({"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*"})],
        EXPLICIT,
    ),
    ("root of the account needs no identity policy", f"arn:aws:iam::{A}:root", [], [], ALLOW),
    ("root is still bound by a resource deny", f"arn:aws:iam::{A}:root", [], [doc_deny], EXPLICIT),
    ("other account, resource only", SESSION_B, [], [resource_allowing(B)], IMPLICIT),
    ("other account, identity only", SESSION_B, [ALLOW_SEND], [], IMPLICIT),
    ("other account, both allow", SESSION_B, [ALLOW_SEND], [resource_allowing(B)], ALLOW),
    (
        "other account, resource names the role of the session",
        SESSION_B,
        [ALLOW_SEND],
        [resource_allowing(f"arn:aws:iam::{B}:role/app")],
        ALLOW,
    ),
    (
        "other account, resource names another role",
        SESSION_B,
        [ALLOW_SEND],
        [resource_allowing(f"arn:aws:iam::{B}:role/other")],
        IMPLICIT,
    ),
    (
        "other account's root, resource allows its account",
        f"arn:aws:iam::{B}:root",
        [],
        [resource_allowing(B)],
        ALLOW,
    ),
    ("other account's root, no resource policy", f"arn:aws:iam::{B}:root", [], [], IMPLICIT),
]


@pytest.mark.parametrize(
    ("principal", "identity", "resource", "expected"),
    [row[1:] for row in AUTHORIZE],
    ids=[row[0] for row in AUTHORIZE],
)
def test_authorize(principal: str, identity: Any, resource: Any, expected: Decision) -> None:
    request = PolicyRequest("sqs:SendMessage", QUEUE_A, principal)
    assert authorize(request, identity=identity, resource=resource, resource_account=A) is expected


def test_a_boundary_limits_what_identity_policies_allow() -> None:
    request = PolicyRequest("sqs:SendMessage", QUEUE_A, USER_A)
    only_receive = doc({"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"})
    decided = authorize(
        request, identity=[ALLOW_SEND], boundaries=[only_receive], resource_account=A
    )
    assert decided is IMPLICIT
    both = authorize(request, identity=[ALLOW_SEND], boundaries=[ALLOW_SEND], resource_account=A)
    assert both is ALLOW


def condition(block: dict[str, Any]) -> Any:
    return doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": block})


# The operators page's examples: IpAddress with a CIDR, NotIpAddress, IPv6, and dates.
CONDITIONS: list[tuple[str, dict[str, Any], dict[str, ContextValue], Decision]] = [
    (
        "ip in range",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "203.0.113.7"},
        ALLOW,
    ),
    (
        "ip out of range",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "198.51.100.1"},
        IMPLICIT,
    ),
    (
        "single address",
        {"IpAddress": {"aws:SourceIp": "203.0.113.7"}},
        {"aws:SourceIp": "203.0.113.7"},
        ALLOW,
    ),
    (
        "ipv6 range",
        {"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}},
        {"aws:SourceIp": "2001:db8:1234:5678::1"},
        ALLOW,
    ),
    (
        "not ip, outside",
        {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}},
        {"aws:SourceIp": "198.51.100.1"},
        ALLOW,
    ),
    (
        "not ip, inside",
        {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}},
        {"aws:SourceIp": "192.0.2.9"},
        IMPLICIT,
    ),
    ("ip key absent", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {}, IMPLICIT),
    (
        "garbage address",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "nope"},
        IMPLICIT,
    ),
    (
        "before a date",
        {"DateLessThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"}},
        {"aws:CurrentTime": "2020-03-31T23:59:59Z"},
        ALLOW,
    ),
    (
        "after that date",
        {"DateLessThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"}},
        {"aws:CurrentTime": "2020-04-01T00:00:01Z"},
        IMPLICIT,
    ),
    (
        "epoch seconds",
        {"DateGreaterThan": {"aws:EpochTime": "1585699200"}},
        {"aws:EpochTime": "2020-04-02T00:00:00Z"},
        ALLOW,
    ),
    (
        "a day, no time",
        {"DateGreaterThanEquals": {"aws:CurrentTime": "2019-07-16"}},
        {"aws:CurrentTime": "2019-07-16T12:00:00Z"},
        ALLOW,
    ),
    (
        "date not equals",
        {"DateNotEquals": {"aws:CurrentTime": "2019-07-16T00:00:00Z"}},
        {"aws:CurrentTime": "2019-07-16T00:00:00+00:00"},
        IMPLICIT,
    ),
    (
        "unreadable date",
        {"DateLessThan": {"aws:CurrentTime": "soon"}},
        {"aws:CurrentTime": "2019-07-16T00:00:00Z"},
        IMPLICIT,
    ),
]


@pytest.mark.parametrize(
    ("block", "context", "expected"),
    [row[1:] for row in CONDITIONS],
    ids=[row[0] for row in CONDITIONS],
)
def test_conditions(
    block: dict[str, Any], context: dict[str, ContextValue], expected: Decision
) -> None:
    request = PolicyRequest("s3:GetObject", "arn:aws:s3:::b/k", USER_A, context)
    assert evaluate([condition(block)], request) is expected


HOME = {
    "Effect": "Allow",
    "Action": "s3:*",
    "Resource": "arn:aws:s3:::bucket/home/${aws:username}/*",
}


@pytest.mark.parametrize(
    ("username", "resource", "expected"),
    [
        ("alice", "arn:aws:s3:::bucket/home/alice/notes.txt", ALLOW),
        ("alice", "arn:aws:s3:::bucket/home/bob/notes.txt", IMPLICIT),
        # A `*` in a value is matched as itself, never as a wildcard.
        ("*", "arn:aws:s3:::bucket/home/bob/notes.txt", IMPLICIT),
        (None, "arn:aws:s3:::bucket/home//notes.txt", IMPLICIT),
    ],
)
def test_policy_variables(username: str | None, resource: str, expected: Decision) -> None:
    context: dict[str, ContextValue] = {} if username is None else {"aws:username": username}
    request = PolicyRequest("s3:GetObject", resource, USER_A, context)
    assert evaluate([doc(HOME)], request) is expected


def test_variables_are_literal_in_the_2008_version() -> None:
    request = PolicyRequest(
        "s3:GetObject", "arn:aws:s3:::bucket/home/${aws:username}/x", USER_A, {"aws:username": "a"}
    )
    assert evaluate([doc(HOME, version="2008-10-17")], request) is ALLOW


def test_variables_in_condition_values_and_escapes() -> None:
    tagged = doc(
        {
            "Effect": "Allow",
            "Action": "iam:GetUser",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}},
        }
    )
    request = PolicyRequest(
        "iam:GetUser", "*", USER_A, {"aws:username": "ops", "aws:PrincipalTag/team": "ops"}
    )
    assert evaluate([tagged], request) is ALLOW
    assert substitute("a${*}b${?}${$}", {}) == "a\x00*b\x00?\x00$"


def test_account_of() -> None:
    assert account_of(USER_A) == A
    assert account_of(B) == B
    assert account_of("*") == ""
