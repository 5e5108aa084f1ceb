"""EFS's identifiers and ARNs: `fs-`, `fsmt-` and `fsap-` followed by 17 hex digits (the
randomness comes in from the caller), and the ARNs that name file systems and access points.
Every operation that takes a file system or access point accepts either its id or its ARN."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from gureum.efs.domain.errors import AccessPointNotFound, BadRequest, FileSystemNotFound

HEX_DIGITS = 17


class Kind(StrEnum):
    FILE_SYSTEM = "file-system"
    ACCESS_POINT = "access-point"


PREFIX = {Kind.FILE_SYSTEM: "fs-", Kind.ACCESS_POINT: "fsap-"}
_HEX = re.compile(r"[0-9a-f]{17}")
_ARN = re.compile(
    r"arn:(aws[-a-z]*):elasticfilesystem:([0-9a-z-]+):(\d{12}):(file-system|access-point)/(\S+)"
)


def new_id(prefix: str, hex_digits: str) -> str:
    """`prefix` + 17 hex digits, from random hex the caller drew (`secrets.token_hex(9)`)."""
    digits = hex_digits[:HEX_DIGITS].lower()
    if not _HEX.fullmatch(digits):
        raise ValueError("an id takes 17 hex digits")
    return prefix + digits


def arn(region: str, account: str, kind: Kind, resource_id: str) -> str:
    return f"arn:aws:elasticfilesystem:{region}:{account}:{kind.value}/{resource_id}"


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """A file system or an access point, named by id or ARN in a request."""

    kind: Kind
    resource_id: str


def _not_found(kind: Kind, resource_id: str) -> Exception:
    if kind is Kind.FILE_SYSTEM:
        return FileSystemNotFound(resource_id)
    return AccessPointNotFound(resource_id)


def resolve(text: str, account: str, region: str, kind: Kind | None = None) -> ResourceRef:
    """The resource `text` names (an id, or an ARN in the caller's account and region); an
    ARN elsewhere names nothing the caller owns, so it is not found. `kind`: the one kind the
    operation takes."""
    match = _ARN.fullmatch(text)
    if match is not None:
        _, arn_region, arn_account, kind_text, resource_id = match.groups()
        found = Kind(kind_text)
        if kind is not None and found is not kind:
            raise BadRequest(f"Invalid {kind.value} ARN: {text}")
        if (arn_region, arn_account) != (region, account):
            raise _not_found(found, resource_id)
        return ResourceRef(found, resource_id)
    for candidate, prefix in PREFIX.items():
        if text.startswith(prefix) and (kind is None or kind is candidate):
            return ResourceRef(candidate, text)
    raise BadRequest(f"Invalid resource ID: {text}")
