"""Functions' policies as AWS writes them (pure): principals, conditions, the statement-id and
revision rules, the size limit, and what the one evaluator makes of the result."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gureum.aws.policy import Decision, PolicyRequest, evaluate
from gureum.lambda_.domain.errors import (
    InvalidParameterValue,
    PolicyLengthExceeded,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
)
from gureum.lambda_.domain.permissions import (
    POLICY_LIMIT,
    FunctionPolicy,
    Grant,
    added,
    check_revision,
    principal_element,
    removed,
    statement_of,
)

FN = "arn:aws:lambda:us-east-1:111122223333:function:f"
BASE = FunctionPolicy("111122223333", "us-east-1", "f", "", "id-1", "", ())


@pytest.mark.parametrize(
    ("given", "element"),
    [
        ("*", "*"),
        ("444455556666", {"AWS": "arn:aws:iam::444455556666:root"}),
        ("arn:aws:iam::444455556666:role/r", {"AWS": "arn:aws:iam::444455556666:role/r"}),
        ("arn:aws:iam::444455556666:root", {"AWS": "arn:aws:iam::444455556666:root"}),
        ("sns.amazonaws.com", {"Service": "sns.amazonaws.com"}),
        ("s3.amazonaws.com", {"Service": "s3.amazonaws.com"}),
    ],
)
def test_principals_are_written_as_aws_writes_them(given: str, element: Any) -> None:
    assert principal_element(given) == element


@pytest.mark.parametrize("given", ["bob", "4444", "arn:aws:s3:::bucket", "amazonaws.com"])
def test_other_principals_are_refused(given: str) -> None:
    with pytest.raises(InvalidParameterValue, match="The provided principal was invalid"):
        principal_element(given)


@pytest.mark.parametrize(
    ("grant", "condition"),
    [
        (Grant("s", "lambda:InvokeFunction", "*"), None),
        (
            Grant("s", "lambda:InvokeFunction", "s3.amazonaws.com", source_arn="arn:aws:s3:::b"),
            {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::b"}},
        ),
        (
            Grant("s", "lambda:InvokeFunction", "s3.amazonaws.com", source_account="111122223333"),
            {"StringEquals": {"AWS:SourceAccount": "111122223333"}},
        ),
        (
            Grant("s", "lambda:InvokeFunction", "*", principal_org_id="o-abcdefghij"),
            {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}},
        ),
        (
            Grant("s", "lambda:InvokeFunctionUrl", "*", function_url_auth_type="NONE"),
            {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
        ),
        (
            Grant("s", "lambda:InvokeFunction", "*", invoked_via_function_url=True),
            {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
        ),
    ],
)
def test_members_become_conditions(grant: Grant, condition: Any) -> None:
    statement = statement_of(grant, FN)
    assert statement.get("Condition") == condition
    assert (statement["Sid"], statement["Effect"], statement["Resource"]) == ("s", "Allow", FN)


def test_a_statement_id_in_use_is_a_conflict_and_an_unknown_one_not_found() -> None:
    policy, _ = added(None, BASE, Grant("a", "lambda:InvokeFunction", "*"), FN, "r1")
    with pytest.raises(ResourceConflict, match=r"The statement id \(a\) provided already exists"):
        added(policy, BASE, Grant("a", "lambda:GetFunction", "*"), FN, "r2")
    with pytest.raises(ResourceNotFound, match=r"Statement b is not found in resource policy\."):
        removed(policy, "b", "r2")
    with pytest.raises(ResourceNotFound, match="No policy is associated"):
        removed(None, "a", "r2")
    assert removed(policy, "a", "r2").statements == ()


def test_the_revision_precondition() -> None:
    policy, _ = added(None, BASE, Grant("a", "lambda:InvokeFunction", "*"), FN, "r1")
    check_revision(policy, None)
    check_revision(policy, "r1")
    for stale in ("r0", ""):
        with pytest.raises(PreconditionFailed):
            check_revision(policy, stale)
    with pytest.raises(PreconditionFailed):
        check_revision(None, "r1")


def test_a_policy_past_20_kb_is_refused() -> None:
    policy: FunctionPolicy | None = None
    n = 0
    while policy is None or len(policy.text()) < POLICY_LIMIT - 200:
        grant = Grant(f"statement-{n:04d}", "lambda:InvokeFunction", "444455556666")
        policy, _ = added(policy, BASE, grant, FN, f"r{n}")
        n += 1
    too_many = Grant("s" * 100, "lambda:InvokeFunction", "444455556666")
    with pytest.raises(PolicyLengthExceeded, match=rf"is bigger than the limit \({POLICY_LIMIT}\)"):
        added(policy, BASE, too_many, FN, "last")


@pytest.mark.parametrize(
    ("principal", "keys", "decision"),
    [
        ("arn:aws:iam::444455556666:root", {}, Decision.ALLOW),
        ("arn:aws:iam::444455556666:user/u", {}, Decision.ALLOW),
        ("arn:aws:sts::444455556666:assumed-role/r/s", {}, Decision.ALLOW),
        ("arn:aws:iam::777788889999:root", {}, Decision.IMPLICIT_DENY),
        ("Service:sns.amazonaws.com", {}, Decision.IMPLICIT_DENY),  # SourceArn missing
        (
            "Service:sns.amazonaws.com",
            {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:t"},
            Decision.ALLOW,
        ),
    ],
)
def test_the_evaluator_reads_what_add_permission_wrote(
    principal: str, keys: dict[str, str], decision: Decision
) -> None:
    policy, _ = added(None, BASE, Grant("acct", "lambda:InvokeFunction", "444455556666"), FN, "1")
    sns = Grant(
        "sns",
        "lambda:InvokeFunction",
        "sns.amazonaws.com",
        source_arn="arn:aws:sns:us-east-1:111122223333:*",
    )
    policy, _ = added(policy, BASE, sns, FN, "2")
    document = policy.policy()
    request = PolicyRequest("lambda:InvokeFunction", FN, principal, keys)
    assert evaluate([document], request) is decision
    assert json.loads(policy.text())["Id"] == "default"
