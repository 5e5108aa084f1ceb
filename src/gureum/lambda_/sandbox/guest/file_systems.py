"""EFS file systems mounted into a sandbox: an access point's root directory, shown at its
LocalMountPath through an id-mapped bind mount. Runs in the sandbox's first process, as root,
before pivot_root; imports nothing of gureum (the zygote's interpreter may be any Python).

Why id-mapped: every file operation through an access point is made as its PosixUser (spec 7.1),
while the environment keeps its own leased uid (the Runtime API tells environments apart by it).
A mount whose id map shows PosixUser's uid and gid on disk as the environment's uid and gid does
both: files the function creates are stored as PosixUser's, permissions are checked as if it
were PosixUser, and the data is the file system's own directory, shared by every environment and
function at once (no copy).

Cost, measured on this machine (Linux 6.18, ext4, two busy cores): made here, the user namespace
needs a fork of this process (a runtime's worth of page tables): 3 to 5 ms. So the server's
id-map keeper (`id_maps.py`) makes it in a small process, from a child forked ahead, and this
process opens it by path: 0.5 ms here for the mount, 1 to 2 ms in the server for the keeper's
answer. Making it here remains the fallback when the keeper cannot.

Why rooted: a bind mount of the root directory is all the sandbox has of the file system. `..`
at the mount's root stays there, and symbolic links resolve inside the sandbox's own root after
pivot_root, never on the host.
"""

from __future__ import annotations

import ctypes
import os
import struct
from typing import Any

_libc = ctypes.CDLL(None, use_errno=True)

# The mount API's system calls have one number on every architecture (they came after the
# tables were unified): x86_64 and aarch64 alike.
SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_OPENAT2, SYS_MOUNT_SETATTR = 428, 429, 437, 442
RESOLVE_NO_SYMLINKS = 0x04
AT_FDCWD, AT_EMPTY_PATH = -100, 0x1000
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC = 1, os.O_CLOEXEC
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV = 0x1, 0x2, 0x4
MOUNT_ATTR_IDMAP = 0x100000
MOUNT_ATTR_SIZE = 32  # struct mount_attr: attr_set, attr_clr, propagation, userns_fd (u64 each)
CLONE_NEWUSER = 0x10000000


def _checked(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def _lines(extents: list[Any]) -> str:
    return "".join(f"{inside} {outside} {count}\n" for inside, outside, count in extents)


def id_map(uid_map: str, gid_map: str) -> int:
    """A descriptor of a new user namespace with these maps ("inside outside count" lines).

    A forked child makes the namespace (a process cannot write its own map beyond itself); the
    parent, root on the host, writes the maps through the host's /proc, which is still this
    process's /proc before pivot_root: the child names its host pid there (/proc/self).
    """
    ready_read, ready_write = os.pipe()
    done_read, done_write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(ready_read)
        os.close(done_write)
        made = _libc.unshare(CLONE_NEWUSER) == 0
        os.write(ready_write, os.readlink("/proc/self").encode() if made else b"")
        os.read(done_read, 1)
        os._exit(0)
    os.close(ready_write)
    os.close(done_read)
    try:
        host_pid = os.read(ready_read, 32).decode()
        if not host_pid:
            raise OSError("cannot make a user namespace for an id-mapped mount")
        with open(f"/proc/{host_pid}/uid_map", "w") as uids:
            uids.write(uid_map)
        with open(f"/proc/{host_pid}/gid_map", "w") as gids:
            gids.write(gid_map)
        return os.open(f"/proc/{host_pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(done_write)
        os.close(ready_read)
        os.waitpid(child, 0)


def mount_file_system(root: str, mount: dict[str, Any], uid: int, gid: int) -> None:
    """Mounts one access point root (`mount`: source, target, uid, gid, writable) at its path
    under `root`, as the environment (`uid`, `gid`) sees it."""
    target = root + mount["target"]
    os.makedirs(target, exist_ok=True)
    # The source is the directory EFS resolved and checked; it is opened refusing any symbolic
    # link on its way, so that one swapped in since (by a function writing through another
    # access point, say) fails the mount instead of pointing it elsewhere.
    how = ctypes.create_string_buffer(
        struct.pack("QQQ", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS)
    )
    source = _checked(
        _libc.syscall(SYS_OPENAT2, AT_FDCWD, mount["source"].encode(), how, 24),
        "open " + mount["source"],
    )
    try:
        tree = _checked(
            _libc.syscall(
                SYS_OPEN_TREE, source, b"", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH
            ),
            "open_tree " + mount["source"],
        )
    finally:
        os.close(source)
    namespace = -1
    try:
        attributes = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
        if not mount["writable"]:  # no ClientWrite: writes fail with EROFS
            attributes |= MOUNT_ATTR_RDONLY
        if mount.get("userns"):  # made and held by the server's id-map keeper
            namespace = os.open(mount["userns"], os.O_RDONLY | os.O_CLOEXEC)
            attributes |= MOUNT_ATTR_IDMAP
        elif mount["uid"] is not None:
            uids = mount.get("uid_map") or [(mount["uid"], uid, 1)]
            gids = mount.get("gid_map") or [(mount["gid"], gid, 1)]
            namespace = id_map(_lines(uids), _lines(gids))
            attributes |= MOUNT_ATTR_IDMAP
        settings = ctypes.create_string_buffer(
            struct.pack("QQQQ", attributes, 0, 0, max(namespace, 0))
        )
        _checked(
            _libc.syscall(SYS_MOUNT_SETATTR, tree, b"", AT_EMPTY_PATH, settings, MOUNT_ATTR_SIZE),
            "mount_setattr " + mount["target"],
        )
        _checked(
            _libc.syscall(
                SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH
            ),
            "move_mount " + mount["target"],
        )
    finally:
        os.close(tree)
        if namespace >= 0:
            os.close(namespace)
