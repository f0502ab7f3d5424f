"""A cache of unpacked, verified wheels, keyed by the wheel's sha256, to link from.

An entry is ``{root}/{sha256}/`` holding ``tree/`` (the members, stored by number in
directories of ``staging.PER_DIR``, each checked against RECORD as it was written:
``staging.unpack``) and ``MANIFEST`` (each
member's name, sha256, size, mode, inode and mtime, in archive order, and what
``archive.inspect_archive`` learnt from the wheel, under its filename: a warm install
takes that from here instead of opening the zip again). It is built in a
temporary directory inside the cache, ``MANIFEST`` written last, then renamed into place:
an entry is whole or absent. An entry without a readable ``MANIFEST`` (half-built,
damaged) is removed and built again; so is one whose files no longer match their recorded
size, mode, inode or mtime (a cheap ``stat`` per file, made before anything is linked).

Building or replacing an entry holds its lock (``.locks/{sha256}.lock``): a wn that finds
an entry missing or damaged waits for it, looks again, and uses what another wn built;
no entry is removed without that lock. An entry, its tree, MANIFEST or a file that is a
symlink, not this user's, or writable by others is not used (built again).

Installed files are hard links to the entry's files by default (``linking``): a file
edited in place in an environment changes the cache entry too. An edit that changes its
size or mtime makes the entry be rebuilt before it is used again; one that restores both
is not noticed (ctime cannot be checked: linking changes it), so ``--link-mode copy`` is
for environments that must not share bytes, and a cache is never shared between users.
The wheel file is only read, never moved or changed (it may be the download cache's own
file, or the user's).
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
import threading
import time
from pathlib import Path
from typing import Any

from wheelnext.installer.archive import ArchiveInfo
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.file_identity import FileIdentity, current_identity, identity
from wheelnext.installer.staging import PER_DIR, Unpacked, member_name, unpack

LOG = logging.getLogger("wheelnext.installer")
FORMAT = 3  # 2: the archive checks' findings (``info``) are kept too; 3: tree in directories
MANIFEST = "MANIFEST"
TREE = "tree"
BUILDING = ".build-"
LOCKS = ".locks"  # one lock file per entry being built: {sha256}.lock
STALE_BUILD_S = 3600  # a temporary build older than this was left by a killed wn
MAX_MANIFEST = 64 * 1024 * 1024


def wheel_sha256(wheel: Path, expect: FileIdentity | None = None) -> str:
    """The wheel file's sha256 (hex), read in chunks; a file that is not ``expect`` (when
    given) or changes while it is read is refused: a cache key must name the very bytes
    later unpacked under it."""
    digest = hashlib.sha256()
    try:
        with wheel.open("rb") as stream:
            before = identity(stream.fileno())
            if expect is not None and before != expect:
                raise InstallerError(f"{wheel.name}: changed while being installed")
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
            if identity(stream.fileno()) != before:
                raise InstallerError(f"{wheel.name}: changed while being installed")
    except OSError as exc:
        raise InstallerError(f"{wheel}: cannot read it ({exc.strerror or exc})") from None
    return digest.hexdigest()


class UnpackedCache:
    """The unpacked-wheel cache under ``root`` (created on first use)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # (wheel, its identity) -> sha256: hashed once per run and per version of the file
        self._keys: dict[tuple[Path, FileIdentity], str] = {}
        self._docs: dict[str, Any] = {}  # sha256 -> its MANIFEST, read once per run
        self._once = threading.Lock()  # for what is done once per run, from any thread
        self._swept = False
        self._unusable = False  # said once; every wheel is then unpacked without it

    def entry(self, key: str) -> Path:
        return self.root / key

    def key(self, wheel: Path, expect: FileIdentity) -> str:
        """The sha256 of ``wheel``, which must still be the file ``expect`` describes
        (else "changed while being installed"); hashed once per run and file identity."""
        key = self._keys.get((wheel, expect))
        if key is None:
            key = self._keys[(wheel, expect)] = wheel_sha256(wheel, expect)
        return key

    def info(self, wheel: Path, expect: FileIdentity | None = None) -> ArchiveInfo | None:
        """What ``inspect_archive`` found in ``wheel`` when its entry was built (same bytes,
        same filename), if the entry has it whole; else None (the caller inspects).
        ``expect``: the file as it was checked (else as it is now)."""
        doc = self._manifest(self.entry(self.key(wheel, expect or current_identity(wheel))))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            return None
        return info_from_json(doc.get("info"), wheel.name)

    def get(
        self,
        wheel: Path,
        info: ArchiveInfo,
        members: frozenset[str],
        expect: FileIdentity | None = None,
        stop: threading.Event | None = None,
    ) -> Unpacked | None:
        """The verified tree for ``wheel``, built if missing or damaged; None when the
        cache cannot be used here (then the caller unpacks into staging). Building and
        replacing an entry hold its lock (``.locks/{sha256}.lock``): a wn that finds it
        missing or damaged waits, looks again and uses a whole entry another wn made.
        ``stop`` set: building stops (``staging.Stopped``), its temporary tree removed."""
        expect = expect or current_identity(wheel)  # what the key is the hash of, and unpacked
        key = self.key(wheel, expect)
        entry = self.entry(key)
        found = self._load(entry, info, members, wheel.name)
        if found is not None or self._unusable:
            return found
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = self._lock(key)
        except OSError as exc:
            self._not_usable(exc)
            return None
        with lock:
            self._docs.pop(entry.name, None)  # another wn may have built it meanwhile
            found = self._load(entry, info, members, wheel.name, warn=False)  # said above
            if found is not None:
                return found
            try:
                self._sweep()
                build = Path(tempfile.mkdtemp(prefix=BUILDING, dir=self.root))
            except OSError as exc:
                self._not_usable(exc)
                return None
            try:
                unpacked = unpack(wheel, info, build / TREE, expect=expect, stop=stop)
                doc = _write_manifest(build, unpacked, info_to_json(info, wheel.name))
                if os.path.lexists(entry):  # damaged, changed or half-built: replaced
                    _discard(entry)
                build.rename(entry)
                self._docs[entry.name] = doc  # as written: not read back in this run
            except OSError as exc:
                shutil.rmtree(build, ignore_errors=True)
                raise InstallerError(
                    f"{entry}: cannot add it to the cache ({exc.strerror or exc})"
                ) from None
            except BaseException:
                shutil.rmtree(build, ignore_errors=True)
                raise
        return Unpacked(entry / TREE, unpacked.files, cached=True)

    def _not_usable(self, exc: OSError) -> None:
        """Say once per run that the cache cannot be written (then nothing is built)."""
        with self._once:
            if self._unusable:
                return
            self._unusable = True
        LOG.warning("%s: cache not usable (%s); unpacking without it", self.root, exc)

    def _lock(self, key: str) -> Any:
        """The per-entry lock (a bounded name: the sha256), in a private directory."""
        from filelock import FileLock

        locks = self.root / LOCKS
        locks.mkdir(mode=0o700, exist_ok=True)
        if not _trusted_dir(locks):
            raise OSError(f"{locks} is a link, not yours, or writable by others")
        return FileLock(locks / f"{key}.lock", mode=0o600)

    def _manifest(self, entry: Path, *, warn: bool = True) -> Any:
        """The entry's parsed MANIFEST (read once per run); None if absent, damaged or
        not to be trusted (a link, not this user's, writable by others)."""
        if entry.name in self._docs:
            return self._docs[entry.name]
        manifest = entry / MANIFEST
        doc: Any = None
        try:
            if os.path.lexists(entry) and not _trusted_dir(entry):
                raise ValueError("a link, not yours, or writable by others")
            st = os.lstat(manifest)
            if not _trusted_file(st):
                raise ValueError("MANIFEST is a link, not yours, or writable by others")
            if st.st_size > MAX_MANIFEST:
                raise ValueError("manifest too large")
            fd = os.open(manifest, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as stream:
                doc = json.loads(stream.read(MAX_MANIFEST + 1))
        except NotADirectoryError:
            pass  # the cache directory is no directory: said once, by ``get``
        except FileNotFoundError:
            if os.path.lexists(entry) and warn:
                LOG.info("%s: half-built cache entry; building it again", entry)
        except (OSError, ValueError) as exc:
            if warn:
                LOG.warning("%s: damaged cache entry (%s); building it again", entry, exc)
        self._docs[entry.name] = doc
        return doc

    def _load(
        self,
        entry: Path,
        info: ArchiveInfo,
        members: frozenset[str],
        filename: str,
        *,
        warn: bool = True,
    ) -> Unpacked | None:
        """The entry's tree if its manifest is whole and every file still matches it
        (``warn``: say why not)."""
        doc = self._manifest(entry, warn=warn)
        if doc is None:
            return None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            if warn:
                LOG.info("%s: cache entry from an older format; rebuilding", filename)
            return None
        files = _checked(doc, entry / TREE, info, members)
        if files is None and warn:
            LOG.warning(
                "%s: cache entry changed since it was made (%s); building it again",
                filename,
                entry,
            )
        return None if files is None else Unpacked(entry / TREE, files, cached=True)

    def _sweep(self) -> None:
        """Remove temporary builds a killed ``wn`` left behind (old ones only: a build
        in progress elsewhere is young)."""
        limit = time.time() - STALE_BUILD_S
        with self._once:
            if self._swept:  # once per run: builds of this run's other threads are young
                return
            self._swept = True
            with os.scandir(self.root) as found:
                for item in found:
                    if not item.name.startswith(BUILDING):
                        continue
                    try:
                        old = item.stat(follow_symlinks=False).st_mtime < limit
                    except FileNotFoundError:  # renamed into place or removed meanwhile
                        continue
                    if old:
                        _discard(Path(item.path))


def _trusted_file(st: os.stat_result) -> bool:
    """A regular file (not a link) of this user's that others cannot write."""
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o002


def _trusted_dir(path: Path) -> bool:
    """A real directory (not a link) of this user's that no one else can write."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _discard(path: Path) -> None:
    """Remove a cache entry: renamed aside first, so it vanishes at once."""
    aside = path.with_name(f"{BUILDING}old-{os.getpid()}-{path.name}")
    with contextlib.suppress(FileNotFoundError):
        if path.is_symlink() or not path.is_dir():
            path.unlink()
            return
        path.rename(aside)
        shutil.rmtree(aside, ignore_errors=True)


def _write_manifest(build: Path, unpacked: Unpacked, info: dict[str, Any]) -> dict[str, Any]:
    """Record each file's hash, size and identity, and the archive checks' findings;
    written last, after the files. Returns what it wrote."""
    files: list[list[Any]] = []
    for index, (member, (digest, size)) in enumerate(unpacked.files.items()):
        st = os.lstat(unpacked.name(index))
        files.append([member, digest, size, st.st_mode, st.st_ino, st.st_mtime_ns])
    doc = {"format": FORMAT, "files": files, "info": info}
    data = json.dumps(doc, separators=(",", ":")).encode()
    fd = os.open(build / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        # no fsync: it would make the file system write out every file just unpacked
        # (seconds on ext4); after a power loss a MANIFEST that did not reach the disk
        # reads as damaged and the entry is built again, and a kill needs no fsync
    finally:
        os.close(fd)
    return doc


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
    directories = [tree / str(n) for n in range(-(-len(listed) // PER_DIR))]
    if not all(_trusted_dir(directory) for directory in [tree, *directories]):
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
            st = os.lstat(member_name(tree, index))
        except OSError:
            return None
        if not (
            _trusted_file(st)
            and (st.st_size, st.st_mode, st.st_ino, st.st_mtime_ns) == (size, mode, inode, mtime)
        ):
            return None
        files[member] = (digest, size)
    return files


def info_to_json(info: ArchiveInfo, filename: str) -> dict[str, Any]:
    """``inspect_archive``'s findings for the wheel called ``filename``, as JSON."""
    return {
        "filename": filename,
        "dist_info": info.dist_info,
        "wheel_version": list(info.wheel_version),
        "root_is_purelib": info.root_is_purelib,
        "members": sorted(info.members),
        "record": {name: list(claim) for name, claim in info.record.items()},
        "uncompressed_size": info.uncompressed_size,
        "methods": sorted(info.methods),
        "links": [list(link) for link in info.links],
        "installs": [list(item) for item in info.installs],
        "data_dir": info.data_dir,
        "verified": info.verified,
    }


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _strs(value: Any, length: int) -> bool:
    return (
        isinstance(value, list) and len(value) == length and all(isinstance(x, str) for x in value)
    )


def info_from_json(doc: Any, filename: str) -> ArchiveInfo | None:
    """The findings ``info_to_json`` wrote for ``filename`` (the checks compare the
    filename with the metadata, so another name is another wheel); None when absent,
    for another name, or malformed in any way."""
    if not isinstance(doc, dict) or doc.get("filename") != filename:
        return None
    try:
        version = doc["wheel_version"]
        members = doc["members"]
        record = doc["record"]
        methods = doc["methods"]
        links = doc["links"]
        installs = doc["installs"]
        if not (
            isinstance(doc["dist_info"], str)
            and isinstance(doc["data_dir"], str)
            and isinstance(doc["root_is_purelib"], bool)
            and isinstance(doc["verified"], bool)
            and _int(doc["uncompressed_size"])
            and isinstance(version, list)
            and len(version) == 2
            and all(_int(x) for x in version)
            and isinstance(members, list)
            and all(isinstance(x, str) for x in members)
            and isinstance(record, dict)
            and all(
                isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and _int(v[1])
                for v in record.values()
            )
            and isinstance(methods, list)
            and all(_int(x) for x in methods)
            and isinstance(links, list)
            and all(_strs(x, 2) for x in links)
            and isinstance(installs, list)
            and all(_strs(x, 2) for x in installs)
        ):
            return None
    except KeyError:
        return None
    return ArchiveInfo(
        doc["dist_info"],
        (version[0], version[1]),
        doc["root_is_purelib"],
        frozenset(members),
        {name: (claim[0], claim[1]) for name, claim in record.items()},
        doc["uncompressed_size"],
        frozenset(methods),
        tuple((a, b) for a, b in links),
        tuple((a, b) for a, b in installs),
        doc["data_dir"],
        doc["verified"],
    )
