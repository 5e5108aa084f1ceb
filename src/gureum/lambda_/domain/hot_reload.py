"""Hot reload: a function's code (or a layer) that is a directory on the server's machine.

CreateFunction, UpdateFunctionCode and PublishLayerVersion with `S3Bucket` set to the hot-reload
bucket (`hot-reload` unless `--hot-reload-bucket` says otherwise, the name SAM CLI and
LocalStack users know) take `S3Key` as an absolute directory. The code is that directory,
mounted read-only into each sandbox, never copied; a change under it retires the function's
environments, so the next invocation runs the new code.

The code's blob name records the directory, hex-encoded: a name with no `/` in it, so nothing
that handles blobs (the code store's removal among them) can ever reach the directory itself.
"""

from __future__ import annotations

from gureum.lambda_.domain.errors import InvalidParameterValue

DEFAULT_BUCKET = "hot-reload"
PREFIX = "hot-"


def blob_of(directory: str) -> str:
    return PREFIX + directory.encode().hex()


def is_hot(blob: str) -> bool:
    return blob.startswith(PREFIX)


def directory_of(blob: str) -> str:
    """The directory a hot-reload blob names (`blob` must be one: see `is_hot`)."""
    return bytes.fromhex(blob[len(PREFIX) :]).decode()


def check_key(key: str | None) -> str:
    """`S3Key` as a directory: absolute, without `..` (the server then resolves it, links
    included, and checks what it finds)."""
    if not key:
        raise InvalidParameterValue(
            "Hot reload needs S3Key: the absolute path of the code's directory on the server."
        )
    if not key.startswith("/"):
        raise InvalidParameterValue(
            f"Hot reload needs an absolute directory path in S3Key, not {key!r}."
        )
    if ".." in key.split("/"):
        raise InvalidParameterValue(f"The hot-reload directory {key!r} must not contain '..'.")
    return key


def unpublishable() -> InvalidParameterValue:
    """Why a hot-reload function has no published versions (PublishVersion, Publish=true)."""
    return InvalidParameterValue(
        "A function whose code is a hot-reload directory cannot publish versions: a version is "
        "an immutable snapshot of its code, and this code changes whenever a file in the "
        "directory does. Publish from a deployment package (ZipFile) instead."
    )
