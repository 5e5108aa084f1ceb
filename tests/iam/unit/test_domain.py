"""IAM's pure core: documents refused with IAM's messages, policy ARNs, paging, the AWS managed
catalogue, and the accounts numeric keys name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gureum.aws.accounts import DEFAULT_ACCESS_KEY, AccountDirectory
from gureum.aws.errors import AwsError
from gureum.aws.policy import Decision, PolicyRequest, evaluate, read_policy
from gureum.iam.domain.documents import identity_policy, size_of, trust_policy
from gureum.iam.domain.entities import policy_arn_parts
from gureum.iam.domain.errors import InvalidInput, LimitExceeded, MalformedPolicyDocument
from gureum.iam.domain.managed import AWS_MANAGED
from gureum.iam.domain.paging import page


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole",
}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "Syntax errors in policy."),
        (doc({**ALLOW_ALL, "Principal": "*"}), "Policy document should not specify a principal."),
        (doc({"Effect": "Allow", "Action": "s3:*"}), "Policy statement must contain resources."),
        (doc({"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}), None),
        (doc({"Effect": "Allow", "Action": "nocolon", "Resource": "*"}), None),
        (json.dumps({"Version": "2099-01-01", "Statement": [ALLOW_ALL]}), None),
        ("[]", None),
        ("null", None),
    ],
)
def test_identity_policies_refused(text: str, message: str | None) -> None:
    with pytest.raises(MalformedPolicyDocument) as caught:
        identity_policy(text)
    if message is not None:
        assert caught.value.message == message


def test_identity_policy_sizes_count_no_whitespace() -> None:
    text = doc(ALLOW_ALL)
    assert size_of(text + "   \n") == size_of(text)
    with pytest.raises(LimitExceeded, match="Cannot exceed quota for PolicySize: 10"):
        identity_policy(text, 10)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ({**TRUST, "Resource": "*"}, "Has prohibited field Resource"),
        ({"Effect": "Allow", "Action": "sts:AssumeRole"}, "Missing required field Principal"),
        (
            {**TRUST, "Action": "s3:GetObject"},
            "AssumeRole policy may only specify STS AssumeRole actions.",
        ),
        ({**TRUST, "Principal": {"AWS": "bob"}}, "Invalid principal in policy: bob."),
    ],
)
def test_trust_policies_refused(statement: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedPolicyDocument) as caught:
        trust_policy(doc(statement))
    assert caught.value.message == message


def test_trust_policies_accepted() -> None:
    actions = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]
    assert trust_policy(doc({**TRUST, "Action": actions})).statements[0].principals == (
        "Service:lambda.amazonaws.com",
    )


@pytest.mark.parametrize(
    ("arn", "parts"),
    [
        ("arn:aws:iam::123456789012:policy/p", ("123456789012", "/", "p")),
        ("arn:aws:iam::aws:policy/service-role/X", ("aws", "/service-role/", "X")),
        ("arn:aws:iam::123456789012:role/p", None),
        ("arn:aws:s3:::bucket", None),
        ("arn:aws:iam::123456789012:policy/", None),
        ("nonsense", None),
    ],
)
def test_policy_arn_parts(arn: str, parts: tuple[str, str, str] | None) -> None:
    assert policy_arn_parts(arn) == parts


def test_paging_walks_every_item_once() -> None:
    items = [f"n{i:03}" for i in range(25)]
    seen: list[str] = []
    marker: str | None = None
    while True:
        chosen, marker = page(items, lambda s: s, marker, 10)
        seen += chosen
        if marker is None:
            break
    assert seen == items
    with pytest.raises(InvalidInput):
        page(items, lambda s: s, "%%%", 10)


def test_aws_managed_policies_are_valid_and_allow_what_they_say() -> None:
    basic = AWS_MANAGED["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    policy = read_policy(json.loads(basic.document))
    request = PolicyRequest("logs:PutLogEvents", "arn:aws:logs:us-east-1:1:log-group:x")
    assert evaluate([policy], request) is Decision.ALLOW
    for managed in AWS_MANAGED.values():
        identity_policy(managed.document)
        assert managed.policy_id.startswith("ANPA")
        assert len(managed.policy_id) == 21
    assert len({m.policy_id for m in AWS_MANAGED.values()}) == len(AWS_MANAGED)


def test_numeric_access_keys_name_their_account() -> None:
    directory = AccountDirectory([DEFAULT_ACCESS_KEY])
    found = directory.find("123456789012")
    assert found is not None
    assert (found.account_id, found.secret_access_key) == ("123456789012", "test")
    assert found.principal == "arn:aws:iam::123456789012:root"
    assert found.caller_id == "123456789012"
    assert directory.find("test") == DEFAULT_ACCESS_KEY
    assert directory.find("12345678901") is None  # eleven digits name nothing
    assert directory.find("1234567890123") is None


def test_iam_errors_are_aws_errors() -> None:
    assert issubclass(MalformedPolicyDocument, AwsError)
