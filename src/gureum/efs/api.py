"""EFS operations over rest-json: each parses, calls one service method, renders.

Shapes are botocore's `efs` model's; this module only maps them to and from the domain values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from gureum.aws.frontend import CallContext, Handler
from gureum.efs.domain import resources
from gureum.efs.domain.access_points import AccessPoint, AccessPointSpec, posix_user, root_directory
from gureum.efs.domain.file_systems import FileSystem, file_system_spec
from gureum.efs.domain.mount_targets import MountTarget
from gureum.efs.domain.resources import Kind
from gureum.efs.domain.tags import tag_list, tag_map
from gureum.efs.services.access_points import AccessPointService
from gureum.efs.services.file_systems import FileSystemService
from gureum.efs.services.mount_targets import MountTargetService

Params = dict[str, Any]
Result = dict[str, Any]


def _file_system(fs: FileSystem, mount_targets: int, now: datetime) -> Result:
    spec = fs.spec
    return {
        "OwnerId": fs.account,
        "CreationToken": spec.creation_token,
        "FileSystemId": fs.file_system_id,
        "FileSystemArn": resources.arn(fs.region, fs.account, Kind.FILE_SYSTEM, fs.file_system_id),
        "CreationTime": fs.created,
        "LifeCycleState": fs.state(now).value,
        "Name": fs.name,
        "NumberOfMountTargets": mount_targets,
        # Metered size: gureum does not meter (yet); AWS's is eventually consistent anyway.
        "SizeInBytes": {"Value": 0, "ValueInIA": 0, "ValueInStandard": 0, "ValueInArchive": 0},
        "PerformanceMode": spec.performance_mode.value,
        "Encrypted": spec.encrypted,
        "KmsKeyId": spec.kms_key_id,
        "ThroughputMode": spec.throughput_mode.value,
        "ProvisionedThroughputInMibps": spec.provisioned_throughput,
        "AvailabilityZoneName": spec.availability_zone,
        "Tags": tag_list(spec.tags),
        "FileSystemProtection": {"ReplicationOverwriteProtection": "ENABLED"},
    }


def _mount_target(target: MountTarget, now: datetime) -> Result:
    return {
        "OwnerId": target.account,
        "MountTargetId": target.mount_target_id,
        "FileSystemId": target.file_system_id,
        "SubnetId": target.subnet.subnet_id,
        "LifeCycleState": target.state(now).value,
        "IpAddress": target.ip_address,
        "NetworkInterfaceId": target.network_interface_id,
        "AvailabilityZoneId": target.subnet.availability_zone_id,
        "AvailabilityZoneName": target.subnet.availability_zone,
        "VpcId": target.subnet.vpc_id,
    }


def _access_point(point: AccessPoint) -> Result:
    spec = point.spec
    root: Result = {"Path": spec.root_directory.path}
    info = spec.root_directory.creation_info
    if info is not None:
        root["CreationInfo"] = {
            "OwnerUid": info.owner_uid,
            "OwnerGid": info.owner_gid,
            "Permissions": info.permissions,
        }
    user = spec.posix_user
    return {
        "ClientToken": spec.client_token,
        "Name": point.name,
        "Tags": tag_list(spec.tags),
        "AccessPointId": point.access_point_id,
        "AccessPointArn": resources.arn(
            point.region, point.account, Kind.ACCESS_POINT, point.access_point_id
        ),
        "FileSystemId": point.file_system_id,
        "PosixUser": None
        if user is None
        else {"Uid": user.uid, "Gid": user.gid, "SecondaryGids": list(user.secondary_gids)},
        "RootDirectory": root,
        "OwnerId": point.account,
        "LifeCycleState": point.state.value,
    }


class EfsApi:
    def __init__(
        self,
        file_systems: FileSystemService,
        mount_targets: MountTargetService,
        access_points: AccessPointService,
        now: Callable[[], datetime],
    ) -> None:
        self._fs = file_systems
        self._mt = mount_targets
        self._ap = access_points
        self._now = now

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "CreateFileSystem": self.create_file_system,
            "DescribeFileSystems": self.describe_file_systems,
            "DeleteFileSystem": self.delete_file_system,
            "CreateMountTarget": self.create_mount_target,
            "DescribeMountTargets": self.describe_mount_targets,
            "DescribeMountTargetSecurityGroups": self.describe_mount_target_security_groups,
            "ModifyMountTargetSecurityGroups": self.modify_mount_target_security_groups,
            "DeleteMountTarget": self.delete_mount_target,
            "CreateAccessPoint": self.create_access_point,
            "DescribeAccessPoints": self.describe_access_points,
            "DeleteAccessPoint": self.delete_access_point,
            "PutFileSystemPolicy": self.put_file_system_policy,
            "DescribeFileSystemPolicy": self.describe_file_system_policy,
            "DeleteFileSystemPolicy": self.delete_file_system_policy,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
            "CreateTags": self.create_tags,
            "DescribeTags": self.describe_tags,
            "DeleteTags": self.delete_tags,
        }

    # file systems ---------------------------------------------------------------------------

    def create_file_system(self, ctx: CallContext, params: Params) -> Result:
        spec = file_system_spec(
            params["CreationToken"],
            performance_mode=params.get("PerformanceMode"),
            throughput_mode=params.get("ThroughputMode"),
            provisioned_throughput=params.get("ProvisionedThroughputInMibps"),
            encrypted=params.get("Encrypted"),
            kms_key_id=params.get("KmsKeyId"),
            availability_zone=params.get("AvailabilityZoneName"),
            tags=tag_map(params.get("Tags") or []),
        )
        fs = self._fs.create(ctx.account_id, ctx.region, spec)
        # As AWS answers: the file system as created, `creating`, however long the write took
        # (with --time-scale, `creating` can be over before a loaded host answers).
        return _file_system(fs, 0, fs.created)

    def describe_file_systems(self, ctx: CallContext, params: Params) -> Result:
        found, following = self._fs.describe(
            ctx.account_id,
            ctx.region,
            file_system=params.get("FileSystemId"),
            creation_token=params.get("CreationToken"),
            marker=params.get("Marker"),
            max_items=params.get("MaxItems"),
        )
        now = self._now()
        return {
            "Marker": params.get("Marker"),
            "FileSystems": [_file_system(fs, count, now) for fs, count in found],
            "NextMarker": following,
        }

    def delete_file_system(self, ctx: CallContext, params: Params) -> Result:
        self._fs.delete(ctx.account_id, ctx.region, params["FileSystemId"])
        return {}

    # mount targets --------------------------------------------------------------------------

    def create_mount_target(self, ctx: CallContext, params: Params) -> Result:
        target = self._mt.create(
            ctx.account_id,
            ctx.region,
            params["FileSystemId"],
            params["SubnetId"],
            params.get("IpAddress"),
            params.get("SecurityGroups"),
        )
        return _mount_target(target, target.created)  # as created, like CreateFileSystem

    def describe_mount_targets(self, ctx: CallContext, params: Params) -> Result:
        found, following = self._mt.describe(
            ctx.account_id,
            ctx.region,
            file_system=params.get("FileSystemId"),
            mount_target_id=params.get("MountTargetId"),
            access_point=params.get("AccessPointId"),
            marker=params.get("Marker"),
            max_items=params.get("MaxItems"),
        )
        now = self._now()
        return {
            "Marker": params.get("Marker"),
            "MountTargets": [_mount_target(target, now) for target in found],
            "NextMarker": following,
        }

    def describe_mount_target_security_groups(self, ctx: CallContext, params: Params) -> Result:
        groups = self._mt.security_groups(ctx.account_id, ctx.region, params["MountTargetId"])
        return {"SecurityGroups": list(groups)}

    def modify_mount_target_security_groups(self, ctx: CallContext, params: Params) -> Result:
        self._mt.modify_security_groups(
            ctx.account_id, ctx.region, params["MountTargetId"], params.get("SecurityGroups") or []
        )
        return {}

    def delete_mount_target(self, ctx: CallContext, params: Params) -> Result:
        self._mt.delete(ctx.account_id, ctx.region, params["MountTargetId"])
        return {}

    # access points --------------------------------------------------------------------------

    def create_access_point(self, ctx: CallContext, params: Params) -> Result:
        spec = AccessPointSpec(
            params["ClientToken"],
            params["FileSystemId"],
            posix_user(params.get("PosixUser")),
            root_directory(params.get("RootDirectory")),
            tag_map(params.get("Tags") or []),
        )
        return _access_point(self._ap.create(ctx.account_id, ctx.region, spec))

    def describe_access_points(self, ctx: CallContext, params: Params) -> Result:
        found, following = self._ap.describe(
            ctx.account_id,
            ctx.region,
            access_point=params.get("AccessPointId"),
            file_system=params.get("FileSystemId"),
            token=params.get("NextToken"),
            max_results=params.get("MaxResults"),
        )
        return {"AccessPoints": [_access_point(p) for p in found], "NextToken": following}

    def delete_access_point(self, ctx: CallContext, params: Params) -> Result:
        self._ap.delete(ctx.account_id, ctx.region, params["AccessPointId"])
        return {}

    # policies -------------------------------------------------------------------------------

    def put_file_system_policy(self, ctx: CallContext, params: Params) -> Result:
        fs = self._fs.put_policy(
            ctx.account_id,
            ctx.region,
            params["FileSystemId"],
            params["Policy"],
            bool(params.get("BypassPolicyLockoutSafetyCheck")),
        )
        return {"FileSystemId": fs.file_system_id, "Policy": fs.policy}

    def describe_file_system_policy(self, ctx: CallContext, params: Params) -> Result:
        fs, policy = self._fs.policy(ctx.account_id, ctx.region, params["FileSystemId"])
        return {"FileSystemId": fs.file_system_id, "Policy": policy}

    def delete_file_system_policy(self, ctx: CallContext, params: Params) -> Result:
        self._fs.delete_policy(ctx.account_id, ctx.region, params["FileSystemId"])
        return {}

    # tags -----------------------------------------------------------------------------------

    def tag_resource(self, ctx: CallContext, params: Params) -> Result:
        tags = tag_map(params["Tags"])
        self._fs.tag(ctx.account_id, ctx.region, params["ResourceId"], tags)
        return {}

    def untag_resource(self, ctx: CallContext, params: Params) -> Result:
        self._fs.untag(ctx.account_id, ctx.region, params["ResourceId"], params["TagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: CallContext, params: Params) -> Result:
        tags = self._fs.tags(ctx.account_id, ctx.region, params["ResourceId"])
        return {"Tags": tag_list(tags)}

    def create_tags(self, ctx: CallContext, params: Params) -> Result:
        self._fs.tag(ctx.account_id, ctx.region, params["FileSystemId"], tag_map(params["Tags"]))
        return {}

    def describe_tags(self, ctx: CallContext, params: Params) -> Result:
        tags = self._fs.tags(ctx.account_id, ctx.region, params["FileSystemId"])
        return {"Tags": tag_list(tags)}

    def delete_tags(self, ctx: CallContext, params: Params) -> Result:
        self._fs.untag(ctx.account_id, ctx.region, params["FileSystemId"], params["TagKeys"])
        return {}
