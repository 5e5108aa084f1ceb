"""SnapStart (spec 1.3, 6.1): which versions have it, and what it cannot be combined with.

`ApplyOn: PublishedVersions` makes every version published from then on a snapshot version:
PublishVersion answers it `Pending` while Init runs once and the snapshot is taken, and its
environments are restored from that snapshot. `$LATEST` never is (`OptimizationStatus: Off`).
"""

from __future__ import annotations

from gureum.lambda_.domain.errors import InvalidParameterValue

PUBLISHED_VERSIONS = "PublishedVersions"
# AWS's SnapStart runtimes (Java 11+, Python 3.12+, .NET 8+); gureum runs the Python ones.
SUPPORTED_RUNTIMES = frozenset(
    {
        "java11",
        "java17",
        "java21",
        "java25",
        "python3.12",
        "python3.13",
        "python3.14",
        "dotnet8",
        "dotnet10",
    }
)
# AWS documents the limit ("SnapStart does not support ... ephemeral storage greater than
# 512 MB"); the two messages below are gureum's, in AWS's form: AWS's own were not found.
MAX_EPHEMERAL_MB = 512


def optimization_status(apply_on: str, version: str) -> str:
    """`On` for a published version of a function with SnapStart, `Off` otherwise."""
    return "On" if apply_on == PUBLISHED_VERSIONS and version != "$LATEST" else "Off"


def applies(apply_on: str, version: str) -> bool:
    return optimization_status(apply_on, version) == "On"


def check(
    apply_on: str, runtime: str | None, ephemeral_mb: int, file_systems: bool, wrapper: bool
) -> None:
    """Refuses a configuration SnapStart cannot have, with AWS's InvalidParameterValueException."""
    if apply_on != PUBLISHED_VERSIONS:
        return
    if runtime is None or runtime not in SUPPORTED_RUNTIMES:
        raise InvalidParameterValue(
            f"{runtime or 'Image'} is not supported for SnapStart enabled functions.", Type="User"
        )
    if file_systems:
        raise InvalidParameterValue(
            "SnapStart is not supported for functions with Amazon EFS file systems.", Type="User"
        )
    if ephemeral_mb > MAX_EPHEMERAL_MB:
        raise InvalidParameterValue(
            f"SnapStart is not supported for functions with ephemeral storage greater than "
            f"{MAX_EPHEMERAL_MB} MB.",
            Type="User",
        )
    if wrapper:
        # gureum restores by forking the built-in runtime, which a wrapper script replaces.
        raise InvalidParameterValue(
            "gureum does not support SnapStart together with AWS_LAMBDA_EXEC_WRAPPER.",
            Type="User",
        )


PROVISIONED_REFUSED = (
    "Provisioned concurrency is not supported for a function version with SnapStart enabled."
)
