"""Server-side constraint checks that answer with AWS's own `ValidationException` text.

botocore validates on the client, but nothing obliges a caller to (other SDKs, raw HTTP,
``parameter_validation=False``), and the real service then rejects the request itself with a
Coral-style message such as ``1 validation error detected: Value '2024' at 'name' failed to satisfy
constraint: ...``. Tools and tests match on those strings, so gureum checks the constraints the
service model declares (length and value bounds, patterns, enums, required members) and writes each
violation the way the Java service does: camel-cased paths, ``{k=v}`` maps, ``[a, b]`` lists,
``2.0`` doubles, and no value at all for sensitive members.

Validation runs on every request, so each input shape is compiled once into a tree of `_Node`s
(patterns compiled, messages pre-rendered, members without constraints dropped) and cached.
Structure members are compiled on first use, which keeps recursive shapes finite.
"""

from __future__ import annotations

import functools
import math
import operator
import re
import weakref
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from botocore.model import Shape, StructureShape

from gureum.aws.errors import ValidationError

_CONTAINERS = frozenset({"structure", "list", "map"})
_NUMBERS = frozenset({"integer", "long", "float", "double"})
_FLOATS = frozenset({"float", "double"})
_SIZED = frozenset({"string", "blob", "list", "map"})
# Java's \p{..} classes that Python's `re` lacks; only swapped inside plain (non-negated) classes.
_JAVA_CLASSES = {
    r"\p{L}": r"\w",
    r"\p{N}": r"\w",
    r"\p{Z}": "\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000",
}
_VALUES: Callable[[Any], Iterable[Any]] = operator.methodcaller("values")
_PLAIN_CLASS = re.compile(r"\[(?!\^)(?:\\.|[^\]\\])*\]")


class _Rule(NamedTuple):
    text: str
    fails: Callable[[Any], bool]  # may raise TypeError on a value of the wrong type


_NOT_NULL = _Rule("Member must not be null", lambda value: value is None)


class _Member(NamedTuple):
    position: int  # declaration order, which is the order AWS reports violations in
    name: str
    label: str  # the member name as AWS writes it in paths: 'FunctionName' -> 'functionName'
    node: _Node


class _Fields(NamedTuple):
    by_name: dict[str, _Member]  # only members that can fail a check
    required: tuple[_Member, ...]


class _Node:
    """One shape: its own constraints, its contents' constraints, and how to reach nested values."""

    __slots__ = ("_fields", "_shape", "contents", "element", "hidden", "kind", "own")

    def __init__(self, shape: Shape) -> None:
        inner = _children(shape)
        self._shape = weakref.ref(shape)  # a strong one would pin the cache's weak key forever
        self.kind: str = shape.type_name
        self.own = _own_rules(shape)
        self.contents = _content_rules(shape)
        self.hidden = any(part.metadata.get("sensitive") for part in (shape, *inner))
        nested = inner and inner[-1].type_name in _CONTAINERS  # list members, map values
        self.element = _Node(inner[-1]) if nested else None
        self._fields: _Fields | None = None

    def fields(self) -> _Fields:
        """A structure's members, compiled on first use."""
        if self._fields is None:
            shape = self._shape()
            assert shape is not None, "nodes live only as long as their root shape"
            required = set(shape.required_members)
            members = [
                _Member(position, name, name[:1].lower() + name[1:], _Node(member))
                for position, (name, member) in enumerate(shape.members.items())
            ]
            self._fields = _Fields(
                {m.name: m for m in members if m.node.own or m.node.kind in _CONTAINERS},
                tuple(m for m in members if m.name in required),
            )
        return self._fields


_ROOTS: weakref.WeakKeyDictionary[Shape, _Node] = weakref.WeakKeyDictionary()


def constraint_violations(shape: StructureShape, params: Mapping[str, object]) -> list[str]:
    """Each violation as 'Value '<v>' at '<path>' failed to satisfy constraint: <text>'."""
    node = _ROOTS.get(shape)
    if node is None:
        node = _ROOTS[shape] = _Node(shape)
    out: list[str] = []
    _walk_contents(node, params, "", out)
    return out


