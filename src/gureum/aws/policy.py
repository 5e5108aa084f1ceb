"""IAM policy documents: read, checked and evaluated, the one evaluator every service uses.

Pure: a document comes in as the JSON value it was parsed to, a request as a `PolicyRequest`,
and `evaluate` returns AWS's three outcomes. The rules mirrored, from IAM's policy evaluation
logic (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

- an explicit Deny in any statement that applies wins over every Allow;
- otherwise one Allow that applies allows;
- otherwise the request is implicitly denied.

A statement applies when its Principal (or NotPrincipal), Action (or NotAction), Resource (or
NotResource) and every Condition match. Actions match case-insensitively (`S3:getobject` is
`s3:GetObject`), resources and principals case-sensitively, with `*` and `?` wildcards.
Condition keys are case-insensitive; within one operator every key must match (AND), and a key
matches when any of its values does (OR). A key the request does not carry fails a positive
operator and passes a negated one (`StringNotEquals`, `ArnNotLike`, ...), as IAM documents;
`...IfExists` passes when the key is absent; `Null` tests presence itself.

Policy variables (`${aws:username}`, any key of the request's context, and the escapes
`${*}`, `${?}`, `${$}`) are replaced in Resource patterns and condition values of version
2012-10-17 documents; a variable whose key the request lacks makes its pattern match nothing.

`gureum.aws.authorization` combines the kinds of policies one request meets (identity,
resource, boundaries) across accounts.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache

VERSIONS = frozenset({"2012-10-17", "2008-10-17"})

# A condition key's value in a request: one string, a boolean, or a set of strings.
ContextValue = str | bool | Sequence[str]


class Decision(StrEnum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


class PolicyError(ValueError):
    """A document that is not a valid IAM policy; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class PolicyRequest:
    """What is being asked: who (`principal`, for resource policies: an IAM or STS ARN, or
    `Service:<name>` for a service principal such as `Service:lambda.amazonaws.com`), to do what
    to which resource, with the request's condition keys (names in any case)."""

    action: str
    resource: str
    principal: str | None = None
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str  # e.g. "StringLike", without a ForAnyValue:/ForAllValues: prefix or IfExists
    qualifier: str  # "", "ForAnyValue" or "ForAllValues"
    if_exists: bool
    key: str  # lower-cased: condition keys are case-insensitive
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Statement:
    effect: Effect
    actions: tuple[str, ...]
    not_actions: bool
    resources: tuple[str, ...] | None  # None: the statement names no resource (resource policies)
    not_resources: bool
    principals: tuple[str, ...] | None  # None: no Principal element (identity policies)
    not_principals: bool
    conditions: tuple[Condition, ...]
    sid: str | None = None
    # Whether `${...}` in resources and condition values are policy variables (2012-10-17 only).
    variables: bool = False


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    statements: tuple[Statement, ...]


# --- reading ---------------------------------------------------------------------------------


def parse_policy(text: str) -> Policy:
    """A policy from its JSON text; `PolicyError` if it is not JSON or not a valid policy."""
    try:
        document = json.loads(text)
    except ValueError:
        raise PolicyError("Policy is not valid JSON.") from None
    return read_policy(document)


def read_policy(document: object) -> Policy:
    if not isinstance(document, dict):
        raise PolicyError("Policy must be a JSON object.")
    unknown = set(document) - {"Version", "Id", "Statement"}
    if unknown:
        raise PolicyError(f"Policy has an invalid element: {sorted(unknown)[0]}.")
    version = document.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyError(f"Policy has an invalid Version: {version}.")
    raw = document.get("Statement")
    if raw is None:
        raise PolicyError("Policy is missing required element: Statement.")
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise PolicyError("Policy has an empty Statement list.")
    statements = tuple(_statement(item, version == "2012-10-17") for item in items)
    return Policy(str(version), statements)


_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)


