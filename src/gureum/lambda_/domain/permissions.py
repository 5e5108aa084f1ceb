"""A function's resource-based policy (AddPermission, RemovePermission, GetPolicy), as AWS
writes it: one policy per function and qualifier, `{"Version": "2012-10-17", "Id": "default",
"Statement": [...]}`, each statement built from AddPermission's members.

Pure. The statement shapes mirror what AWS's GetPolicy returns
(https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html): an account id
becomes `{"AWS": "arn:aws:iam::<id>:root"}`, a service `{"Service": "<name>"}`, `*` stays `*`;
SourceArn is `ArnLike AWS:SourceArn`, SourceAccount `StringEquals AWS:SourceAccount`,
PrincipalOrgID `StringEquals aws:PrincipalOrgID`, FunctionUrlAuthType `StringEquals
lambda:FunctionUrlAuthType`. Every document is read back with the one policy reader
(`gureum.aws.policy`), which is what evaluates it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from gureum.aws.policy import Policy, PolicyError, read_policy
from gureum.lambda_.domain.errors import (
    InvalidParameterValue,
    PolicyLengthExceeded,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
)

# AWS's limit on a function's policy, in bytes of its JSON.
POLICY_LIMIT = 20_480
# "" is the unqualified function's own policy; a version number or alias name otherwise.
UNQUALIFIED = ""

_ACCOUNT = re.compile(r"\d{12}")
_ARN = re.compile(r"arn:aws[a-zA-Z-]*:(iam|sts)::\d{12}:\S+")
_SERVICE = re.compile(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?")


@dataclass(frozen=True, slots=True)
class Grant:
    """AddPermission's members, as the caller gave them."""

    statement_id: str
    action: str
    principal: str
    source_arn: str | None = None
    source_account: str | None = None
    principal_org_id: str | None = None
    event_source_token: str | None = None
    function_url_auth_type: str | None = None
    invoked_via_function_url: bool | None = None


@dataclass(frozen=True, slots=True)
class FunctionPolicy:
    """The policy of one function record (`function_id`: a function deleted and created again
    under its name starts without one) and qualifier. `revision_id` changes with every write;
    `statements` are the statements' JSON texts, in the order they were added."""

    account: str
    region: str
    function_name: str
    qualifier: str
    function_id: str
    revision_id: str
    statements: tuple[str, ...]

    def document(self) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Id": "default",
            "Statement": [json.loads(s) for s in self.statements],
        }

    def text(self) -> str:
        return json.dumps(self.document(), separators=(",", ":"))

    def policy(self) -> Policy:
        """The document as the evaluator reads it."""
        return read_policy(self.document())

    def sids(self) -> list[str]:
        return [str(json.loads(s)["Sid"]) for s in self.statements]


def principal_element(principal: str) -> str | dict[str, str]:
    """AddPermission's Principal as the statement names it, or AWS's 400."""
    if principal == "*":
        return "*"
    if _ACCOUNT.fullmatch(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if _ARN.fullmatch(principal):
        return {"AWS": principal}
    if _SERVICE.fullmatch(principal):
        return {"Service": principal}
    raise InvalidParameterValue(
        "The provided principal was invalid. Please check the principal and try again."
    )


def statement_of(grant: Grant, resource: str) -> dict[str, Any]:
    """The statement AddPermission adds, keys in AWS's order."""
    conditions: dict[str, dict[str, str]] = {}

    def condition(operator: str, key: str, value: str) -> None:
        conditions.setdefault(operator, {})[key] = value

    if grant.source_account is not None:
        condition("StringEquals", "AWS:SourceAccount", grant.source_account)
    if grant.principal_org_id is not None:
        condition("StringEquals", "aws:PrincipalOrgID", grant.principal_org_id)
    if grant.event_source_token is not None:
        condition("StringEquals", "lambda:EventSourceToken", grant.event_source_token)
    if grant.function_url_auth_type is not None:
        condition("StringEquals", "lambda:FunctionUrlAuthType", grant.function_url_auth_type)
    if grant.invoked_via_function_url:
        condition("Bool", "lambda:InvokedViaFunctionUrl", "true")
    if grant.source_arn is not None:
        condition("ArnLike", "AWS:SourceArn", grant.source_arn)
    statement: dict[str, Any] = {
        "Sid": grant.statement_id,
        "Effect": "Allow",
        "Principal": principal_element(grant.principal),
        "Action": grant.action,
        "Resource": resource,
    }
    if conditions:
        statement["Condition"] = conditions
    return statement


def check_revision(policy: FunctionPolicy | None, revision_id: str | None) -> None:
    """AddPermission's and RemovePermission's RevisionId precondition (GetPolicy's)."""
    if revision_id is None:
        return
    if policy is None or policy.revision_id != revision_id:
        raise PreconditionFailed(
            "The Revision Id provided does not match the latest Revision Id. Call the "
            "GetPolicy API to retrieve the latest Revision Id"
        )


def added(
    policy: FunctionPolicy | None,
    base: FunctionPolicy,
    grant: Grant,
    resource: str,
    revision_id: str,
) -> tuple[FunctionPolicy, str]:
    """The policy with the grant's statement added (`base` names the policy when there is none
    yet), and the statement's JSON; AWS's 409 for a statement id in use, 400 past the size."""
    statements = policy.statements if policy is not None else ()
    if policy is not None and grant.statement_id in policy.sids():
        raise ResourceConflict(
            f"The statement id ({grant.statement_id}) provided already exists. Please specify "
            "a new statement id, or remove the existing statement."
        )
    statement = statement_of(grant, resource)
    text = json.dumps(statement, separators=(",", ":"))
    changed = FunctionPolicy(
        base.account,
        base.region,
        base.function_name,
        base.qualifier,
        base.function_id,
        revision_id,
        (*statements, text),
    )
    try:
        changed.policy()  # what gureum stores, its evaluator can read
    except PolicyError as error:
        raise InvalidParameterValue(str(error)) from None
    size = len(changed.text().encode())
    if size > POLICY_LIMIT:
        raise PolicyLengthExceeded(
            f"The final policy size ({size}) is bigger than the limit ({POLICY_LIMIT})."
        )
    return changed, text


def removed(policy: FunctionPolicy | None, statement_id: str, revision_id: str) -> FunctionPolicy:
    """The policy without the statement; AWS's 404s when there is no policy or no such id."""
    if policy is None:
        raise no_policy()
    sids = policy.sids()
    if statement_id not in sids:
        raise ResourceNotFound(f"Statement {statement_id} is not found in resource policy.")
    kept = tuple(s for s, sid in zip(policy.statements, sids, strict=True) if sid != statement_id)
    return FunctionPolicy(
        policy.account,
        policy.region,
        policy.function_name,
        policy.qualifier,
        policy.function_id,
        revision_id,
        kept,
    )


def no_policy() -> ResourceNotFound:
    return ResourceNotFound("No policy is associated with the given resource.")


def policy_not_found() -> ResourceNotFound:
    """GetPolicy of a function (or qualifier) that has none."""
    return ResourceNotFound("The resource you requested does not exist.")