def validate(
    shape: StructureShape, params: Mapping[str, object], exempt: frozenset[str] = frozenset()
) -> None:
    """Raises gureum.aws.errors.ValidationError(message) when there are violations.

    `exempt` names top-level members left entirely to the handler (present or not).
    """
    if exempt:
        params = {name: value for name, value in params.items() if name not in exempt}
        labels = {f"at '{name[:1].lower()}{name[1:]}' " for name in exempt}
        violations = [
            line
            for line in constraint_violations(shape, params)
            if not any(label in line for label in labels)
        ]
    else:
        violations = constraint_violations(shape, params)
    if violations:
        noun = "error" if len(violations) == 1 else "errors"
        raise ValidationError(
            f"{len(violations)} validation {noun} detected: " + "; ".join(violations)
        )


def java_repr(value: object) -> str:
    """`value` as Java's toString() would print it in a ValidationException."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, bytes | bytearray):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{java_repr(k)}={java_repr(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(java_repr(item) for item in value) + "]"
    return str(value)


def _java_double(value: float) -> str:
    """Double.toString: plain between 1e-3 and 1e7, else computerized scientific ('1.0E7')."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)  # Python prints this range the same way ('2.0', '0.5')
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digits))
    return f"{'-' if sign else ''}{mantissa[0]}.{mantissa[1:] or '0'}E{len(digits) + exponent - 1}"


# --- compiling ---------------------------------------------------------------------------------


def _own_rules(shape: Shape) -> tuple[_Rule, ...]:
    """The shape's own constraints in the order AWS lists them: max, min, pattern, enum."""
    meta, kind = shape.metadata, shape.type_name
    rules: list[_Rule] = []
    if kind in _NUMBERS:
        rules += _bound_rules(
            meta, "value", _java_double if kind in _FLOATS else str, kind in _FLOATS
        )
    elif kind in _SIZED:
        rules += _bound_rules(meta, "length", str, False)
    if kind == "string" and "pattern" in meta:
        rules.append(_pattern_rule(meta["pattern"]))
    if kind == "string" and meta.get("enum"):
        allowed = frozenset(meta["enum"])
        text = f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]"
        rules.append(_Rule(text, lambda v: isinstance(v, str) and v not in allowed))
    return tuple(rules)


def _bound_rules(
    meta: Mapping[str, Any], what: str, show: Callable[[Any], str], real: bool
) -> list[_Rule]:
    """max then min, on the value itself or on its length."""
    measure: Callable[[Any], Any] = len if what == "length" else operator.pos
    rules = []
    if "max" in meta:
        top = float(meta["max"]) if real else meta["max"]
        text = f"Member must have {what} less than or equal to {show(top)}"
        rules.append(_Rule(text, lambda v: measure(v) > top))
    if "min" in meta:
        low = float(meta["min"]) if real else meta["min"]
        text = f"Member must have {what} greater than or equal to {show(low)}"
        rules.append(_Rule(text, lambda v: measure(v) < low))
    return rules


def _pattern_rule(pattern: str) -> _Rule:
    text = f"Member must satisfy regular expression pattern: {pattern}"
    compiled = _compile(pattern)
    if compiled is None:  # a Java-only construct: report nothing rather than guess
        return _Rule(text, lambda v: False)
    return _Rule(text, lambda v: isinstance(v, str) and compiled.fullmatch(v) is None)


@functools.cache
def _compile(pattern: str) -> re.Pattern[str] | None:
    def swap(match: re.Match[str]) -> str:
        text = match.group()
        for java, python in _JAVA_CLASSES.items():
            text = text.replace(java, python)
        return text

    try:
        return re.compile(_PLAIN_CLASS.sub(swap, pattern))
    except (re.error, FutureWarning, OverflowError, RecursionError):
        return None


