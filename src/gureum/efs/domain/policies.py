"""File system policies: EFS's resource policy, checked when put and evaluated for clients.

A client (an NFS client, or a Lambda function's execution role) mounting a file system asks for
three actions: `elasticfilesystem:ClientMount` (to mount at all), `ClientWrite` (else the mount
is read-only) and `ClientRootAccess` (else uid 0 is squashed), with the condition keys
`elasticfilesystem:AccessPointArn` and `elasticfilesystem:AccessedViaMountTarget`. Without a
policy every client that can reach a mount target gets all three, AWS's default
(https://docs.aws.amazon.com/efs/latest/ug/iam-access-control-nfs-efs.html).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from gureum.aws.authorization import account_of, authorize
from gureum.aws.policy import Decision, Policy, PolicyError, PolicyRequest, evaluate, parse_policy
from gureum.efs.domain.errors import InvalidPolicy

MOUNT = "elasticfilesystem:ClientMount"
WRITE = "elasticfilesystem:ClientWrite"
ROOT = "elasticfilesystem:ClientRootAccess"
ACCESS_POINT_KEY = "elasticfilesystem:AccessPointArn"
VIA_MOUNT_TARGET_KEY = "elasticfilesystem:AccessedViaMountTarget"


class ClientAccess(NamedTuple):
    """What a client may do through a mount; a tuple, so `mount, write, root = ...` reads it."""

    mount: bool
    write: bool
    root: bool


FULL_ACCESS = ClientAccess(True, True, True)
# What a file system without a policy answers: EFS's default policy, full access for any client
# that mounts through a mount target (https://docs.aws.amazon.com/efs/latest/ug/
# iam-access-control-nfs-efs.html#default-filesystempolicy). Its Principal is `*`, so across
# accounts it is the client's own identity policy that decides.
DEFAULT_POLICY = parse_policy(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},'
    '"Action":["elasticfilesystem:ClientRootAccess","elasticfilesystem:ClientWrite",'
    '"elasticfilesystem:ClientMount"],"Condition":{"Bool":'
    '{"elasticfilesystem:AccessedViaMountTarget":"true"}}}]}'
)


def checked_policy(text: str) -> Policy:
    """The policy `text` is, or InvalidPolicyException with what is wrong."""
    try:
        return parse_policy(text)
    except PolicyError as exc:
        raise InvalidPolicy(f"Policy is invalid: {exc}") from None


def check_lockout(policy: Policy, file_system_arn: str, caller_arn: str) -> None:
    """EFS's policy lockout safety check: a policy that explicitly denies its own caller
    `elasticfilesystem:PutFileSystemPolicy` would leave nobody able to change it, so it is
    refused unless the request sets BypassPolicyLockoutSafetyCheck. Within the account an
    identity policy can grant what the resource policy leaves out, so only an explicit deny
    locks out."""
    request = PolicyRequest("elasticfilesystem:PutFileSystemPolicy", file_system_arn, caller_arn)
    if evaluate([policy], request) is Decision.EXPLICIT_DENY:
        raise InvalidPolicy(
            "The file system policy would prevent the principal making the request from making "
            "future PutFileSystemPolicy requests on this file system. Set "
            "BypassPolicyLockoutSafetyCheck to true to put it anyway."
        )


def client_access(
    policy_text: str | None,
    file_system_arn: str,
    principal_arn: str,
    access_point_arn: str | None,
    via_mount_target: bool = True,
    identity: Sequence[Policy] | None = None,
) -> ClientAccess:
    """What `principal_arn` may do through a mount of the file system.

    `identity`: the principal's identity policies when IAM is enforced; then IAM's rule applies
    (`authorization.authorize`): in the file system's account either kind may allow, from another
    account both must (spec 8). Without them (`--iam off`) the file system policy alone decides.
    """
    policy = DEFAULT_POLICY if policy_text is None else parse_policy(text=policy_text)
    context: dict[str, str | bool] = {VIA_MOUNT_TARGET_KEY: via_mount_target}
    if access_point_arn is not None:
        context[ACCESS_POINT_KEY] = access_point_arn

    def allowed(action: str) -> bool:
        request = PolicyRequest(action, file_system_arn, principal_arn, context)
        if identity is None:
            return evaluate([policy], request) is Decision.ALLOW
        decision = authorize(
            request,
            identity=identity,
            resource=[policy],
            resource_account=account_of(file_system_arn),
        )
        return decision is Decision.ALLOW

    mount = allowed(MOUNT)
    # Writing and root access come with a mount, never without one.
    return ClientAccess(mount, mount and allowed(WRITE), mount and allowed(ROOT))
