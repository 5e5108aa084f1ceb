"""Aliases and weighted routing (spec 2).

An alias names one published version (or `$LATEST`) and may send a fraction of traffic to one
more published version. The rules are AWS's, checked in the order AWS reports them; the routing
draw itself is a pure function of a number the caller draws.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gureum.lambda_.domain.arns import LATEST
from gureum.lambda_.domain.errors import InvalidParameterValue, ResourceNotFound
from gureum.lambda_.domain.functions import FunctionVersion


@dataclass(frozen=True, slots=True)
class Alias:
    name: str
    function_version: str
    revision_id: str
    description: str = ""
    weights: Mapping[str, float] = field(default_factory=dict)

    def references(self, version: str) -> bool:
        return version == self.function_version or version in self.weights


def check_routing(
    primary: str,
    weights: Mapping[str, float],
    find_version: Callable[[str], FunctionVersion | None],
    arn_of: Callable[[str], str],
) -> None:
    """Raises AWS's error for the first broken rule of an alias's target and routing."""
    if weights and primary == LATEST:
        # AWS sends this one without a `Type` member.
        raise InvalidParameterValue(
            "$LATEST is not supported for an alias pointing to more than 1 version", Type=None
        )
    if len(weights) > 1:
        raise InvalidParameterValue(
            "Number of items in AdditionalVersionWeights cannot be greater than 1"
        )
    if primary in weights:
        raise InvalidParameterValue(
            f"Invalid function version {primary}. Function version {primary} is already "
            "included in routing configuration."
        )
    main = find_version(primary)
    if main is None:
        raise ResourceNotFound(f"Function not found: {arn_of(primary)}")
    for extra in weights:
        other = find_version(extra)
        if other is None:
            raise ResourceNotFound(f"Function not found: {arn_of(extra)}")
        if other.settings.role != main.settings.role:
            raise InvalidParameterValue(
                "Both versions of a weighted alias must have the same execution role."
            )
        if other.settings.dead_letter_target != main.settings.dead_letter_target:
            raise InvalidParameterValue(
                "Both versions of a weighted alias must have the same dead-letter queue "
                "configuration."
            )


def route(alias: Alias, draw: float) -> str:
    """The version one invocation runs: the additional version with probability its weight.

    `draw` is uniform in [0, 1), drawn once per invocation by the caller.
    """
    for version, weight in alias.weights.items():
        if draw < weight:
            return version
    return alias.function_version