def _statement(raw: object, variables: bool = False) -> Statement:
    if not isinstance(raw, dict):
        raise PolicyError("Statement must be a JSON object.")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise PolicyError(f"Statement has an invalid element: {sorted(unknown)[0]}.")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError("Statement Effect must be Allow or Deny.")
    actions, not_actions = _one_of(raw, "Action", "NotAction", required=True)
    for action in actions:
        if action != "*" and ":" not in action:
            raise PolicyError(f"Action has an invalid format: {action}.")
    resources, not_resources = _one_of(raw, "Resource", "NotResource", required=False)
    principals, not_principals = _principals(raw)
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError("Statement Sid must be a string.")
    return Statement(
        Effect(effect),
        actions,
        not_actions,
        resources if resources else None,
        not_resources,
        principals,
        not_principals,
        _conditions(raw.get("Condition")),
        sid,
        variables,
    )


def _strings(value: object, element: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item for item in items):
        raise PolicyError(f"{element} must be a string or a list of strings.")
    return tuple(str(item) for item in items)


def _one_of(
    raw: Mapping[str, object], name: str, negated: str, *, required: bool
) -> tuple[tuple[str, ...], bool]:
    if name in raw and negated in raw:
        raise PolicyError(f"Statement cannot have both {name} and {negated}.")
    if name in raw:
        return _strings(raw[name], name), False
    if negated in raw:
        return _strings(raw[negated], negated), True
    if required:
        raise PolicyError(f"Statement is missing required element: {name}.")
    return (), False


def _principals(raw: Mapping[str, object]) -> tuple[tuple[str, ...] | None, bool]:
    if "Principal" in raw and "NotPrincipal" in raw:
        raise PolicyError("Statement cannot have both Principal and NotPrincipal.")
    name = "Principal" if "Principal" in raw else "NotPrincipal"
    if name not in raw:
        return None, False
    value = raw[name]
    if value == "*":
        return ("*",), name == "NotPrincipal"
    if not isinstance(value, dict) or not value:
        raise PolicyError(f'{name} must be "*" or an object such as {{"AWS": [...]}}.')
    found: list[str] = []
    for kind, ids in value.items():
        if kind not in ("AWS", "Service", "Federated", "CanonicalUser"):
            raise PolicyError(f"{name} has an invalid type: {kind}.")
        for principal in _strings(ids, name):
            if kind == "AWS":
                _check_aws_principal(principal)
            found.append(principal if kind == "AWS" else f"{kind}:{principal}")
    return tuple(found), name == "NotPrincipal"


_ACCOUNT = re.compile(r"\d{12}")
_IAM_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::\d{12}:\S+")


def _check_aws_principal(principal: str) -> None:
    if principal == "*" or _ACCOUNT.fullmatch(principal) or _IAM_ARN.fullmatch(principal):
        return
    raise PolicyError(f"Invalid principal in policy: {principal}.")


def _conditions(raw: object) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise PolicyError("Condition must be a JSON object.")
    found: list[Condition] = []
    for name, block in raw.items():
        qualifier, _, operator = name.rpartition(":")
        if qualifier not in ("", "ForAnyValue", "ForAllValues"):
            raise PolicyError(f"Invalid Condition type: {name}.")
        if_exists = operator.endswith("IfExists") and operator != "IfExists"
        base = operator.removesuffix("IfExists") if if_exists else operator
        if base not in _OPERATORS or (if_exists and base == "Null"):
            raise PolicyError(f"Invalid Condition type: {name}.")
        if not isinstance(block, dict) or not block:
            raise PolicyError(f"Condition {name} must map condition keys to values.")
        for key, values in block.items():
            texts = values if isinstance(values, list) else [values]
            if not texts or not all(isinstance(v, (str, bool, int)) for v in texts):
                raise PolicyError(f"Condition {name} has an invalid value for {key}.")
            rendered = tuple(_text(v) for v in texts)
            found.append(Condition(base, qualifier, if_exists, str(key).lower(), rendered))
    return tuple(found)


