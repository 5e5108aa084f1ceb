"""Tags on file systems and access points: a map kept in the order keys were first set; the
`Name` tag is also the resource's `Name`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from gureum.efs.domain.errors import BadRequest

MAX_TAGS = 50
NAME = "Name"


def tag_map(tags: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """The Tags list of a request as a map; a key given twice is refused."""
    found: dict[str, str] = {}
    for tag in tags:
        if tag["Key"] in found:
            raise BadRequest(f"Duplicate tag key: {tag['Key']}")
        found[tag["Key"]] = tag["Value"]
    return found


def with_tags(current: Mapping[str, str], added: Mapping[str, str]) -> dict[str, str]:
    merged = {**current, **added}
    if len(merged) > MAX_TAGS:
        raise BadRequest(f"A resource can have at most {MAX_TAGS} tags.")
    return merged


def without_tags(current: Mapping[str, str], keys: Sequence[str]) -> dict[str, str]:
    return {key: value for key, value in current.items() if key not in set(keys)}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]
