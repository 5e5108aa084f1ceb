"""EFS's errors, named by the model's error shapes (botocore's `efs` model).

EFS's error bodies carry the code a second time, in `ErrorCode`, beside `Message`: every error
here sets that field, and a few add the modelled member that names what already exists
(`FileSystemId`, `AccessPointId`), which botocore exposes on the exception's response.
"""

from __future__ import annotations

from gureum.aws.errors import ClientError


class EfsError(ClientError):
    code = "BadRequest"

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message, ErrorCode=self.code, **fields)


class BadRequest(EfsError):
    code = "BadRequest"


class FileSystemNotFound(EfsError):
    code = "FileSystemNotFound"
    status = 404

    def __init__(self, file_system_id: str) -> None:
        super().__init__(f"File system '{file_system_id}' does not exist.")


class AccessPointNotFound(EfsError):
    code = "AccessPointNotFound"
    status = 404

    def __init__(self, access_point_id: str) -> None:
        super().__init__(f"Access point '{access_point_id}' does not exist.")


class MountTargetNotFound(EfsError):
    code = "MountTargetNotFound"
    status = 404

    def __init__(self, mount_target_id: str) -> None:
        super().__init__(f"Mount target '{mount_target_id}' does not exist.")


class PolicyNotFound(EfsError):
    code = "PolicyNotFound"
    status = 404

    def __init__(self, file_system_id: str) -> None:
        super().__init__(f"File System Policy for {file_system_id} does not exist.")


class FileSystemAlreadyExists(EfsError):
    code = "FileSystemAlreadyExists"
    status = 409

    def __init__(self, file_system_id: str, token: str) -> None:
        super().__init__(
            f"File system '{file_system_id}' already exists with creation token '{token}'",
            FileSystemId=file_system_id,
        )


class AccessPointAlreadyExists(EfsError):
    code = "AccessPointAlreadyExists"
    status = 409

    def __init__(self, access_point_id: str, token: str) -> None:
        super().__init__(
            f"Access point '{access_point_id}' already exists with client token '{token}'",
            AccessPointId=access_point_id,
        )


class AccessPointLimitExceeded(EfsError):
    code = "AccessPointLimitExceeded"
    status = 403


class FileSystemLimitExceeded(EfsError):
    code = "FileSystemLimitExceeded"
    status = 403


class FileSystemInUse(EfsError):
    code = "FileSystemInUse"
    status = 409

    def __init__(self, file_system_id: str) -> None:
        super().__init__(f"File system '{file_system_id}' has mount targets and cannot be deleted.")


class IncorrectFileSystemLifeCycleState(EfsError):
    code = "IncorrectFileSystemLifeCycleState"
    status = 409

    def __init__(self, file_system_id: str, state: str) -> None:
        super().__init__(
            f"File system '{file_system_id}' is in the '{state}' state; it must be 'available'."
        )


class IncorrectMountTargetState(EfsError):
    code = "IncorrectMountTargetState"
    status = 409

    def __init__(self, mount_target_id: str, state: str) -> None:
        super().__init__(
            f"Mount target '{mount_target_id}' is in the '{state}' state; it must be 'available'."
        )


class AvailabilityZonesMismatch(EfsError):
    code = "AvailabilityZonesMismatch"


class MountTargetConflict(EfsError):
    code = "MountTargetConflict"
    status = 409


class SubnetNotFound(EfsError):
    code = "SubnetNotFound"

    def __init__(self, subnet_id: str) -> None:
        super().__init__(f"The subnet ID '{subnet_id}' does not exist")


class SecurityGroupNotFound(EfsError):
    code = "SecurityGroupNotFound"


class SecurityGroupLimitExceeded(EfsError):
    code = "SecurityGroupLimitExceeded"


class IpAddressInUse(EfsError):
    code = "IpAddressInUse"
    status = 409


class NoFreeAddressesInSubnet(EfsError):
    code = "NoFreeAddressesInSubnet"
    status = 409


class InvalidPolicy(EfsError):
    code = "InvalidPolicyException"


class MountRefused(ClientError):
    """A client may not mount through an access point (its root directory cannot be made, or
    leaves the file system). The code is Lambda's for a mount that fails, which is what a
    function's Invoke answers with; the EFS API itself never raises this."""

    code = "EFSMountFailureException"
    status = 403
