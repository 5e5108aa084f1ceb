"""The access point service: access points of file systems, and their root directories.

`root_directory` is the public interface Lambda's mounting uses: the host directory an access
point's root is (made with its CreationInfo on first use) and the POSIX identity file operations
through it carry. It never returns a directory outside the file system's tree (see
`store.trees`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gureum.clock import Clock
from gureum.efs.domain import resources
from gureum.efs.domain.access_points import (
    MAX_ACCESS_POINTS,
    AccessPoint,
    AccessPointSpec,
    PosixUser,
)
from gureum.efs.domain.errors import (
    AccessPointAlreadyExists,
    AccessPointLimitExceeded,
    AccessPointNotFound,
    BadRequest,
)
from gureum.efs.domain.paging import page
from gureum.efs.domain.resources import Kind
from gureum.efs.services.file_systems import RandomHex, file_system_named, random_hex
from gureum.efs.store.records import EfsStore, Records
from gureum.efs.store.trees import FileSystemTrees


def _access_point_in(records: Records, account: str, region: str, text: str) -> AccessPoint:
    ref = resources.resolve(text, account, region, Kind.ACCESS_POINT)
    found = records.access_point(account, region, ref.resource_id)
    if found is None:
        raise AccessPointNotFound(ref.resource_id)
    return found


class AccessPointService:
    """Access points per file system (at most MAX_ACCESS_POINTS each)."""

    def __init__(
        self,
        store: EfsStore,
        trees: FileSystemTrees,
        clock: Clock,
        draw: RandomHex = random_hex,
    ) -> None:
        self._store = store
        self._trees = trees
        self._clock = clock
        self._draw = draw

    def create(self, account: str, region: str, spec: AccessPointSpec) -> AccessPoint:
        """A new access point. A client token already used in the account and region (for any
        file system) is AccessPointAlreadyExists naming the access point it made, whatever the
        rest of the request: that is AWS's answer to a retried create too (aws/aws-cli#6198,
        kubernetes-sigs/aws-efs-csi-driver#1170), so a retry never makes a second one."""
        with self._store.write() as records:
            fs = file_system_named(records, account, region, spec.file_system_id)
            fs.require_available(self._clock.now())
            spec = AccessPointSpec(
                spec.client_token,
                fs.file_system_id,
                spec.posix_user,
                spec.root_directory,
                spec.tags,
            )
            existing = records.access_point_by_token(account, region, spec.client_token)
            if existing is not None:
                raise AccessPointAlreadyExists(existing.access_point_id, spec.client_token)
            if records.count_access_points(fs.file_system_id) >= MAX_ACCESS_POINTS:
                raise AccessPointLimitExceeded(
                    f"You have reached the maximum number of access points "
                    f"({MAX_ACCESS_POINTS}) for file system {fs.file_system_id}."
                )
            point = AccessPoint(account, region, resources.new_id("fsap-", self._draw()), spec)
            records.put_access_point(point)
            return point

    def describe(
        self,
        account: str,
        region: str,
        *,
        access_point: str | None = None,
        file_system: str | None = None,
        token: str | None = None,
        max_results: int | None = None,
    ) -> tuple[list[AccessPoint], str | None]:
        if access_point is not None and file_system is not None:
            raise BadRequest("Specify either AccessPointId or FileSystemId, not both.")
        with self._store.read() as records:
            if access_point is not None:
                found = [_access_point_in(records, account, region, access_point)]
            elif file_system is not None:
                fs = file_system_named(records, account, region, file_system)
                found = records.access_points(account, region, fs.file_system_id)
            else:
                found = records.access_points(account, region)
        return page(found, lambda p: p.access_point_id, token, max_results)

    def get(self, account: str, region: str, access_point: str) -> AccessPoint:
        with self._store.read() as records:
            return _access_point_in(records, account, region, access_point)

    def delete(self, account: str, region: str, access_point: str) -> None:
        with self._store.write() as records:
            point = _access_point_in(records, account, region, access_point)
            records.delete_access_point(point.access_point_id)

    @contextmanager
    def open_root(
        self, account: str, region: str, access_point_arn: str
    ) -> Iterator[tuple[int, AccessPoint]]:
        """The access point's root directory held open (a descriptor, closed on exit), made
        with its CreationInfo if absent: a mounter that binds `/proc/self/fd/<fd>` mounts
        exactly the directory that was checked, whatever is renamed meanwhile."""
        point = self.get(account, region, access_point_arn)
        fd = self._trees.open_root(point.file_system_id, point.spec.root_directory)
        try:
            yield fd, point
        finally:
            os.close(fd)

    def root_directory(
        self, account: str, region: str, access_point_arn: str
    ) -> tuple[Path, PosixUser | None]:
        """The host path of the access point's root directory and the POSIX user every file
        operation through it is made as (None: the client's own). `MountRefused` when the root
        is missing without CreationInfo, or any component of its path is a symbolic link."""
        with self.open_root(account, region, access_point_arn) as (fd, point):
            return self._trees.resolved(point.file_system_id, fd), point.spec.posix_user
