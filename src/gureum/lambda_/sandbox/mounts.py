"""An environment's EFS mounts as its sandbox makes them (spec 7.1), and what their failure in the
sandbox means to Lambda (spec 7.2).

Each access point with a POSIX user is mounted through an id map (`domain.file_systems`), whose
user namespace the id-map keeper (`id_maps.py`) makes: asked as a spawn begins, answered as the
sandbox's spec is written, so the keeper works while the sandbox is taken and its network and
Runtime API are set up.
"""

from __future__ import annotations

from collections.abc import Sequence

from gureum.aws.errors import ClientError
from gureum.lambda_.domain.file_systems import Extent, Mount, io_failed, mount_refused
from gureum.lambda_.sandbox.id_maps import IdMaps

# The sandbox's exit status when an EFS mount failed in it (guest/zygote.py's MOUNT_FAILED).
MOUNT_FAILED = 125


class EnvironmentMounts:
    """The mounts of one environment (uid `uid`); not thread-safe (its environment's loop)."""

    def __init__(self, mounts: Sequence[Mount], uid: int, id_maps: IdMaps | None) -> None:
        self._mounts = mounts
        self._uid = uid
        self._id_maps = id_maps
        self._asked: dict[int, tuple[int, int] | None] = {}

    def ask(self) -> None:
        """Asks the keeper for each id-mapped mount's user namespace (once per spawn)."""
        if self._id_maps is None:
            return
        for index, mount in enumerate(self._mounts):
            if mount.uid is not None and mount.gid is not None and index not in self._asked:
                uids, gids = mount.uid_map(self._uid), mount.gid_map(self._uid)
                self._asked[index] = self._id_maps.ask(uids, gids)

    def groups(self) -> list[int]:
        """The supplementary groups the environment holds: the host gids its mounts show the
        access points' secondary gids as."""
        return sorted(
            {g for m in self._mounts if m.uid is not None for g in m.supplementary_gids()}
        )

    def spec(self) -> list[dict[str, object]]:
        """Each mount as the sandbox makes it (guest/file_systems.py)."""
        return [self._spec(index, mount) for index, mount in enumerate(self._mounts)]

    def _spec(self, index: int, mount: Mount) -> dict[str, object]:
        userns = None
        uid_map: tuple[Extent, ...] = ()
        gid_map: tuple[Extent, ...] = ()
        if mount.uid is not None and mount.gid is not None:
            uid_map, gid_map = mount.uid_map(self._uid), mount.gid_map(self._uid)
            if self._id_maps is not None:
                ticket = self._asked.pop(index, None)
                if ticket is None:
                    ticket = self._id_maps.ask(uid_map, gid_map)
                userns = self._id_maps.answer(ticket)
        return {
            "source": mount.source,
            "target": mount.target,
            "uid": mount.uid,
            "gid": mount.gid,
            "uid_map": [list(extent) for extent in uid_map],
            "gid_map": [list(extent) for extent in gid_map],
            "writable": mount.writable,
            "userns": userns,
        }

    def failure(self, exit_code: int | None, *, restarted: bool) -> ClientError | None:
        """Lambda's error when the sandbox could not mount a file system (its setup ended with
        MOUNT_FAILED): EFSMountFailure for a new environment, EFSIOException for one whose
        runtime was restarting (its file system went away under it). A runtime that itself
        exits with that status before it is ready reads the same."""
        if exit_code != MOUNT_FAILED or not self._mounts:
            return None
        if restarted:
            return io_failed()
        return mount_refused(self._mounts[0].access_point_arn)
