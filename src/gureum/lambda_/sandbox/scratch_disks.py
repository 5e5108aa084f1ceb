"""A disk of a given size for one environment's `/tmp`: an ext4 image on a loop device.

AWS gives each environment `EphemeralStorage` of local disk at `/tmp` (512-10,240 MB, spec 7.4);
a tmpfs would be memory, charged to the function's memory cgroup, so a 128 MB function writing
200 MB would be killed where AWS lets it finish. A file system of its own enforces the size the
way AWS's does (a write past it fails with ENOSPC) and is gone at once when its image is.

What one disk costs (measured on an ext4 host, 2 cores): a sparse image, `mke2fs` without a
journal (a scratch space needs no crash consistency: it never outlives the server), a loop device
and a mount take 4-7 ms and 128-250 KB of real disk, from 512 MB to 10,240 MB; tearing one down
takes 1.5-3 ms. mke2fs runs once per size: later disks copy what it wrote (`_format`), which
leaves the loop device and the mount, about 1.5 ms. The pool in `scratch.py` keeps even that off
the cold-start path.

Choices and why:
- The loop device reads and writes its image with direct I/O, so the image's pages are not cached
  a second time on the host (writing 200 MB took 0.22 s instead of 0.58 s).
- It clears itself (LO_FLAGS_AUTOCLEAR) when its file system is finally unmounted, so tearing a
  disk down is a lazy unmount and an unlink: no step can block on a busy device, and the space
  comes back as soon as the last environment process holding the mount is gone.
- The image is a little larger than `size_mb`: ext4 keeps its inode tables (1/64 of the disk at
  the default inode ratio) and a reserve of 2% (at most 16 MB) for itself, and the function must
  be able to write the whole `EphemeralStorage` it was given.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import math
import os
import random
import shutil
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

MS_NOSUID, MS_NODEV, MNT_DETACH = 2, 4, 2
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC = 1, 0o2000000
SYS_OPEN_TREE = 428  # the same on every architecture (Linux 5.2)
AT_FDCWD = -100
LOOP_CTL_GET_FREE, LOOP_CONFIGURE = 0x4C82, 0x4C0A
LO_FLAGS_AUTOCLEAR, LO_FLAGS_DIRECT_IO = 4, 16
# struct loop_config: fd, block_size, struct loop_info64, __reserved[8] (linux/loop.h).
LOOP_CONFIG = struct.Struct("=II5Q4I64s64s32s2Q8Q")
MEGABYTE = 1024 * 1024
# Binding a loop device that another environment's disk took first is tried again this many
# times (a thousand environments started at once made 16 too few on a fresh host), after a
# random pause of up to ATTACH_PAUSE seconds times the attempt (at most 8 times).
ATTACH_ATTEMPTS = 64
ATTACH_PAUSE = 0.002
# No journal (see above); no room to grow (the size is fixed); no root reserve (the function is
# not root); inode tables left as the sparse image's zeroes (nothing to write at mkfs or mount).
MKFS_OPTIONS = ("-O", "^has_journal,^resize_inode", "-m", "0", "-E", "lazy_itable_init=1,nodiscard")
MOUNT_OPTIONS = b"noinit_itable"

_libc = ctypes.CDLL(None, use_errno=True)


class ScratchDiskError(OSError):
    pass


def image_megabytes(size_mb: int) -> int:
    """The image size that leaves `size_mb` writable: inode tables and ext4's own reserve added."""
    inode_tables = math.ceil(size_mb / 60)
    reserve = min(math.ceil(size_mb / 50), 16)
    return size_mb + inode_tables + reserve + 2


def unavailable_reason() -> str | None:
    """Why this machine cannot make scratch disks, or None when it can."""
    if os.geteuid() != 0:
        return "gureum is not running as root"
    if shutil.which("mke2fs") is None:
        return "mke2fs (e2fsprogs) is not installed"
    if not os.path.exists("/dev/loop-control"):
        return "there is no /dev/loop-control (no loop devices in this container)"
    return None


