"""Each file system's data: a directory tree under `<shared>/efs/<fs-id>/` (the shared
directory, which is the data directory unless `--shared-dir` names the one every host of a
cluster mounts), made with the file system and removed with it, and the access points' root
directories inside it.

An access point's root is reached by walking its path one component at a time from the file
system's directory with `openat(..., O_NOFOLLOW | O_DIRECTORY)`: a component that is a symbolic
link (relative, absolute, or swapped in between two steps) fails the walk instead of being
followed, so no root can lead outside the file system's tree. What the walk ends on is held as a
file descriptor, and its path is checked once more against the tree it must stay in.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from gureum.efs.domain.access_points import RootDirectory
from gureum.efs.domain.errors import MountRefused

# The prefix of a deleted file system's directory until it is removed.
_RETIRED = ".deleted-"
_WALK = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class FileSystemTrees:
    """The directories of every file system, under one root (`<shared>/efs`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        # Resolved once: every mount checks its root against it (a realpath per cold start
        # was a tenth of a millisecond).
        self._real = root.resolve()

    def path_of(self, file_system_id: str) -> Path:
        return self.root / file_system_id

    def create(self, file_system_id: str) -> None:
        # 0755 root:root, as a new EFS file system's root directory is.
        path = self.path_of(file_system_id)
        path.mkdir(mode=0o755, exist_ok=True)
        os.chmod(path, 0o755)

    def remove(self, file_system_id: str) -> None:
        shutil.rmtree(self.path_of(file_system_id), ignore_errors=True)

    def retire(self, file_system_id: str) -> Path:
        """Moves the file system's directory aside (one rename) before the deletion of its row
        commits: a crash after the commit leaves a directory marked for removal, never one
        that looks alive; a crash before it is undone by `sweep`."""
        retired = self.root / f"{_RETIRED}{file_system_id}"
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.path_of(file_system_id), retired)
        return retired

    def restore(self, file_system_id: str) -> None:
        """Undoes `retire` (the delete did not commit)."""
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.root / f"{_RETIRED}{file_system_id}", self.path_of(file_system_id))

    def purge(self, file_system_id: str) -> None:
        shutil.rmtree(self.root / f"{_RETIRED}{file_system_id}", ignore_errors=True)

    def sweep(self, known: set[str]) -> tuple[set[str], set[str]]:
        """Tidies what no file system owns: a retired directory whose file system still exists
        (killed before the delete committed) is put back, and empty directories of unknown ids
        (a create that crashed before its commit) are removed. Returns the directories with
        data and no file system, left alone for the log (losing the database must never cost
        the data), and the ids whose retired directories are to `purge` (a delete that
        committed and crashed before removing its data): quick renames and rmdirs here, the
        long removals for the caller to run once it no longer holds the store."""
        kept: set[str] = set()
        retired: set[str] = set()
        for entry in os.scandir(self.root):
            if entry.name.startswith(_RETIRED):
                owner = entry.name.removeprefix(_RETIRED)
                if owner in known:
                    self.restore(owner)
                else:
                    retired.add(owner)
            elif entry.name.startswith("fs-") and entry.name not in known:
                try:
                    os.rmdir(entry.path)  # only if empty
                except OSError:
                    kept.add(entry.name)
        return kept, retired

    def open_root(self, file_system_id: str, root: RootDirectory) -> int:
        """A descriptor of the access point's root directory, made with its CreationInfo when
        missing; `MountRefused` when it is missing without CreationInfo, is not a directory,
        or a component of its path is a symbolic link."""
        try:
            fd = os.open(self.path_of(file_system_id), _WALK)
        except OSError:
            raise MountRefused(f"The file system {file_system_id} has no data.") from None
        for name in root.components:
            fd = self._step(fd, name, root)  # closes the parent, even when it raises
        return fd

    def _step(self, parent: int, name: str, root: RootDirectory) -> int:
        """Opens `name` under `parent` (closing `parent`), creating it with the root's
        CreationInfo when missing (every missing component of the path, as EFS does)."""
        path = root.path
        try:
            try:
                return os.open(name, _WALK, dir_fd=parent)
            except FileNotFoundError:
                info = root.creation_info
                if info is None:
                    raise MountRefused(
                        f"The access point's root directory {path} does not exist."
                    ) from None
                try:
                    os.mkdir(name, 0o700, dir_fd=parent)
                except FileExistsError:
                    # Made meanwhile (a concurrent mount): open what is there, as it is.
                    return os.open(name, _WALK, dir_fd=parent)
                fd = os.open(name, _WALK, dir_fd=parent)
                # Owner and mode on the descriptor, never by path: nothing can be swapped in.
                os.fchown(fd, info.owner_uid, info.owner_gid)
                os.fchmod(fd, info.mode)
                return fd
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise MountRefused(
                        f"The access point's root directory {path} is not a directory."
                    ) from None
                raise
        finally:
            os.close(parent)

    def resolved(self, file_system_id: str, fd: int) -> Path:
        """The path of the directory open as `fd`, checked to lie inside the file system."""
        real = Path(os.readlink(f"/proc/self/fd/{fd}"))
        tree = self._real / file_system_id
        if real != tree and tree not in real.parents:
            raise MountRefused("The access point's root directory is outside its file system.")
        return real
