"""Unpacking a wheel in one pass: each member decompressed, hashed and written once.

Members are streamed in bounded chunks (``CHUNK``) into a tree laid out by archive name
(``{root}/{member}``), each checked against its RECORD hash and size as it is written; a
mismatch, a truncated or corrupt member stops the unpack with one line naming the wheel
and the member. The tree is private until the caller moves or links it into place: a
staging directory inside the environment (``journal.Journal.staging``) or an entry of the
unpacked-wheel cache (``unpacked_cache``). Several members are unpacked at once: zlib,
zstd, hashlib and ``os.write`` release the GIL on large buffers, and a ``ZipFile`` read
from a path may be shared between threads (each read takes its lock).
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wheelnext.installer.archive import ArchiveInfo, corrupt_errors, open_zip
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.file_identity import FileIdentity, identity

CHUNK = 1 << 18  # bytes read, hashed and written at a time: memory stays bounded
LARGE = 4 << 20  # members this large (uncompressed) are unpacked by worker threads
SIGNATURES = ("RECORD.jws", "RECORD.p7s")  # not in RECORD (PEP 427); installed as shipped


@dataclass(frozen=True, slots=True)
class Unpacked:
    """Verified members: ``files`` maps each member to (sha256 as RECORD writes it, size)
    in archive order, the n-th stored flat as ``{root}/{n}`` (no directories to make and
    remove); the files themselves carry the mode installing gives them."""

    root: Path
    files: Mapping[str, tuple[str, int]]
    cached: bool = False  # a cache entry: linked from, never moved

    def path(self, index: int) -> Path:
        """Where the ``index``-th member's bytes are."""
        return self.root / str(index)

    def name(self, index: int) -> str:
        """``path`` as a string (no ``Path`` per file: torch has 12,000)."""
        return f"{self.root}/{index}"


def record_digest(digest: bytes) -> str:
    """A digest as RECORD spells it: urlsafe base64 without padding."""
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def check_unchanged(wheel: Path, expect: FileIdentity, fd: int | None = None) -> None:
    """Refuse ``wheel`` if it (path and, given, the open ``fd``) is no longer the file
    whose bytes were checked: replaced, or edited in place."""
    try:
        now = [identity(wheel)] + ([] if fd is None else [identity(fd)])
    except OSError:
        now = []
    if not now or any(found != expect for found in now):
        raise InstallerError(f"{wheel.name}: changed while being installed")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def installed_members(info: ArchiveInfo, infos: list[Any]) -> list[Any]:
    """The members installing writes as they are, in archive order: no directories, not
    RECORD (written anew) and nothing below ``__pycache__`` (the installer library skips
    those too, with a warning)."""
    record = f"{info.dist_info}/RECORD"
    return [
        i
        for i in infos
        if not i.is_dir()
        and i.filename != record
        and "__pycache__" not in i.filename.split("/")[:-1]
    ]


class _Writer:
    """Unpacks members of one open archive into ``root``; shared by the worker threads."""

    def __init__(self, wheel: Path, archive: Any, info: ArchiveInfo, root: Path) -> None:
        self.wheel = wheel
        self.archive = archive
        self.info = info
        self.root = root
        self.errors = corrupt_errors()
        self.umask = _umask()
        self.failed = threading.Event()
        self.signatures = frozenset(f"{info.dist_info}/{s}" for s in SIGNATURES)

    def member(self, index: int, zinfo: Any) -> tuple[str, int]:
        """Write one member as ``{root}/{index}``; return its (sha256, size) once it
        matched RECORD."""
        name: str = zinfo.filename
        where = f"{self.wheel.name}: member {name!r}"
        claim = self.info.record.get(name)
        if claim is None and name not in self.signatures:
            raise InstallerError(f"{where} is not hashed in RECORD")
        algorithm, _, expected = claim[0].partition("=") if claim else ("sha256", "", "")
        sha256 = hashlib.sha256()
        other = hashlib.new(algorithm) if algorithm != "sha256" else None
        mode = zinfo.external_attr >> 16  # as the installer library reads it
        executable = bool(mode and stat.S_ISREG(mode) and mode & 0o111)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        size = 0
        try:
            fd = os.open(f"{self.root}/{index}", flags, 0o666)
        except OSError as exc:
            raise InstallerError(f"{where}: cannot unpack it ({exc.strerror or exc})") from None
        try:
            with self.archive.open(zinfo) as stream:
                while chunk := stream.read(CHUNK):
                    if self.failed.is_set():
                        raise _Stopped
                    size += len(chunk)
                    if claim is not None and size > claim[1]:  # stop at once: no bombs
                        raise InstallerError(f"{where} does not match its RECORD hash or size")
                    sha256.update(chunk)
                    if other is not None:
                        other.update(chunk)
                    _write(fd, chunk, where)
            if executable:
                os.fchmod(fd, 0o777 & ~self.umask | 0o111)
        except InstallerError:
            raise
        except self.errors as exc:
            raise InstallerError(f"{where} is corrupt or truncated ({exc})") from None
        finally:
            os.close(fd)
        digest = record_digest(sha256.digest())
        got = digest if other is None else record_digest(other.digest())
        if claim is not None and (got != expected or size != claim[1]):
            raise InstallerError(f"{where} does not match its RECORD hash or size")
        return digest, size

    def batch(self, members: list[tuple[int, Any]]) -> list[tuple[str, int]]:
        try:
            if self.failed.is_set():
                raise _Stopped
            return [self.member(i, m) for i, m in members]
        except BaseException:
            self.failed.set()
            raise


