"""A cache of unpacked, verified wheels, keyed by the wheel's sha256, to link from.

An entry is ``{root}/{sha256}/`` holding ``tree/`` (the members, stored flat by number,
each checked against RECORD as it was written: ``staging.unpack``) and ``MANIFEST`` (each
member's name, sha256, size, mode, inode and mtime, in archive order). It is built in a
temporary directory inside the cache, ``MANIFEST`` written last, then renamed into place:
an entry is whole or absent. An entry without a readable ``MANIFEST`` (half-built,
damaged) is removed and built again; so is one whose files no longer match their recorded
size, mode, inode or mtime (a cheap ``stat`` per file, made before anything is linked).

Installed files are hard links to the entry's files by default (``linking``): a file
edited in place in an environment changes the cache entry too. That edit changes its
mtime, so the entry is rebuilt before it is used again; the environment where it was
edited keeps its edit (as with uv). ``--link-mode copy`` gives every environment its own
bytes. The wheel file is only read, never moved or changed (it may be the download
cache's own file, or the user's).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from wheelnext.installer.archive import ArchiveInfo
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.staging import Unpacked, unpack

LOG = logging.getLogger("wheelnext.installer")
FORMAT = 1
MANIFEST = "MANIFEST"
TREE = "tree"
BUILDING = ".build-"
STALE_BUILD_S = 3600  # a temporary build older than this was left by a killed wn
MAX_MANIFEST = 64 * 1024 * 1024


def wheel_sha256(wheel: Path) -> str:
    """The wheel file's sha256 (hex), read in chunks."""
    digest = hashlib.sha256()
    with wheel.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class UnpackedCache:
    """The unpacked-wheel cache under ``root`` (created on first use)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def entry(self, key: str) -> Path:
        return self.root / key

    def get(self, wheel: Path, info: ArchiveInfo, members: frozenset[str]) -> Unpacked | None:
        """The verified tree for ``wheel``, built if missing or damaged; None when the
        cache cannot be used here (then the caller unpacks into staging)."""
        key = wheel_sha256(wheel)
        entry = self.entry(key)
        found = self._load(entry, info, members)
        if found is not None:
            return found
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._sweep()
            build = Path(tempfile.mkdtemp(prefix=BUILDING, dir=self.root))
        except OSError as exc:
            LOG.warning("%s: cache not usable (%s); unpacking without it", self.root, exc)
            return None
        try:
            unpacked = unpack(wheel, info, build / TREE)
            _write_manifest(build, unpacked)
            if os.path.lexists(entry):  # damaged or half-built: replaced
                _discard(entry)
            try:
                build.rename(entry)
            except OSError as exc:  # another wn placed it first: use theirs if whole
                theirs = self._load(entry, info, members)
                if theirs is None:
                    reason = exc.strerror or exc
                    raise InstallerError(
                        f"{entry}: cannot add it to the cache ({reason})"
                    ) from None
                shutil.rmtree(build, ignore_errors=True)
                return theirs
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        return Unpacked(entry / TREE, unpacked.files, cached=True)

    def _load(self, entry: Path, info: ArchiveInfo, members: frozenset[str]) -> Unpacked | None:
        """The entry's tree if its manifest is whole and every file still matches it."""
        manifest = entry / MANIFEST
        try:
            if manifest.stat().st_size > MAX_MANIFEST:
                raise ValueError("manifest too large")
            doc = json.loads(manifest.read_bytes())
        except FileNotFoundError:
            if os.path.lexists(entry):
                LOG.info("%s: half-built cache entry; building it again", entry)
            return None
        except (OSError, ValueError) as exc:
            LOG.warning("%s: damaged cache entry (%s); building it again", entry, exc)
            return None
        files = _checked(doc, entry / TREE, info, members)
        if files is None:
            LOG.warning("%s: cache entry changed since it was made; building it again", entry)
        return None if files is None else Unpacked(entry / TREE, files, cached=True)

    def _sweep(self) -> None:
        """Remove temporary builds a killed ``wn`` left behind (old ones only: a build
        in progress elsewhere is young)."""
        limit = time.time() - STALE_BUILD_S
        with os.scandir(self.root) as found:
            for item in found:
                if (
                    item.name.startswith(BUILDING)
                    and item.stat(follow_symlinks=False).st_mtime < limit
                ):
                    _discard(Path(item.path))


def _discard(path: Path) -> None:
    """Remove a cache entry: renamed aside first, so it vanishes at once."""
    aside = path.with_name(f"{BUILDING}old-{os.getpid()}-{path.name}")
    with contextlib.suppress(FileNotFoundError):
        if path.is_symlink() or not path.is_dir():
            path.unlink()
            return
        path.rename(aside)
        shutil.rmtree(aside, ignore_errors=True)


def _write_manifest(build: Path, unpacked: Unpacked) -> None:
    """Record each file's hash, size and identity; written last, after the files."""
    files: list[list[Any]] = []
    for index, (member, (digest, size)) in enumerate(unpacked.files.items()):
        st = os.lstat(unpacked.path(index))
        files.append([member, digest, size, st.st_mode, st.st_ino, st.st_mtime_ns])
    data = json.dumps({"format": FORMAT, "files": files}, separators=(",", ":")).encode()
    fd = os.open(build / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _checked(
    doc: Any, tree: Path, info: ArchiveInfo, members: frozenset[str]
) -> dict[str, tuple[str, int]] | None:
    """The manifest's files in archive order, if it lists exactly ``members``, agrees with
    RECORD's sha256 claims and every file is unchanged (one ``lstat`` each); else None."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return None
    listed = doc.get("files")
    if not isinstance(listed, list) or len(listed) != len(members):
        return None
    files: dict[str, tuple[str, int]] = {}
    for index, row in enumerate(listed):
        if not (
            isinstance(row, list)
            and len(row) == 6
            and isinstance(row[0], str)
            and isinstance(row[1], str)
            and all(isinstance(x, int) and not isinstance(x, bool) for x in row[2:])
        ):
            return None
        member, digest, size, mode, inode, mtime = row
        if member not in members or member in files:
            return None
        claim = info.record.get(member)
        if (
            claim is not None
            and claim[0].startswith("sha256=")
            and claim
            != (
                f"sha256={digest}",
                size,
            )
        ):
            return None
        try:
            st = os.lstat(f"{tree}/{index}")
        except OSError:
            return None
        if not (
            stat.S_ISREG(st.st_mode)
            and (st.st_size, st.st_mode, st.st_ino, st.st_mtime_ns) == (size, mode, inode, mtime)
        ):
            return None
        files[member] = (digest, size)
    return files
