"""Deployment packages read from S3 (`Code.S3Bucket` / `S3Key` / `S3ObjectVersion`), through a
port the composition root fills with gureum's own S3 (Lambda imports no S3).

The failure is AWS's: CreateFunction answers a missing object with InvalidParameterValueException
"Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key
does not exist." (the S3 error's code and message, as S3 gave them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gureum.lambda_.domain.errors import InvalidParameterValue

# The bucket name hot reload (issue #23) will claim: `S3Bucket=hot-reload` must mean a local
# directory, never an S3 object. Until hot reload is built such a request is refused, and no
# bucket of this name should be relied on.
HOT_RELOAD_BUCKET = "hot-reload"


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    key: str
    version: str | None = None


def s3_location(code: Mapping[str, Any]) -> S3Location | None:
    """Where a Code (or layer Content, or UpdateFunctionCode) says the package is in S3."""
    bucket, key = code.get("S3Bucket"), code.get("S3Key")
    if bucket is None and key is None:
        return None
    if bucket is None or key is None:
        raise InvalidParameterValue("Please provide a source for function code.")
    return S3Location(str(bucket), str(key), code.get("S3ObjectVersion"))


class PackageUnavailable(Exception):
    """S3 could not give the object: its error code and message, as S3 words them."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PackageSource(Protocol):
    """Reads a deployment package out of S3 (blocking: worker threads only)."""

    def read(self, account: str, region: str, location: S3Location, limit: int) -> bytes:
        """The object's bytes. Raises PackageUnavailable with S3's error, and for an object
        larger than `limit` bytes."""
        ...


def fetch_failed(error: PackageUnavailable) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Error occurred while GetObject. S3 Error Code: {error.code}. "
        f"S3 Error Message: {error.message}"
    )
