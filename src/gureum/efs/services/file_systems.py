"""The file system service: file systems, their policies and the tags of every EFS resource.

The public interface other services use: Lambda asks `client_access` what a function's role may
do through a mount. Each operation is one transaction; a file system's directory is made before
its row is committed and removed after its row is gone, so a crash leaves at worst an orphan
directory, never a file system without data. Directories are made and moved aside inside the
writing transaction, and the start-up sweep runs in one too: in a cluster, where every host sees
the same directories, a host that starts never takes another's create or delete under way for a
crashed one's leftovers.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path

from gureum.aws.policy import Policy
from gureum.clock import Clock
from gureum.efs.domain import resources
from gureum.efs.domain.errors import (
    AccessPointNotFound,
    FileSystemAlreadyExists,
    FileSystemInUse,
    FileSystemLimitExceeded,
    FileSystemNotFound,
)
from gureum.efs.domain.errors import PolicyNotFound as NoPolicy
from gureum.efs.domain.file_systems import (
    CREATION_DELAY,
    MAX_FILE_SYSTEMS,
    FileSystem,
    FileSystemSpec,
)
from gureum.efs.domain.paging import page
from gureum.efs.domain.policies import (
    ClientAccess,
    check_lockout,
    checked_policy,
    client_access,
)
from gureum.efs.domain.resources import Kind, ResourceRef
from gureum.efs.domain.tags import with_tags, without_tags
from gureum.efs.store.records import EfsStore, Records
from gureum.efs.store.trees import FileSystemTrees

RandomHex = Callable[[], str]


def random_hex() -> str:
    return secrets.token_hex(9)


def file_system_in(records: Records, account: str, region: str, fs_id: str) -> FileSystem:
    found = records.file_system(account, region, fs_id)
    if found is None:
        raise FileSystemNotFound(fs_id)
    return found


def file_system_named(records: Records, account: str, region: str, text: str) -> FileSystem:
    """The file system `text` (an id or an ARN) names."""
    ref = resources.resolve(text, account, region, Kind.FILE_SYSTEM)
    return file_system_in(records, account, region, ref.resource_id)


class FileSystemService:
    """File systems per account and region, their data directories, policies and tags."""

    def __init__(
        self,
        store: EfsStore,
        trees: FileSystemTrees,
        clock: Clock,
        time_scale: float,
        draw: RandomHex = random_hex,
        max_file_systems: int = MAX_FILE_SYSTEMS,
    ) -> None:
        self._store = store
        self._trees = trees
        self._max = max_file_systems
        self._clock = clock
        self._delay = timedelta(seconds=CREATION_DELAY.total_seconds() * time_scale)
        self._draw = draw

    def create(self, account: str, region: str, spec: FileSystemSpec) -> FileSystem:
        """A new file system; FileSystemAlreadyExists (with the id) when the creation token
        already made one in this account and region, as AWS answers a retried create."""
        file_system_id = resources.new_id("fs-", self._draw())
        try:
            with self._store.write() as records:
                existing = records.file_system_by_token(account, region, spec.creation_token)
                if existing is not None:
                    raise FileSystemAlreadyExists(existing.file_system_id, spec.creation_token)
                if records.count_file_systems(account, region) >= self._max:
                    raise FileSystemLimitExceeded(
                        f"You have reached the maximum number of file systems ({self._max})."
                    )
                self._trees.create(file_system_id)
                fs = FileSystem(
                    account,
                    region,
                    file_system_id,
                    self._clock.now(),
                    self._clock.now() + self._delay,
                    spec,
                )
                records.put_file_system(fs)
                return fs
        except BaseException:
            self._trees.remove(file_system_id)
            raise

    def sweep(self) -> set[str]:
        """Removes the directories no file system owns (see `FileSystemTrees.sweep`); run at
        start, before any request. Returns the directories with data it left in place. Looks in
        a write transaction: another host's create or delete, whose directory work is done in
        its own, is then either committed or not begun. Deleted data, which may be large, is
        removed after it, as `delete` removes it after its commit."""
        with self._store.write() as records:
            kept, retired = self._trees.sweep(records.file_system_ids())
        for file_system_id in sorted(retired):
            self._trees.purge(file_system_id)
        return kept

    def data_of(self, file_system_id: str) -> Path:
        """Where the file system's data is on the host."""
        return self._trees.path_of(file_system_id)

    def get(self, account: str, region: str, file_system: str) -> FileSystem:
        with self._store.read() as records:
            return file_system_named(records, account, region, file_system)

    def describe(
        self,
        account: str,
        region: str,
        *,
        file_system: str | None = None,
        creation_token: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> tuple[list[tuple[FileSystem, int]], str | None]:
        """File systems with their number of mount targets, one page, and the next marker."""
        with self._store.read() as records:
            if file_system is not None:
                found = [file_system_named(records, account, region, file_system)]
                if creation_token is not None and found[0].spec.creation_token != creation_token:
                    found = []
            elif creation_token is not None:
                one = records.file_system_by_token(account, region, creation_token)
                found = [] if one is None else [one]
            else:
                found = records.file_systems(account, region)
            chosen, following = page(found, lambda fs: fs.file_system_id, marker, max_items)
            counted = [(fs, len(records.mount_targets_of(fs.file_system_id))) for fs in chosen]
        return counted, following

    def delete(self, account: str, region: str, file_system: str) -> None:
        """Deletes the file system, its access points and its data. The directory is moved
        aside before the commit and removed after it; a failed commit moves it back."""
        retired: str | None = None
        try:
            with self._store.write() as records:
                fs = file_system_named(records, account, region, file_system)
                if records.mount_targets_of(fs.file_system_id):
                    raise FileSystemInUse(fs.file_system_id)
                records.delete_file_system(fs.file_system_id)
                retired = fs.file_system_id
                self._trees.retire(retired)
        except BaseException:
            if retired is not None:
                self._trees.restore(retired)
            raise
        self._trees.purge(fs.file_system_id)

    # policies -------------------------------------------------------------------------------

    def put_policy(
        self,
        account: str,
        region: str,
        file_system: str,
        policy: str,
        bypass_lockout_check: bool = False,
    ) -> FileSystem:
        """Sets the file system's policy; the caller is the account's root user (gureum has
        no IAM users yet)."""
        checked = checked_policy(policy)
        with self._store.write() as records:
            fs = file_system_named(records, account, region, file_system)
            fs.require_available(self._clock.now())
            if not bypass_lockout_check:
                fs_arn = resources.arn(region, account, Kind.FILE_SYSTEM, fs.file_system_id)
                check_lockout(checked, fs_arn, f"arn:aws:iam::{account}:root")
            updated = fs.with_policy(policy)
            records.put_file_system(updated)
            return updated

    def policy(self, account: str, region: str, file_system: str) -> tuple[FileSystem, str]:
        fs = self.get(account, region, file_system)
        if fs.policy is None:
            raise NoPolicy(fs.file_system_id)
        return fs, fs.policy

    def delete_policy(self, account: str, region: str, file_system: str) -> None:
        with self._store.write() as records:
            fs = file_system_named(records, account, region, file_system)
            fs.require_available(self._clock.now())
            records.put_file_system(fs.with_policy(None))

    def client_access(
        self,
        account: str,
        region: str,
        file_system_id: str,
        principal_arn: str,
        access_point_arn: str | None,
        identity: Sequence[Policy] | None = None,
    ) -> ClientAccess:
        """What `principal_arn` may do through a mount (through `access_point_arn`, if one) of
        the file system: mount, write, act as root. No policy: AWS's default (everything, to
        any principal). `identity`: the principal's identity policies, when IAM is enforced."""
        fs = self.get(account, region, file_system_id)
        fs_arn = resources.arn(region, account, Kind.FILE_SYSTEM, fs.file_system_id)
        return client_access(fs.policy, fs_arn, principal_arn, access_point_arn, identity=identity)

    # tags, of file systems and access points -------------------------------------------------

    def tags(self, account: str, region: str, resource: str) -> Mapping[str, str]:
        with self._store.read() as records:
            return self._tagged(records, account, region, resource)[1]

    def tag(self, account: str, region: str, resource: str, tags: Mapping[str, str]) -> None:
        with self._store.write() as records:
            ref, current = self._tagged(records, account, region, resource)
            self._retag(records, account, region, ref, with_tags(current, tags))

    def untag(self, account: str, region: str, resource: str, keys: Sequence[str]) -> None:
        with self._store.write() as records:
            ref, current = self._tagged(records, account, region, resource)
            self._retag(records, account, region, ref, without_tags(current, keys))

    def _tagged(
        self, records: Records, account: str, region: str, resource: str
    ) -> tuple[ResourceRef, Mapping[str, str]]:
        ref = resources.resolve(resource, account, region)
        if ref.kind is Kind.FILE_SYSTEM:
            return ref, file_system_in(records, account, region, ref.resource_id).tags
        point = records.access_point(account, region, ref.resource_id)
        if point is None:
            raise AccessPointNotFound(ref.resource_id)
        return ref, point.tags

    def _retag(
        self,
        records: Records,
        account: str,
        region: str,
        ref: ResourceRef,
        tags: Mapping[str, str],
    ) -> None:
        if ref.kind is Kind.FILE_SYSTEM:
            fs = file_system_in(records, account, region, ref.resource_id)
            records.put_file_system(fs.with_tags(tags))
        else:
            point = records.access_point(account, region, ref.resource_id)
            assert point is not None  # read in this same transaction
            records.put_access_point(point.with_tags(tags))
