"""The Availability Zones of a Region: their names (`us-east-1a`) and ids (`use1-az1`).

AWS maps zone names to the physical zones (ids) differently in each account; here the mapping is
the same everywhere, letter n -> az n. The id's prefix shortens the Region's name as AWS does
(us-east-1 -> use1, ap-northeast-1 -> apne1, eu-central-1 -> euc1). The count of zones follows
AWS's for the Regions that differ from the common three.
"""

from __future__ import annotations

from dataclasses import dataclass

from gureum.ec2.domain.errors import InvalidParameterCombination, InvalidParameterValue

_ZONE_COUNTS = {"us-east-1": 6, "us-west-2": 4, "ap-northeast-1": 3, "us-west-1": 2}
_DEFAULT_COUNT = 3
_DIRECTIONS = {
    "east": "e",
    "west": "w",
    "north": "n",
    "south": "s",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
}


@dataclass(frozen=True, slots=True)
class Zone:
    """One Availability Zone of a Region."""

    name: str
    id: str
    region: str


def region_code(region: str) -> str:
    """`us-east-1` -> `use1`: the prefix of the Region's zone ids."""
    parts = region.split("-")
    if len(parts) < 3:
        return region.replace("-", "")
    area, *middle, number = parts
    return area + "".join(_DIRECTIONS.get(word, word[:1]) for word in middle) + number


def zones(region: str) -> tuple[Zone, ...]:
    """The Region's zones, in order."""
    count = _ZONE_COUNTS.get(region, _DEFAULT_COUNT)
    code = region_code(region)
    return tuple(
        Zone(f"{region}{chr(ord('a') + n)}", f"{code}-az{n + 1}", region) for n in range(count)
    )


def zone_for(region: str, name: str | None, zone_id: str | None) -> Zone:
    """The zone a subnet asks for by name or by id (the first zone when it names neither)."""
    known = zones(region)
    if name is not None and zone_id is not None:
        raise InvalidParameterCombination(
            "The parameters AvailabilityZone and AvailabilityZoneId cannot be used together"
        )
    for zone in known:
        if name is not None and zone.name == name:
            return zone
        if zone_id is not None and zone.id == zone_id:
            return zone
    if name is None and zone_id is None:
        return known[0]
    listed = ", ".join(zone.name for zone in known)
    parameter, value = (
        ("availabilityZone", name) if name is not None else ("availabilityZoneId", zone_id)
    )
    raise InvalidParameterValue(
        f"Value ({value}) for parameter {parameter} is invalid. Subnets can currently only be "
        f"created in the following availability zones: {listed}."
    )
