"""Policy documents as IAM accepts them: identity policies (inline and managed) and trust
policies, checked with IAM's `MalformedPolicyDocument` messages.

The shared evaluator (`gureum.aws.policy`) reads the grammar; IAM adds what it refuses by the
document's use: an identity policy names no Principal and must name resources; a trust policy
must name a Principal, names no resource, and allows only STS's assume-role actions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from gureum.aws.policy import Policy, PolicyError, read_policy
from gureum.iam.domain.entities import MAX_TRUST_POLICY
from gureum.iam.domain.errors import LimitExceeded, MalformedPolicyDocument

# What a trust policy may allow (IAM refuses any other action in one).
TRUST_ACTIONS = frozenset(
    {
        "sts:assumerole",
        "sts:assumerolewithsaml",
        "sts:assumerolewithwebidentity",
        "sts:tagsession",
        "sts:setsourceidentity",
        "sts:setcontext",
        "sts:*",
        "*",
    }
)


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # a document nested past the parser's depth too
        raise MalformedPolicyDocument("Syntax errors in policy.") from None


def _read(document: object) -> Policy:
    try:
        return read_policy(document)
    except PolicyError as error:
        raise MalformedPolicyDocument(str(error)) from None
    except RecursionError:
        raise MalformedPolicyDocument("Syntax errors in policy.") from None


def size_of(text: str) -> int:
    """A document's size as IAM's quotas count it: whitespace does not count."""
    return sum(1 for c in text if not c.isspace())


def identity_policy(text: str, limit: int | None = None, quota: str = "PolicySize") -> Policy:
    """An inline or managed policy; `limit` the characters it may take."""
    if limit is not None and size_of(text) > limit:
        raise LimitExceeded(f"Cannot exceed quota for {quota}: {limit}")
    document = _json(text)
    statements = document.get("Statement") if isinstance(document, dict) else None
    items: Sequence[object] = statements if isinstance(statements, list) else [statements]
    for item in items:
        if isinstance(item, dict) and ("Principal" in item or "NotPrincipal" in item):
            raise MalformedPolicyDocument("Policy document should not specify a principal.")
        if isinstance(item, dict) and "Resource" not in item and "NotResource" not in item:
            raise MalformedPolicyDocument("Policy statement must contain resources.")
    return _read(document)


def trust_policy(text: str) -> Policy:
    """A role's trust policy (its AssumeRolePolicyDocument)."""
    if size_of(text) > MAX_TRUST_POLICY:
        raise LimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {MAX_TRUST_POLICY}")
    document = _json(text)
    statements = document.get("Statement") if isinstance(document, dict) else None
    items: Sequence[object] = statements if isinstance(statements, list) else [statements]
    for item in items:
        if not isinstance(item, dict):
            continue
        if "Resource" in item or "NotResource" in item:
            field = "Resource" if "Resource" in item else "NotResource"
            raise MalformedPolicyDocument(f"Has prohibited field {field}")
        if "Principal" not in item and "NotPrincipal" not in item:
            raise MalformedPolicyDocument("Missing required field Principal")
    policy = _read(document)
    for statement in policy.statements:
        actions = {a.lower() for a in statement.actions}
        if not statement.not_actions and not actions <= TRUST_ACTIONS:
            raise MalformedPolicyDocument(
                "AssumeRole policy may only specify STS AssumeRole actions."
            )
    return policy