def make_disk(image: Path, mountpoint: Path, size_mb: int) -> None:
    """Creates `image`, formats it and mounts it on `mountpoint` (created, mode 1777)."""
    fd = os.open(image, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.ftruncate(fd, image_megabytes(size_mb) * MEGABYTE)
        _format(fd, image, size_mb)
        mountpoint.mkdir(mode=0o700)
        device, loop_fd = _attach(fd, image)
        try:
            _mount(device, mountpoint)
        finally:
            # From here the mount holds the device; an unmounted one clears itself on this close.
            os.close(loop_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            mountpoint.rmdir()
        image.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def destroy_disk(image: Path, mountpoint: Path) -> None:
    """Lazily unmounts and deletes; the loop device and the space go with the last user."""
    unmount(mountpoint)
    with contextlib.suppress(OSError):
        mountpoint.rmdir()
    image.unlink(missing_ok=True)


def unmount(path: Path) -> None:
    """Detaches whatever is mounted on `path` (nothing, harmlessly, when nothing is)."""
    _libc.umount2(os.fsencode(path), MNT_DETACH)


def detached_copy(path: Path) -> int:
    """A copy of the mount at `path` (or a bind of the directory there), attached nowhere, as a
    descriptor: an environment attaches it as its /tmp with move_mount in a namespace of its
    own, which need not hold the server's mounts (guest/zygote.py, `mount_tmp`)."""
    flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC
    fd = int(_libc.syscall(SYS_OPEN_TREE, AT_FDCWD, os.fsencode(path), flags))
    if fd < 0:
        number = ctypes.get_errno()
        raise OSError(number, f"open_tree {path}: {os.strerror(number)}")
    return fd


def _format(fd: int, image: Path, size_mb: int) -> None:
    """Writes an empty file system into `image` (open as `fd`, sparse, of its full size): a copy
    of the blocks mke2fs wrote into an empty image of this size, made once beside it.

    mke2fs costs a process and 3-4 ms of CPU; copying the 60 KB or so it writes costs 0.1 ms.
    Every disk of a size then has the same file system UUID and directory hash seed, which
    nothing relies on: the disks are never mounted by UUID, and each is one environment's.
    """
    empty = image.with_name(f"empty-{size_mb}.ext4")
    if not empty.exists():
        staging = image.with_name(f".staging-{image.name}")
        try:
            with staging.open("wb") as made:
                made.truncate(image_megabytes(size_mb) * MEGABYTE)
            command = ["mke2fs", "-t", "ext4", "-q", "-F", *MKFS_OPTIONS, str(staging)]
            result = subprocess.run(command, capture_output=True, check=False)
            if result.returncode != 0:
                message = result.stderr.decode(errors="replace").strip()
                raise ScratchDiskError(errno.EIO, f"mke2fs {staging}: {message}")
            _root_as_tmp(staging)
            staging.replace(empty)  # whole or not at all: two makers at once both rename
        finally:
            staging.unlink(missing_ok=True)
    source = os.open(empty, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _copy_written(source, fd)
    finally:
        os.close(source)


def _root_as_tmp(image: Path) -> None:
    """Makes the root of the file system in `image` what an environment's /tmp starts as, as
    AWS's: empty (mke2fs makes a lost+found) and world-writable with the sticky bit. Done once,
    in the empty image every disk copies: removing lost+found took 0.6 ms of each disk's 2."""
    mountpoint = image.with_name(image.name + ".root")
    mountpoint.mkdir(mode=0o700)
    fd = os.open(image, os.O_RDWR | os.O_CLOEXEC)
    try:
        device, loop_fd = _attach(fd, image)
        try:
            _mount(device, mountpoint)
        finally:
            os.close(loop_fd)
        try:
            (mountpoint / "lost+found").rmdir()
            mountpoint.chmod(0o1777)
        finally:
            # Not lazily: every block is back in the image before anything copies it.
            if _libc.umount2(os.fsencode(mountpoint), 0) != 0:
                number = ctypes.get_errno()
                raise ScratchDiskError(number, f"umount {mountpoint}: {os.strerror(number)}")
    finally:
        os.close(fd)
        mountpoint.rmdir()


def data_extents(fd: int) -> Iterator[tuple[int, int]]:
    """The (start, stop) offsets of the parts of the file `fd` that hold data: its holes
    (which read as zeros) are left out."""
    end, offset = os.fstat(fd).st_size, 0
    while offset < end:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no data past `offset`
                return
            raise
        stop = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, stop
        offset = stop


def _copy_written(source: int, target: int) -> None:
    """Copies the parts of `source` that hold data to the same offsets of `target`, leaving
    its holes as holes."""
    for start, stop in data_extents(source):
        at = start
        while at < stop:
            copied = os.copy_file_range(source, target, stop - at, at, at)
            if copied == 0:
                raise ScratchDiskError(errno.EIO, "the empty file system image is short")
            at += copied


def _attach(fd: int, image: Path) -> tuple[str, int]:
    """Binds `fd` to a free loop device; returns the device's path and an open handle on it.

    The handle must stay open until the device is mounted: an auto-clearing device is cleared
    as soon as nobody holds it.
    """
    config = LOOP_CONFIG.pack(
        fd,
        0,
        *(0, 0, 0, 0, 0, 0, 0, 0),
        LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO,
        os.fsencode(image)[-63:],
        b"",
        b"",
        *(0, 0),
        *([0] * 8),
    )
    control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    try:
        for attempt in range(ATTACH_ATTEMPTS):
            number = fcntl.ioctl(control, LOOP_CTL_GET_FREE)
            device = f"/dev/loop{number}"
            loop_fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
            try:
                fcntl.ioctl(loop_fd, LOOP_CONFIGURE, config)
                return device, loop_fd
            except OSError as exc:
                os.close(loop_fd)
                if exc.errno != errno.EBUSY:
                    raise
            # EBUSY: another thread (or process) bound the device GET_FREE named to us both.
            # Every contender is named the same one again, so all but one lose each round:
            # a pause of its own, growing, lets them come apart.
            time.sleep(random.uniform(0, ATTACH_PAUSE * min(attempt + 1, 8)))
    finally:
        os.close(control)
    raise ScratchDiskError(errno.EBUSY, "no free loop device")


def _mount(device: str, mountpoint: Path) -> None:
    flags = ctypes.c_ulong(MS_NOSUID | MS_NODEV)
    target = os.fsencode(mountpoint)
    if _libc.mount(device.encode(), target, b"ext4", flags, MOUNT_OPTIONS) != 0:
        number = ctypes.get_errno()
        raise ScratchDiskError(number, f"mount {device} on {mountpoint}: {os.strerror(number)}")
