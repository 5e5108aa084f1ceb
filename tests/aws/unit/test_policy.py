"""The IAM policy evaluator, table-driven: each row is a policy, a request and AWS's decision."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gureum.aws.policy import (
    ContextValue,
    Decision,
    PolicyError,
    PolicyRequest,
    arn_like,
    evaluate,
    parse_policy,
    read_policy,
    wildcard_match,
)

ALLOW, EXPLICIT, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY
ROLE = "arn:aws:iam::111122223333:role/app"
FS = "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-0123456789abcdef0"
AP = "arn:aws:elasticfilesystem:us-east-1:111122223333:access-point/fsap-0123456789abcdef0"


def statement(effect: str = "Allow", **elements: Any) -> dict[str, Any]:
    return {"Effect": effect, **elements}


def policy(*statements: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def decide(
    document: dict[str, Any],
    action: str = "elasticfilesystem:ClientMount",
    resource: str = FS,
    principal: str | None = ROLE,
    context: dict[str, ContextValue] | None = None,
) -> Decision:
    request = PolicyRequest(action, resource, principal, context or {})
    return evaluate([read_policy(document)], request)


EVERYONE: dict[str, Any] = {"Principal": {"AWS": "*"}}
MOUNT: dict[str, Any] = {"Action": "elasticfilesystem:ClientMount"}

ACTIONS = [
    ("elasticfilesystem:ClientMount", "elasticfilesystem:ClientMount", ALLOW),
    ("elasticfilesystem:*", "elasticfilesystem:ClientWrite", ALLOW),
    ("elasticfilesystem:Client*", "elasticfilesystem:ClientRootAccess", ALLOW),
    ("ELASTICFILESYSTEM:clientmount", "elasticfilesystem:ClientMount", ALLOW),
    ("elasticfilesystem:ClientMoun?", "elasticfilesystem:ClientMount", ALLOW),
    ("*", "s3:GetObject", ALLOW),
    ("elasticfilesystem:ClientWrite", "elasticfilesystem:ClientMount", IMPLICIT),
    ("s3:*", "elasticfilesystem:ClientMount", IMPLICIT),
    ("elasticfilesystem:Client", "elasticfilesystem:ClientMount", IMPLICIT),
    (["s3:GetObject", "elasticfilesystem:ClientMount"], "elasticfilesystem:ClientMount", ALLOW),
]


@pytest.mark.parametrize(("pattern", "action", "expected"), ACTIONS)
def test_actions_match_with_wildcards_and_in_any_case(
    pattern: Any, action: str, expected: Decision
) -> None:
    assert decide(policy(statement(**EVERYONE, Action=pattern)), action=action) is expected


NOT_ACTIONS = [
    ("elasticfilesystem:ClientRootAccess", "elasticfilesystem:ClientMount", ALLOW),
    ("elasticfilesystem:ClientRootAccess", "elasticfilesystem:ClientRootAccess", IMPLICIT),
    ("elasticfilesystem:*", "elasticfilesystem:ClientMount", IMPLICIT),
]


@pytest.mark.parametrize(("pattern", "action", "expected"), NOT_ACTIONS)
def test_not_action_applies_to_every_other_action(
    pattern: str, action: str, expected: Decision
) -> None:
    assert decide(policy(statement(**EVERYONE, NotAction=pattern)), action=action) is expected


PRINCIPALS = [
    ("*", ROLE, ALLOW),
    ({"AWS": "*"}, ROLE, ALLOW),
    ({"AWS": "*"}, None, ALLOW),
    ({"AWS": ROLE}, ROLE, ALLOW),
    ({"AWS": [ROLE, "arn:aws:iam::111122223333:role/other"]}, ROLE, ALLOW),
    ({"AWS": "111122223333"}, ROLE, ALLOW),
    ({"AWS": "arn:aws:iam::111122223333:root"}, ROLE, ALLOW),
    ({"AWS": "444455556666"}, ROLE, IMPLICIT),
    ({"AWS": "arn:aws:iam::444455556666:root"}, ROLE, IMPLICIT),
    ({"AWS": "arn:aws:iam::111122223333:role/other"}, ROLE, IMPLICIT),
    ({"AWS": ROLE}, None, IMPLICIT),
    ({"AWS": ROLE}, "arn:aws:sts::111122223333:assumed-role/app/session-1", ALLOW),
    ({"AWS": ROLE}, "arn:aws:sts::111122223333:assumed-role/application/s", IMPLICIT),
    ({"Service": "lambda.amazonaws.com"}, "Service:lambda.amazonaws.com", ALLOW),
    ({"Service": "lambda.amazonaws.com"}, "Service:s3.amazonaws.com", IMPLICIT),
    ({"Service": "lambda.amazonaws.com"}, ROLE, IMPLICIT),
]


@pytest.mark.parametrize(("principal", "caller", "expected"), PRINCIPALS)
def test_principals_name_arns_accounts_and_everyone(
    principal: Any, caller: str | None, expected: Decision
) -> None:
    document = policy(statement(Principal=principal, **MOUNT))
    assert decide(document, principal=caller) is expected


def test_not_principal_applies_to_everyone_else() -> None:
    document = policy(
        statement(**EVERYONE, **MOUNT),
        statement("Deny", NotPrincipal={"AWS": ROLE}, **MOUNT),
    )
    assert decide(document, principal=ROLE) is ALLOW
    assert decide(document, principal="arn:aws:iam::111122223333:role/x") is EXPLICIT


def test_a_statement_without_principal_applies_to_any_caller() -> None:
    # Identity policies carry no Principal: the caller is the identity they are attached to.
    assert decide(policy(statement(**MOUNT, Resource="*"))) is ALLOW


RESOURCES = [
    ({"Resource": FS}, FS, ALLOW),
    ({"Resource": "arn:aws:elasticfilesystem:*:*:file-system/*"}, FS, ALLOW),
    ({"Resource": "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-*"}, FS, ALLOW),
    ({"Resource": "arn:aws:elasticfilesystem:us-west-2:*:*"}, FS, IMPLICIT),
    ({"Resource": AP}, FS, IMPLICIT),
    ({"Resource": FS.upper()}, FS, IMPLICIT),  # resources are case-sensitive
    ({"NotResource": AP}, FS, ALLOW),
    ({"NotResource": FS}, FS, IMPLICIT),
]


@pytest.mark.parametrize(("element", "resource", "expected"), RESOURCES)
def test_resources_match_case_sensitively(
    element: dict[str, str], resource: str, expected: Decision
) -> None:
    assert decide(policy(statement(**EVERYONE, **MOUNT, **element)), resource=resource) is expected


def test_explicit_deny_wins_over_allow_in_any_order() -> None:
    allow = statement(**EVERYONE, Action="elasticfilesystem:*")
    deny = statement("Deny", **EVERYONE, Action="elasticfilesystem:ClientWrite")
    for document in (policy(allow, deny), policy(deny, allow)):
        assert decide(document, action="elasticfilesystem:ClientWrite") is EXPLICIT
        assert decide(document, action="elasticfilesystem:ClientMount") is ALLOW


def test_deny_in_one_policy_wins_over_allow_in_another() -> None:
    allow = read_policy(policy(statement(**EVERYONE, **MOUNT)))
    deny = read_policy(policy(statement("Deny", **EVERYONE, **MOUNT)))
    request = PolicyRequest("elasticfilesystem:ClientMount", FS, ROLE)
    assert evaluate([allow, deny], request) is EXPLICIT
    assert evaluate([allow], request) is ALLOW
    assert evaluate([], request) is IMPLICIT


def test_nothing_that_applies_is_an_implicit_deny() -> None:
    assert decide(policy(statement("Deny", **EVERYONE, Action="s3:*"))) is IMPLICIT


AP_KEY = "elasticfilesystem:AccessPointArn"
MT_KEY = "elasticfilesystem:AccessedViaMountTarget"
OTHER_AP = AP.replace("fsap-0", "fsap-f")

CONDITIONS: list[tuple[dict[str, Any], dict[str, ContextValue], Decision]] = [
    ({"StringEquals": {AP_KEY: AP}}, {AP_KEY: AP}, ALLOW),
    ({"StringEquals": {AP_KEY: AP}}, {AP_KEY: OTHER_AP}, IMPLICIT),
    ({"StringEquals": {AP_KEY: AP}}, {}, IMPLICIT),
    ({"StringEquals": {AP_KEY: [OTHER_AP, AP]}}, {AP_KEY: AP}, ALLOW),  # values: OR
    ({"StringEquals": {AP_KEY.upper(): AP}}, {AP_KEY: AP}, ALLOW),  # keys: any case
    ({"StringEquals": {AP_KEY: AP.upper()}}, {AP_KEY: AP}, IMPLICIT),  # values: exact
    ({"StringEqualsIgnoreCase": {AP_KEY: AP.upper()}}, {AP_KEY: AP}, ALLOW),
    ({"StringNotEquals": {AP_KEY: AP}}, {AP_KEY: OTHER_AP}, ALLOW),
    ({"StringNotEquals": {AP_KEY: AP}}, {AP_KEY: AP}, IMPLICIT),
    ({"StringNotEquals": {AP_KEY: [AP, OTHER_AP]}}, {AP_KEY: OTHER_AP}, IMPLICIT),
    ({"StringNotEquals": {AP_KEY: AP}}, {}, ALLOW),  # a negated operator passes a missing key
    ({"StringLike": {AP_KEY: "*:access-point/fsap-0*"}}, {AP_KEY: AP}, ALLOW),
    ({"StringLike": {AP_KEY: "*:access-point/fsap-f*"}}, {AP_KEY: AP}, IMPLICIT),
    ({"StringNotLike": {AP_KEY: "*:access-point/fsap-f*"}}, {AP_KEY: AP}, ALLOW),
    ({"ArnEquals": {AP_KEY: AP}}, {AP_KEY: AP}, ALLOW),
    ({"ArnLike": {AP_KEY: "arn:aws:elasticfilesystem:*:*:access-point/*"}}, {AP_KEY: AP}, ALLOW),
    ({"ArnLike": {AP_KEY: "arn:aws:elasticfilesystem:*:access-point/*"}}, {AP_KEY: AP}, IMPLICIT),
    ({"ArnNotLike": {AP_KEY: "arn:aws:elasticfilesystem:*:*:access-point/*"}}, {}, ALLOW),
    ({"ArnNotEquals": {AP_KEY: AP}}, {AP_KEY: AP}, IMPLICIT),
    ({"Bool": {MT_KEY: "true"}}, {MT_KEY: True}, ALLOW),
    ({"Bool": {MT_KEY: "TRUE"}}, {MT_KEY: True}, ALLOW),
    ({"Bool": {MT_KEY: True}}, {MT_KEY: True}, ALLOW),
    ({"Bool": {MT_KEY: "true"}}, {MT_KEY: False}, IMPLICIT),
    ({"Bool": {MT_KEY: "false"}}, {MT_KEY: False}, ALLOW),
    ({"Bool": {MT_KEY: "true"}}, {}, IMPLICIT),
    ({"BoolIfExists": {MT_KEY: "true"}}, {}, ALLOW),
    ({"BoolIfExists": {MT_KEY: "true"}}, {MT_KEY: False}, IMPLICIT),
    ({"StringEqualsIfExists": {AP_KEY: AP}}, {}, ALLOW),
    ({"StringEqualsIfExists": {AP_KEY: AP}}, {AP_KEY: OTHER_AP}, IMPLICIT),
    ({"ArnLikeIfExists": {AP_KEY: AP}}, {AP_KEY: AP}, ALLOW),
    ({"Null": {AP_KEY: "true"}}, {}, ALLOW),
    ({"Null": {AP_KEY: "true"}}, {AP_KEY: AP}, IMPLICIT),
    ({"Null": {AP_KEY: "false"}}, {AP_KEY: AP}, ALLOW),
    # Every key and every operator of a block must hold (AND).
    ({"StringEquals": {AP_KEY: AP}, "Bool": {MT_KEY: "true"}}, {AP_KEY: AP, MT_KEY: True}, ALLOW),
    ({"StringEquals": {AP_KEY: AP}, "Bool": {MT_KEY: "true"}}, {AP_KEY: AP}, IMPLICIT),
    ({"StringEquals": {AP_KEY: AP, "aws:x": "1"}}, {AP_KEY: AP, "aws:x": "2"}, IMPLICIT),
    ({"NumericLessThan": {"aws:n": "10"}}, {"aws:n": "9"}, ALLOW),
    ({"NumericLessThan": {"aws:n": "10"}}, {"aws:n": "10"}, IMPLICIT),
    ({"NumericGreaterThanEquals": {"aws:n": "10"}}, {"aws:n": "10"}, ALLOW),
    ({"NumericEquals": {"aws:n": "10"}}, {"aws:n": "ten"}, IMPLICIT),
    # Multivalued keys.
    ({"ForAnyValue:StringEquals": {"aws:tags": ["a", "b"]}}, {"aws:tags": ["c", "b"]}, ALLOW),
    ({"ForAnyValue:StringEquals": {"aws:tags": ["a"]}}, {"aws:tags": ["c"]}, IMPLICIT),
    ({"ForAnyValue:StringEquals": {"aws:tags": ["a"]}}, {}, IMPLICIT),
    ({"ForAllValues:StringEquals": {"aws:tags": ["a", "b"]}}, {"aws:tags": ["a", "b"]}, ALLOW),
    ({"ForAllValues:StringEquals": {"aws:tags": ["a"]}}, {"aws:tags": ["a", "b"]}, IMPLICIT),
    ({"ForAllValues:StringEquals": {"aws:tags": ["a"]}}, {}, ALLOW),  # vacuously true
    ({"ForAllValues:StringLike": {"aws:tags": ["a*"]}}, {"aws:tags": ["ab", "ac"]}, ALLOW),
]


@pytest.mark.parametrize(("condition", "context", "expected"), CONDITIONS)
def test_conditions(
    condition: dict[str, Any], context: dict[str, ContextValue], expected: Decision
) -> None:
    document = policy(statement(**EVERYONE, **MOUNT, Condition=condition))
    assert decide(document, context=context) is expected


def test_a_deny_with_a_condition_denies_only_when_it_holds() -> None:
    # The usual EFS policy: no mounting except through a mount target.
    document = policy(
        statement(**EVERYONE, Action="elasticfilesystem:*"),
        statement("Deny", **EVERYONE, Action="*", Condition={"Bool": {MT_KEY: "false"}}),
    )
    assert decide(document, context={MT_KEY: True}) is ALLOW
    assert decide(document, context={MT_KEY: False}) is EXPLICIT


INVALID: list[tuple[Any, str]] = [
    ([], "Policy must be a JSON object."),
    ({"Version": "2012-10-17"}, "Policy is missing required element: Statement."),
    ({"Version": "2020-01-01", "Statement": []}, "Policy has an invalid Version: 2020-01-01."),
    ({"Statement": []}, "Policy has an empty Statement list."),
    ({"Statement": [], "Extra": 1}, "Policy has an invalid element: Extra."),
    (policy({"Effect": "Maybe", "Action": "*"}), "Statement Effect must be Allow or Deny."),
    (policy({"Effect": "Allow"}), "Statement is missing required element: Action."),
    (
        policy(statement(Action="*", NotAction="s3:*")),
        "Statement cannot have both Action and NotAction.",
    ),
    (
        policy(statement(Action="*", Resource="*", NotResource="*")),
        "Statement cannot have both Resource and NotResource.",
    ),
    (policy(statement(Action="ClientMount")), "Action has an invalid format: ClientMount."),
    (policy(statement(Action=[])), "Action must be a string or a list of strings."),
    (policy(statement(Action=[1])), "Action must be a string or a list of strings."),
    (policy(statement(Action="*", Foo=1)), "Statement has an invalid element: Foo."),
    (
        policy(statement(Action="*", Principal={"AWS": "bob"})),
        "Invalid principal in policy: bob.",
    ),
    (
        policy(statement(Action="*", Principal={"Robots": "*"})),
        "Principal has an invalid type: Robots.",
    ),
    (
        policy(statement(Action="*", Principal="everyone")),
        'Principal must be "*" or an object such as {"AWS": [...]}.',
    ),
    (
        policy(statement(Action="*", Condition={"StringMaybe": {"a": "b"}})),
        "Invalid Condition type: StringMaybe.",
    ),
    (
        policy(statement(Action="*", Condition={"ForSome:StringEquals": {"a": "b"}})),
        "Invalid Condition type: ForSome:StringEquals.",
    ),
    (
        policy(statement(Action="*", Condition={"NullIfExists": {"a": "true"}})),
        "Invalid Condition type: NullIfExists.",
    ),
    (
        policy(statement(Action="*", Condition={"StringEquals": {}})),
        "Condition StringEquals must map condition keys to values.",
    ),
    (
        policy(statement(Action="*", Condition={"StringEquals": {"a": {"b": 1}}})),
        "Condition StringEquals has an invalid value for a.",
    ),
    (policy("not a statement"), "Statement must be a JSON object."),
]


@pytest.mark.parametrize(("document", "message"), INVALID)
def test_invalid_documents_are_refused_with_a_reason(document: Any, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        read_policy(document)
    assert str(caught.value) == message


def test_parse_policy_reads_json_text() -> None:
    text = json.dumps(policy(statement(**EVERYONE, **MOUNT)))
    assert parse_policy(text).statements[0].actions == ("elasticfilesystem:ClientMount",)
    with pytest.raises(PolicyError, match="not valid JSON"):
        parse_policy("{")


def test_a_single_statement_object_is_a_list_of_one() -> None:
    document = {"Version": "2012-10-17", "Statement": statement(**EVERYONE, **MOUNT)}
    assert decide(document) is ALLOW


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("a*c", "abbbc", True),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a.c", "abc", False),  # regular-expression characters are literal
        ("a[bc]", "ab", False),
        ("*", "", True),
    ],
)
def test_wildcards(pattern: str, value: str, expected: bool) -> None:
    assert wildcard_match(pattern, value) is expected


def test_arn_like_matches_part_by_part() -> None:
    assert arn_like("arn:aws:iam::*:role/*", ROLE)
    assert not arn_like("arn:aws:iam::*", ROLE)  # five parts: no match across the colons
    assert arn_like("arn:aws:*:*:*:*", FS)