def _write(fd: int, data: bytes, where: str) -> None:
    """All of ``data`` to ``fd``; a full disk or a write error is a one-line error."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise InstallerError(f"{where}: cannot unpack it ({exc.strerror or exc})") from None


class _Stopped(Exception):
    """Another thread's member failed: this one stops (its error is not the one reported)."""


def threads() -> int:
    """Threads for unpacking: one per CPU this process may use, at most 8; one on a single
    CPU. Measured on 2 CPUs (torch, 12,248 members, interleaved): 2 threads took 0.6–0.7×
    the time of 1 (the large members inflate beside the small files), 3 were no better
    than 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return 1 if cpus <= 1 else min(8, cpus)


def expected_members(info: ArchiveInfo) -> frozenset[str]:
    """The members ``installed_members`` keeps, by the names the checks saw."""
    record = f"{info.dist_info}/RECORD"
    return frozenset(
        m for m in info.members if m != record and "__pycache__" not in m.split("/")[:-1]
    )


def unpack(
    wheel: Path,
    info: ArchiveInfo,
    root: Path,
    workers: int | None = None,
    expect: FileIdentity | None = None,
) -> Unpacked:
    """Unpack ``wheel`` (checked by ``inspect_archive``) into the new directory ``root``,
    verifying every member against RECORD in the same pass. ``wheel`` is only read; it
    must still hold exactly the members the checks saw (no more, none twice) and, after
    the last member, still be the file it was (``expect``, else as it was when opened):
    a wheel changed since its checks is refused, whatever it now holds.

    Small members are written by this thread; large ones (``LARGE`` and up) by up to
    ``workers - 1`` more: their inflating, hashing and writing run without the GIL, while
    many small files in several threads would only trade the GIL back and forth."""
    root.mkdir()
    errors = corrupt_errors()
    workers = workers or threads()
    try:
        with open_zip(wheel) as archive:
            fd = archive.fp.fileno()
            opened = identity(fd) if expect is None else expect
            check_unchanged(wheel, opened, fd)
            members = installed_members(info, archive.infolist())
            names = [m.filename for m in members]
            if len(set(names)) != len(names) or set(names) != expected_members(info):
                raise InstallerError(f"{wheel.name}: changed while being installed")
            writer = _Writer(wheel, archive, info, root)
            numbered = list(enumerate(members))
            large = [m for m in numbered if m[1].file_size >= LARGE] if workers > 1 else []
            small = [m for m in numbered if m[1].file_size < LARGE] if large else numbered
            results: dict[str, tuple[str, int]] = {}
            futures: list[Future[list[tuple[str, int]]]] = []
            with ThreadPoolExecutor(max(1, workers - 1), thread_name_prefix="wn-unpack") as pool:
                try:
                    futures = [pool.submit(writer.batch, [m]) for m in large]
                    done = writer.batch(small)
                    results.update(zip((m.filename for _, m in small), done, strict=True))
                    wait(futures)
                except BaseException:  # a bad member, an interrupt: the workers stop too
                    writer.failed.set()
                    raise
            for future in futures:
                failure = future.exception()
                if failure is not None and not isinstance(failure, _Stopped):
                    raise failure
            for (_, member), future in zip(large, futures, strict=True):
                results[member.filename] = future.result()[0]
            check_unchanged(wheel, opened, fd)
    except InstallerError:
        raise
    except errors as exc:
        raise InstallerError(f"{wheel.name}: not a valid wheel archive ({exc})") from None
    return Unpacked(root, {m.filename: results[m.filename] for m in members})
