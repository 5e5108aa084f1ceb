"""Lambda's own errors, each carrying its AWS identity (the base classes are the kernel's)."""

from __future__ import annotations

from gureum.aws.errors import AwsError, ClientError


class ResourceNotFound(ClientError):
    code = "ResourceNotFoundException"
    status = 404


class InvalidParameterValue(ClientError):
    code = "InvalidParameterValueException"


class ResourceConflict(ClientError):
    code = "ResourceConflictException"
    status = 409


class ProvisionedConcurrencyConfigNotFound(ClientError):
    code = "ProvisionedConcurrencyConfigNotFoundException"
    status = 404


class PreconditionFailed(ClientError):
    code = "PreconditionFailedException"
    status = 412


class AccessDenied(ClientError):
    """Not in Lambda's model, but AWS answers another account's function with it (spec 0.4)."""

    code = "AccessDeniedException"
    status = 403


class TooManyRequests(ClientError):
    code = "TooManyRequestsException"
    status = 429


# --- Lambda's KMS errors at invoke time (spec 3.4): 502, raised while creating an environment.


class KMSDisabled(AwsError):
    code = "KMSDisabledException"
    status = 502


class KMSInvalidState(AwsError):
    code = "KMSInvalidStateException"
    status = 502


class KMSNotFound(AwsError):
    code = "KMSNotFoundException"
    status = 502


class KMSAccessDenied(AwsError):
    code = "KMSAccessDeniedException"
    status = 502


class EfsMountFailure(ClientError):
    """The mount was refused: the file system policy, or a missing access point (spec 7.2)."""

    code = "EFSMountFailureException"
    status = 403


class EfsMountConnectivity(ClientError):
    """No mount target the function reaches on TCP 2049 (spec 7.2)."""

    code = "EFSMountConnectivityException"
    status = 408


class EfsMountTimeout(ClientError):
    code = "EFSMountTimeoutException"
    status = 408


class SnapStartFailure(ClientError):
    """The restore of a SnapStart environment failed: an after-restore hook raised, or the
    runtime ended before it was ready (spec 10.6)."""

    code = "SnapStartException"
    status = 400


class SnapStartNotReady(ClientError):
    code = "SnapStartNotReadyException"
    status = 409


class SnapStartTimeout(ClientError):
    """The restore (the runtime's resumption and its after-restore hooks) overran 10 s."""

    code = "SnapStartTimeoutException"
    status = 408


class PolicyLengthExceeded(ClientError):
    code = "PolicyLengthExceededException"


class RecursiveInvocation(ClientError):
    """A chain of invocations passed the loop threshold (domain.recursion)."""

    code = "RecursiveInvocationException"
    status = 400

    def __init__(self) -> None:
        super().__init__(
            "Lambda has detected your function being invoked in a recursive loop with other "
            "Amazon Web Services resources and stopped your function's invocation."
        )


class EfsIO(ClientError):
    """An environment stopped because I/O on its file system failed under it (spec 7.2)."""

    code = "EFSIOException"
    status = 410
