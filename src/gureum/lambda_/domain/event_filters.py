"""Lambda's event filtering: FilterCriteria patterns (EventBridge's syntax), a pure matcher.

A pattern is a JSON object whose leaves are arrays of conditions; an event matches when every
key of the pattern matches (AND), and a leaf array matches when any of its conditions does (OR).
A value in the event that is an array matches when any of its elements does. Conditions: exact
strings, numbers, booleans and null; `prefix`, `suffix`, `equals-ignore-case`, `anything-but`
(a value, a list, or `{"prefix": ...}`), `numeric` (up to two comparisons) and `exists`;
`$or` holds alternative patterns. https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gureum.lambda_.domain.errors import InvalidParameterValue

MAX_FILTERS = 5
_COMPARATORS = frozenset({"<", "<=", "=", ">", ">="})
_ABSENT = object()


def invalid_pattern() -> InvalidParameterValue:
    return InvalidParameterValue("Invalid filter pattern definition.")


@dataclass(frozen=True, slots=True)
class EventPattern:
    """One parsed filter pattern; `matches` is pure."""

    source: str
    tree: Mapping[str, Any]

    def matches(self, event: Mapping[str, Any]) -> bool:
        return _match_object(self.tree, event)


def parse_pattern(text: str) -> EventPattern:
    """The pattern `text` names, or InvalidParameterValue with AWS's message."""
    try:
        tree = json.loads(text)
    except ValueError:
        raise invalid_pattern() from None
    if not isinstance(tree, dict) or not tree:
        raise invalid_pattern()
    _check_object(tree)
    return EventPattern(text, tree)


def parse_patterns(texts: Sequence[str]) -> tuple[EventPattern, ...]:
    if len(texts) > MAX_FILTERS:
        raise InvalidParameterValue(
            f"Number of filters exceeds the limit of {MAX_FILTERS} for this event source type."
        )
    return tuple(parse_pattern(text) for text in texts)


def matches_any(patterns: Sequence[EventPattern], event: Mapping[str, Any]) -> bool:
    """No filters: everything passes; else at least one pattern matches (filters are ORed)."""
    return not patterns or any(p.matches(event) for p in patterns)


# --- checking a pattern's shape ---------------------------------------------------------------


def _check_object(tree: Mapping[str, Any]) -> None:
    for key, value in tree.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise invalid_pattern()
            for alternative in value:
                if not isinstance(alternative, dict) or not alternative:
                    raise invalid_pattern()
                _check_object(alternative)
        elif isinstance(value, dict):
            if not value:
                raise invalid_pattern()
            _check_object(value)
        elif isinstance(value, list):
            if not value:
                raise invalid_pattern()
            for condition in value:
                _check_condition(condition)
        else:
            raise invalid_pattern()


def _check_condition(condition: Any) -> None:
    if condition is None or isinstance(condition, str | int | float | bool):
        return
    if not isinstance(condition, dict) or len(condition) != 1:
        raise invalid_pattern()
    ((operator, operand),) = condition.items()
    if operator in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(operand, str):
            raise invalid_pattern()
    elif operator == "exists":
        if not isinstance(operand, bool):
            raise invalid_pattern()
    elif operator == "anything-but":
        if isinstance(operand, dict):
            if list(operand) != ["prefix"] or not isinstance(operand["prefix"], str):
                raise invalid_pattern()
        elif isinstance(operand, list):
            if not operand or not all(isinstance(v, str | int | float) for v in operand):
                raise invalid_pattern()
        elif not isinstance(operand, str | int | float):
            raise invalid_pattern()
    elif operator == "numeric":
        _check_numeric(operand)
    else:
        raise invalid_pattern()


def _check_numeric(operand: Any) -> None:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise invalid_pattern()
    for i in range(0, len(operand), 2):
        comparator, number = operand[i], operand[i + 1]
        if comparator not in _COMPARATORS or isinstance(number, bool):
            raise invalid_pattern()
        if not isinstance(number, int | float) or not _finite(number):
            raise invalid_pattern()


# --- matching ---------------------------------------------------------------------------------


def _match_object(tree: Mapping[str, Any], event: Any) -> bool:
    for key, rule in tree.items():
        if key == "$or":
            if not any(_match_object(alternative, event) for alternative in rule):
                return False
            continue
        value = event.get(key, _ABSENT) if isinstance(event, Mapping) else _ABSENT
        if isinstance(rule, dict):
            if isinstance(value, list):
                if not any(_match_object(rule, item) for item in value):
                    return False
            elif not _match_object(rule, value):
                return False
        elif not any(_match_leaf(condition, value) for condition in rule):
            return False
    return True


def _match_leaf(condition: Any, value: Any) -> bool:
    if isinstance(condition, dict) and "exists" in condition:
        present = value is not _ABSENT and not isinstance(value, dict)
        return present if condition["exists"] else not present
    if value is _ABSENT:
        return False
    if isinstance(value, list):
        return any(_match_scalar(condition, item) for item in value)
    return _match_scalar(condition, value)


def _finite(number: int | float) -> bool:
    """Whether a JSON number is a finite double (an integer literal may be too large for one)."""
    try:
        return math.isfinite(float(number))
    except OverflowError:
        return False


def _same(a: Any, b: Any) -> bool:
    """Equality as patterns mean it: numbers by value, never a boolean for a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return bool(a == b)  # Python compares int and float exactly, without overflow
    return type(a) is type(b) and bool(a == b)


def _match_scalar(condition: Any, value: Any) -> bool:
    if not isinstance(condition, dict):
        return _same(condition, value)
    ((operator, operand),) = condition.items()
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(operand)
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(operand)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == operand.casefold()
    if operator == "anything-but":
        if isinstance(operand, dict):
            return isinstance(value, str) and not value.startswith(operand["prefix"])
        excluded = operand if isinstance(operand, list) else [operand]
        return not any(_same(item, value) for item in excluded)
    if operator == "numeric":
        return _match_numeric(operand, value)
    return False


def _match_numeric(operand: Sequence[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        return False
    for i in range(0, len(operand), 2):
        comparator, bound = operand[i], float(operand[i + 1])
        number = float(value)
        ok = {
            "<": number < bound,
            "<=": number <= bound,
            "=": number == bound,
            ">": number > bound,
            ">=": number >= bound,
        }[comparator]
        if not ok:
            return False
    return True
