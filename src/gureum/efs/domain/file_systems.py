"""File systems: what CreateFileSystem records, and its lifecycle.

A file system is `creating` for a moment after CreateFileSystem (AWS: seconds), then
`available`; mount targets and access points can be made only once it is available. The state
is derived from the creation time and the clock's now, passed in, so nothing has to wake up to
move it. Deleting is immediate: the rows and the data directory go in one call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from gureum.efs.domain.errors import BadRequest, IncorrectFileSystemLifeCycleState
from gureum.efs.domain.tags import NAME

# AWS's quota of file systems per account and region.
MAX_FILE_SYSTEMS = 1000
# How long a new file system stays `creating` (before --time-scale).
CREATION_DELAY = timedelta(seconds=1)


class LifeCycleState(StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    UPDATING = "updating"
    DELETING = "deleting"
    DELETED = "deleted"
    ERROR = "error"


class PerformanceMode(StrEnum):
    GENERAL_PURPOSE = "generalPurpose"
    MAX_IO = "maxIO"


class ThroughputMode(StrEnum):
    BURSTING = "bursting"
    PROVISIONED = "provisioned"
    ELASTIC = "elastic"


@dataclass(frozen=True, slots=True)
class FileSystemSpec:
    """What a CreateFileSystem request asks for, once checked."""

    creation_token: str
    performance_mode: PerformanceMode = PerformanceMode.GENERAL_PURPOSE
    throughput_mode: ThroughputMode = ThroughputMode.BURSTING
    provisioned_throughput: float | None = None
    encrypted: bool = False
    kms_key_id: str | None = None
    availability_zone: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FileSystem:
    account: str
    region: str
    file_system_id: str
    created: datetime
    ready: datetime  # when it becomes available
    spec: FileSystemSpec
    policy: str | None = None

    def state(self, now: datetime) -> LifeCycleState:
        return LifeCycleState.AVAILABLE if now >= self.ready else LifeCycleState.CREATING

    @property
    def name(self) -> str | None:
        return self.spec.tags.get(NAME)

    @property
    def tags(self) -> Mapping[str, str]:
        return self.spec.tags

    def with_tags(self, tags: Mapping[str, str]) -> FileSystem:
        return replace(self, spec=replace(self.spec, tags=dict(tags)))

    def with_policy(self, policy: str | None) -> FileSystem:
        return replace(self, policy=policy)

    def require_available(self, now: datetime) -> None:
        state = self.state(now)
        if state is not LifeCycleState.AVAILABLE:
            raise IncorrectFileSystemLifeCycleState(self.file_system_id, state.value)


def file_system_spec(
    token: str,
    *,
    performance_mode: str | None = None,
    throughput_mode: str | None = None,
    provisioned_throughput: float | None = None,
    encrypted: bool | None = None,
    kms_key_id: str | None = None,
    availability_zone: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> FileSystemSpec:
    """CreateFileSystem's request checked with EFS's rules (the model has already checked the
    enums and lengths)."""
    throughput = ThroughputMode(throughput_mode or ThroughputMode.BURSTING)
    if throughput is ThroughputMode.PROVISIONED and provisioned_throughput is None:
        raise BadRequest(
            "ProvisionedThroughputInMibps is required when ThroughputMode is provisioned."
        )
    if throughput is not ThroughputMode.PROVISIONED and provisioned_throughput is not None:
        raise BadRequest(
            "ProvisionedThroughputInMibps can only be set when ThroughputMode is provisioned."
        )
    if provisioned_throughput is not None and not 1.0 <= provisioned_throughput <= 3414.0:
        raise BadRequest("ProvisionedThroughputInMibps must be between 1 and 3414.")
    performance = PerformanceMode(performance_mode or PerformanceMode.GENERAL_PURPOSE)
    if performance is PerformanceMode.MAX_IO and throughput is ThroughputMode.ELASTIC:
        raise BadRequest("Elastic throughput mode is not supported with Max I/O performance mode.")
    if availability_zone is not None and performance is PerformanceMode.MAX_IO:
        raise BadRequest("One Zone file systems do not support the Max I/O performance mode.")
    if kms_key_id is not None and not encrypted:
        raise BadRequest("KmsKeyId can only be specified when Encrypted is true.")
    return FileSystemSpec(
        token,
        performance,
        throughput,
        provisioned_throughput,
        bool(encrypted),
        kms_key_id,
        availability_zone,
        dict(tags or {}),
    )


def new_file_system(
    account: str,
    region: str,
    file_system_id: str,
    spec: FileSystemSpec,
    now: datetime,
    delay: timedelta,
) -> FileSystem:
    return FileSystem(account, region, file_system_id, now, now + delay, spec)