def _text(value: str | bool | int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- matching --------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts: list[str] = []
    literal = False
    for c in pattern:
        if c == "\x00":  # the next character came from a policy variable: not a wildcard
            literal = True
            continue
        parts.append(
            re.escape(c) if literal else ".*" if c == "*" else "." if c == "?" else re.escape(c)
        )
        literal = False
    body = "".join(parts)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """`*` matches any run of characters, `?` any one; nothing else is special."""
    return _wildcard(pattern, ignore_case).fullmatch(value) is not None


def arn_like(pattern: str, value: str) -> bool:
    """IAM's ArnLike: the six colon-separated parts matched one by one, each with wildcards
    (so `*` in the region part cannot swallow the account part)."""
    pattern_parts = pattern.split(":", 5)
    value_parts = value.split(":", 5)
    if len(value_parts) != 6:
        return wildcard_match(pattern, value)  # not an ARN: compared as a string
    if len(pattern_parts) != 6:
        return False
    return all(wildcard_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def role_of_session(principal: str) -> str | None:
    """An assumed-role session's ARN names its role: `arn:aws:sts::A:assumed-role/R/S` is the
    role `arn:aws:iam::A:role/R`, which is how a resource policy names the session's caller."""
    match = re.fullmatch(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+", principal)
    if match is None:
        return None
    partition, account, role = match.groups()
    return f"arn:{partition}:iam::{account}:role/{role}"


def principal_matches(pattern: str, principal: str | None) -> bool:
    """Whether one entry of a Principal element names `principal` (None: an anonymous caller)."""
    if pattern == "*":
        return True
    if principal is None:
        return False
    account = principal.split(":")[4] if principal.count(":") >= 5 else ""
    if _ACCOUNT.fullmatch(pattern):
        return account == pattern
    if pattern.endswith(":root") and pattern.count(":") == 5:
        return account == pattern.split(":")[4]
    return pattern == principal or pattern == role_of_session(principal)


def _matches_any(patterns: Sequence[str], value: str, ignore_case: bool) -> bool:
    return any(wildcard_match(p, value, ignore_case=ignore_case) for p in patterns)


# condition operator -> (does a request value match a policy value, is the operator negated)
_Test = Callable[[str, str], bool]


def _bool(policy: str, value: str) -> bool:
    return policy.lower() == value.lower()


def _numeric(compare: Callable[[float, float], bool]) -> _Test:
    def test(policy: str, value: str) -> bool:
        try:
            return compare(float(value), float(policy))
        except ValueError:
            return False

    return test


def _in_network(policy: str, value: str) -> bool:
    try:
        network = ipaddress.ip_network(policy.strip(), strict=False)
        return ipaddress.ip_address(value.strip()) in network
    except ValueError:
        return False


def _instant(text: str) -> datetime:
    """A Date operator's operand: ISO 8601 (a date, or a time with or without a zone) or epoch
    seconds, as IAM accepts both."""
    text = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text) and len(text) != 8:
        return datetime.fromtimestamp(float(text), UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _date(compare: Callable[[datetime, datetime], bool]) -> _Test:
    def test(policy: str, value: str) -> bool:
        try:
            return compare(_instant(value), _instant(policy))
        except (ValueError, OverflowError, OSError):
            return False

    return test


_OPERATORS: Mapping[str, tuple[_Test, bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (wildcard_match, False),
    "StringNotLike": (wildcard_match, True),
    "ArnEquals": (arn_like, False),
    "ArnLike": (arn_like, False),
    "ArnNotEquals": (arn_like, True),
    "ArnNotLike": (arn_like, True),
    "Bool": (_bool, False),
    "NumericEquals": (_numeric(lambda v, p: v == p), False),
    "NumericNotEquals": (_numeric(lambda v, p: v == p), True),
    "NumericLessThan": (_numeric(lambda v, p: v < p), False),
    "NumericLessThanEquals": (_numeric(lambda v, p: v <= p), False),
    "NumericGreaterThan": (_numeric(lambda v, p: v > p), False),
    "NumericGreaterThanEquals": (_numeric(lambda v, p: v >= p), False),
    "DateEquals": (_date(lambda v, p: v == p), False),
    "DateNotEquals": (_date(lambda v, p: v == p), True),
    "DateLessThan": (_date(lambda v, p: v < p), False),
    "DateLessThanEquals": (_date(lambda v, p: v <= p), False),
    "DateGreaterThan": (_date(lambda v, p: v > p), False),
    "DateGreaterThanEquals": (_date(lambda v, p: v >= p), False),
    "IpAddress": (_in_network, False),
    "NotIpAddress": (_in_network, True),
    "BinaryEquals": (lambda p, v: p == v, False),
    "Null": (_bool, False),  # handled apart: it tests presence
}


def _request_values(context: Mapping[str, ContextValue], key: str) -> tuple[str, ...] | None:
    for name, value in context.items():
        if name.lower() == key:
            if isinstance(value, bool):
                return ("true" if value else "false",)
            if isinstance(value, str):
                return (value,)
            return tuple(value)
    return None


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def substitute(pattern: str, context: Mapping[str, ContextValue]) -> str | None:
    """`pattern` with its policy variables replaced from `context`; None when one names a key
    the request lacks (or a multivalued one), so that the pattern matches nothing. The escapes
    `${*}`, `${?}` and `${$}` stand for the literal characters; a literal `*` or `?` from a
    value is matched as itself, never as a wildcard."""
    missing = False

    def one(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1).strip()
        if name in _ESCAPES:
            return "\x00" + name  # marked literal, undone by `_literal_pattern`
        values = _request_values(context, name.lower())
        if values is None or len(values) != 1:
            missing = True
            return ""
        return "".join("\x00" + c if c in "*?" else c for c in values[0])

    replaced = _VARIABLE.sub(one, pattern)
    return None if missing else replaced


def condition_holds(condition: Condition, context: Mapping[str, ContextValue]) -> bool:
    values = _request_values(context, condition.key)
    if condition.operator == "Null":
        absent = values is None or not values
        return any(_bool(p, "true" if absent else "false") for p in condition.values)
    test, negated = _OPERATORS[condition.operator]
    if values is None or (condition.qualifier and not values):
        if condition.if_exists:
            return True
        if condition.qualifier == "ForAllValues":
            return True  # vacuously: every one of no values matches
        return negated and condition.qualifier != "ForAnyValue"

    def one(value: str) -> bool:
        hit = any(test(p, value) for p in condition.values)
        return not hit if negated else hit

    if condition.qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if condition.qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    # A single-valued key: for a negated operator the value must match none of the policy's.
    return all(one(v) for v in values) if negated else any(one(v) for v in values)


def statement_applies(statement: Statement, request: PolicyRequest) -> bool:
    if statement.principals is not None:
        named = any(principal_matches(p, request.principal) for p in statement.principals)
        if named == statement.not_principals:
            return False
    action_hit = _matches_any(statement.actions, request.action, True)
    if action_hit == statement.not_actions:
        return False
    if statement.variables:
        statement = _resolved(statement, request.context)
    if statement.resources is not None:
        resource_hit = _matches_any(statement.resources, request.resource, False)
        if resource_hit == statement.not_resources:
            return False
    return all(condition_holds(c, request.context) for c in statement.conditions)


def _resolved(statement: Statement, context: Mapping[str, ContextValue]) -> Statement:
    """`statement` with its policy variables replaced; a pattern naming a missing key drops
    out (a resource list of none matches nothing, a condition of no values fails)."""

    def patterns(items: tuple[str, ...]) -> tuple[str, ...]:
        found = (substitute(p, context) if "${" in p else p for p in items)
        return tuple(p for p in found if p is not None)

    resources = statement.resources
    conditions = tuple(
        Condition(c.operator, c.qualifier, c.if_exists, c.key, patterns(c.values))
        for c in statement.conditions
    )
    return Statement(
        statement.effect,
        statement.actions,
        statement.not_actions,
        None if resources is None else patterns(resources),
        statement.not_resources,
        statement.principals,
        statement.not_principals,
        conditions,
        statement.sid,
    )


def evaluate(policies: Sequence[Policy], request: PolicyRequest) -> Decision:
    """The decision of `policies` together on `request`: an explicit Deny anywhere wins, then
    any Allow, else an implicit deny."""
    allowed = False
    for policy in policies:
        for statement in policy.statements:
            if not statement_applies(statement, request):
                continue
            if statement.effect is Effect.DENY:
                return Decision.EXPLICIT_DENY
            allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