def _content_rules(shape: Shape) -> tuple[_Rule, ...]:
    """Constraints on list members and map keys/values, which AWS reports once per container."""
    if shape.type_name == "list":
        element = _own_rules(shape.member)
        # AWS names "Member must not be null" among a list member's constraints, except for
        # members that may be empty strings (min 0): recorded against AWS for Lambda's `layers`
        # and `architectures` (with it) and `vpcConfig.securityGroupIds` and `.subnetIds`
        # (without it), LocalStack's test_lambda_api.snapshot.json.
        if element or shape.member.type_name not in _CONTAINERS:
            checks = element if shape.member.metadata.get("min") == 0 else (*element, _NOT_NULL)
            return (_every("Member must satisfy constraint", checks, iter),)
        return ()
    if shape.type_name != "map":
        return ()
    rules = []
    if keys := _own_rules(shape.key):
        rules.append(_every("Map keys must satisfy constraint", keys, iter))
    values = _own_rules(shape.value)
    if shape.value.type_name in _NUMBERS or shape.value.type_name == "boolean":
        values = (*values, _NOT_NULL)
    if values:
        rules.append(_every("Map value must satisfy constraint", values, _VALUES))
    return tuple(rules)


def _every(lead: str, rules: tuple[_Rule, ...], items: Callable[[Any], Iterable[Any]]) -> _Rule:
    """One rule over all of a container's members/keys/values, naming every constraint they have."""
    checks = tuple(rule.fails for rule in rules)

    def fails(value: Any) -> bool:
        for item in items(value):
            for check in checks:
                try:
                    if check(item):
                        return True
                except (TypeError, ValueError):
                    continue
        return False

    return _Rule(f"{lead}: [{', '.join(rule.text for rule in rules)}]", fails)


def _children(shape: Shape) -> tuple[Shape, ...]:
    """A list's member shape, or a map's key and value shapes."""
    if shape.type_name == "list":
        return (shape.member,)
    return (shape.key, shape.value) if shape.type_name == "map" else ()


# --- walking -----------------------------------------------------------------------------------


def _report(
    node: _Node, rules: tuple[_Rule, ...], value: object, path: str, out: list[str]
) -> None:
    for rule in rules:
        try:
            failed = rule.fails(value)
        except (TypeError, ValueError):
            continue
        if failed:
            shown = "null " if value is None else "" if node.hidden else f"'{java_repr(value)}' "
            out.append(f"Value {shown}at '{path}' failed to satisfy constraint: {rule.text}")


def _walk(node: _Node, value: object, path: str, out: list[str]) -> None:
    if node.own:
        _report(node, node.own, value, path, out)
    if node.kind in _CONTAINERS:
        _walk_contents(node, value, path, out)


def _walk_contents(node: _Node, value: object, path: str, out: list[str]) -> None:
    if node.contents:
        _report(node, node.contents, value, path, out)
    if node.kind == "structure" and isinstance(value, dict | Mapping):
        _walk_members(node.fields(), value, f"{path}." if path else "", out)
    elif node.element is not None:
        _walk_elements(node.element, value, path, out)


def _walk_members(
    fields: _Fields, value: Mapping[str, object], prefix: str, out: list[str]
) -> None:
    """Visits only the members present (cheap for wide shapes), then restores declaration order."""
    base, spans = len(out), []
    for name, item in value.items():
        member = fields.by_name.get(name)
        if member is not None and item is not None:
            start = len(out)
            _walk(member.node, item, prefix + member.label, out)
            if len(out) > start:
                spans.append((member.position, start, len(out)))
    for member in fields.required:
        if value.get(member.name) is None:
            spans.append((member.position, len(out), len(out) + 1))
            _report(member.node, (_NOT_NULL,), None, prefix + member.label, out)
    if len(spans) > 1:
        out[base:] = [line for _, start, end in sorted(spans) for line in out[start:end]]


def _walk_elements(element: _Node, value: object, path: str, out: list[str]) -> None:
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list | tuple):
        pairs = list(enumerate(value, 1))
    else:
        return
    for key, item in pairs:
        if item is not None:
            _walk_contents(element, item, f"{path}.{key}.member", out)
