"""Putting a verified file in place: renamed from staging, or linked or copied from the cache.

``hardlink`` (the default) shares the cache's inode: no bytes are written, but the
installed file *is* the cache's file, so editing it in place changes the cache entry too
(``unpacked_cache`` notices a changed size or mtime before the next use and rebuilds it;
an edit that restores both is not noticed).
``reflink`` clones the blocks (``FICLONE``: btrfs, XFS, bcachefs): a separate file that
shares storage until written. ``copy`` writes separate bytes. Whatever a mode cannot do
(another file system, no reflinks, a link limit) falls back to a copy. New files are
created with ``O_EXCL | O_NOFOLLOW``: nothing is written through a planted link.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from typing import Literal

LinkMode = Literal["hardlink", "reflink", "copy"]
LINK_MODES: tuple[LinkMode, ...] = ("hardlink", "reflink", "copy")
FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# errors meaning "this mode cannot be used here", not "this file cannot be written"
_UNSUPPORTED = frozenset(
    {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EINVAL,
     errno.ENOSYS, errno.ENOTTY, errno.EACCES}
)  # fmt: skip


class Placer:
    """Puts files in place in one mode, remembering when it had to fall back to copying."""

    def __init__(self, mode: LinkMode) -> None:
        self.mode = mode
        self.linked = 0
        self.copied = 0
        self._can_link = mode == "hardlink"
        self._can_clone = mode == "reflink"

    def move(self, source: Path | str, dest: Path | str) -> None:
        """Rename a staged file into place (a copy when it crosses file systems)."""
        try:
            os.rename(source, dest)  # noqa: PTH104  (strings: one per installed file)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            copy(source, dest)

    def place(self, source: Path | str, dest: Path | str) -> None:
        """Link, clone or copy a cached file to ``dest`` (which must not exist)."""
        if self._can_link:
            try:
                os.link(source, dest, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in _UNSUPPORTED:
                    raise
                self._can_link = False  # e.g. the cache is on another file system
            else:
                self.linked += 1
                return
        if self._can_clone:
            if clone(source, dest):
                self.linked += 1
                return
            self._can_clone = False
        copy(source, dest)
        self.copied += 1


def clone(source: Path | str, dest: Path | str) -> bool:
    """Reflink ``source`` to the new file ``dest``; False (nothing left behind) where the
    file system cannot."""
    src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fd = os.open(dest, _CREATE, 0o600)
        try:
            fcntl.ioctl(fd, FICLONE, src)
            os.fchmod(fd, os.fstat(src).st_mode & 0o7777)
        except OSError as exc:
            os.close(fd)
            os.unlink(dest)  # noqa: PTH108
            if exc.errno in _UNSUPPORTED:
                return False
            raise
        os.close(fd)
    finally:
        os.close(src)
    return True


def copy(source: Path | str, dest: Path | str) -> None:
    """Copy ``source``'s bytes and mode to the new file ``dest`` (in the kernel where it can)."""
    src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        mode = os.fstat(src).st_mode & 0o7777
        fd = os.open(dest, _CREATE, 0o600)
        try:
            while True:
                try:
                    done = os.copy_file_range(src, fd, 1 << 30)
                except OSError as exc:
                    if exc.errno not in _UNSUPPORTED | {errno.EBADF}:
                        raise
                    _copy_bytes(src, fd)
                    break
                if not done:
                    break
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
    finally:
        os.close(src)


def _copy_bytes(src: int, dst: int) -> None:
    while chunk := os.read(src, 1 << 20):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view) :]


LINK_MODE_HELP = (
    "how files come from the cache of unpacked wheels: hardlink (shares the cached file; "
    "an edit in place that changes size or mtime is detected and the entry rebuilt), "
    "reflink (a copy-on-write clone where the file system has them), copy; "
    "each falls back to copying where it cannot "
    "(default: %(default)s)"
)


def cache_dir(cache_dir: Path | None, no_cache: bool) -> Path | None:
    """Where unpacked wheels are cached (``unpacked_cache``): ``unpacked`` in
    ``--cache-dir`` or the user cache (beside ``http``); None with ``--no-cache``."""
    if no_cache:
        return None
    if cache_dir is not None:
        return cache_dir / "unpacked"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("wheelnext")) / "unpacked"
