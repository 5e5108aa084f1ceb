"""The errors of the KMS API, each with the code of its shape in botocore's KMS model (except
AccessDeniedException and NotAuthorizedException, which AWS sends though the model omits them).

Messages are AWS's where they are known (`gureum.kms.domain.keys` writes them). The Lambda side maps
`KeyDisabled`, `KeyInvalidState` and `KeyNotFound` raised while decrypting environment variables to
its own `KMSDisabledException`, `KMSInvalidStateException` and `KMSNotFoundException` (spec 3.4).
"""

from __future__ import annotations

from gureum.aws.errors import AwsError, ClientError


class KeyNotFound(ClientError):
    code = "NotFoundException"


class KeyDisabled(ClientError):
    code = "DisabledException"


class KeyInvalidState(ClientError):
    code = "KMSInvalidStateException"


class InvalidCiphertext(ClientError):
    """AWS answers a ciphertext it cannot open with this code and no message at all."""

    code = "InvalidCiphertextException"

    def __init__(self) -> None:
        super().__init__("")


class IncorrectKey(ClientError):
    code = "IncorrectKeyException"


class AliasExists(ClientError):
    code = "AlreadyExistsException"


class InvalidAliasName(ClientError):
    code = "InvalidAliasNameException"


class NotAuthorized(ClientError):
    """What CreateAlias answers, without a message, for a name under the reserved `alias/aws/`."""

    code = "NotAuthorizedException"


class KmsAccessDenied(ClientError):
    code = "AccessDeniedException"


class InvalidKeyUsage(ClientError):
    code = "InvalidKeyUsageException"


class UnsupportedKeyOperation(ClientError):
    code = "UnsupportedOperationException"


class TagRejected(ClientError):
    code = "TagException"


class InvalidMarker(ClientError):
    code = "InvalidMarkerException"


class DryRunSucceeded(ClientError):
    code = "DryRunOperationException"


class KmsInternal(AwsError):
    """Key material that no longer opens under the root key: ours to fix, never the caller's."""

    code = "KMSInternalException"
    status = 500
