"""Functions' environment variables, sealed with KMS at rest (spec 3.3) and opened on read.

Each set of variables is encrypted as one JSON document with the function's `KMSKeyArn`, or the
account's AWS-managed `alias/aws/lambda` key, with the function's account and region as
encryption context. Sealing with a key that cannot encrypt (an alias, a disabled or unknown key)
is refused the way Lambda refuses it at configuration time; opening with a key that has since
been disabled or deleted yields the error FunctionConfiguration shows, and a new execution
environment then fails with Lambda's KMS error (`kms_error`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from gureum.aws.errors import AwsError
from gureum.kms.services.keys import KeyService
from gureum.lambda_.domain.errors import (
    InvalidParameterValue,
    KMSAccessDenied,
    KMSDisabled,
    KMSInvalidState,
    KMSNotFound,
)

MANAGED_ALIAS = "alias/aws/lambda"

_INVOKE_ERRORS: dict[str, tuple[type[AwsError], str]] = {
    "DisabledException": (
        KMSDisabled,
        "Lambda was unable to decrypt the environment variables because the KMS key used is "
        "disabled. Please check the function's KMS key settings.",
    ),
    "KMSInvalidStateException": (
        KMSInvalidState,
        "Lambda couldn't decrypt the environment variables because the state of the KMS key "
        "used is not valid for Decrypt. Check the function's KMS key settings.",
    ),
    "NotFoundException": (
        KMSNotFound,
        "Lambda couldn't decrypt the environment variables because the KMS key was not found. "
        "Check the function's KMS key settings.",
    ),
}


def kms_error(error: tuple[str, str]) -> AwsError:
    """The Invoke error (502) for variables that could not be decrypted."""
    code, message = error
    for kind, text in _INVOKE_ERRORS.values():
        if kind.code == code:
            return kind(text)
    return KMSAccessDenied(message)


class KmsEnvironmentVault:
    """`EnvironmentVault` over the KMS-compatible key service."""

    def __init__(self, keys: KeyService) -> None:
        self._keys = keys

    @property
    def generation(self) -> int:
        return self._keys.generation

    def seal(
        self, account: str, region: str, key_arn: str | None, variables: Mapping[str, str]
    ) -> dict[str, str]:
        if key_arn and ":alias/" in key_arn:
            raise self._unusable(
                "InvalidArnException", "Key Aliases are not supported for this operation."
            )
        key = key_arn or self._keys.managed_key_arn(account, region, MANAGED_ALIAS)
        plaintext = json.dumps(dict(variables), separators=(",", ":")).encode()
        try:
            blob = self._keys.encrypt(
                account, region, key, plaintext, {"account": account, "region": region}
            )
        except AwsError as error:
            raise self._unusable(error.code, error.message) from None
        return {"key": key, "blob": base64.b64encode(blob).decode("ascii")}

    @staticmethod
    def _unusable(code: str, message: str) -> InvalidParameterValue:
        return InvalidParameterValue(
            "Lambda was unable to configure access to your environment variables because the "
            "KMS key is invalid for CreateGrant. Please check your KMS key settings. "
            f"KMS Exception: {code} KMS Message: {message}"
        )

    def open(
        self, account: str, region: str, sealed: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, tuple[str, str] | None]:
        try:
            plaintext = self._keys.decrypt(
                account,
                region,
                base64.b64decode(sealed["blob"]),
                {"account": account, "region": region},
            )
        except AwsError as error:
            kind, message = _INVOKE_ERRORS.get(error.code, (KMSAccessDenied, error.message))
            return None, (kind.code, message)
        variables: dict[str, str] = json.loads(plaintext)
        return variables, None
