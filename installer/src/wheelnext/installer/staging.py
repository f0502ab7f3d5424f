"""Unpacking a wheel in one pass: each member decompressed, hashed and written once.

Members are streamed in bounded chunks (``CHUNK``) into a tree of numbered files
(``member_name``), each checked against its RECORD hash and size as it is written; a
mismatch, a truncated or corrupt member stops the unpack with one line naming the wheel
and the member. The tree is private until the caller moves or links it into place: a
staging directory inside the environment (``journal.Journal.staging``) or an entry of the
unpacked-wheel cache (``unpacked_cache``). Several members are unpacked at once, each
thread in a directory of its own: creating files in one directory waits on that
directory's lock (measured on ext4: 2-8 threads creating in one directory took as long as
one, in separate directories half as long). Stored and deflated members are read with
``os.pread`` (``member_reader``: no shared file position, no lock); zstd members through
the shared ``ZipFile`` (each read takes its lock). The inflater, hashlib and ``os.write``
release the GIL on large buffers.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import stat
import threading
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wheelnext.installer.archive import ArchiveInfo, corrupt_errors, open_zip
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.file_identity import FileIdentity, identity
from wheelnext.installer.member_reader import (
    BadMember,
    chunks,
    inflate_errors,
    member_ends,
    readable,
)
from wheelnext.installer.parallel import run_all

CHUNK = 1 << 18  # bytes read, hashed and written at a time: memory stays bounded
PER_DIR = 128  # members per directory of an unpacked tree: one thread writes each
CREATE_COST = 1 << 16  # creating a file costs about as much as writing 64 KiB (measured)
WORKERS = 4  # threads unpacking one wheel's directories at once
SIGNATURES = ("RECORD.jws", "RECORD.p7s")  # not in RECORD (PEP 427); installed as shipped


def _cpus() -> int:
    """CPUs this process may run on (its affinity where the platform tells)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# threads writing members at once, all wheels together: one per CPU. More only queue for
# the GIL and hand it over at every system call (measured on 2 cores, 27 wheels: up to 16
# threads, as four wheels at once gave, used 10 % more CPU and 5 % more time than 2)
_SLOTS = threading.BoundedSemaphore(max(2, _cpus()))


@dataclass(frozen=True, slots=True)
class Unpacked:
    """Verified members: ``files`` maps each member to (sha256 as RECORD writes it, size)
    in archive order, the n-th stored as ``member_name(root, n)``; the files themselves
    carry the mode installing gives them."""

    root: Path
    files: Mapping[str, tuple[str, int]]
    cached: bool = False  # a cache entry: linked from, never moved

    def path(self, index: int) -> Path:
        """Where the ``index``-th member's bytes are."""
        return Path(member_name(self.root, index))

    def name(self, index: int) -> str:
        """``path`` as a string (no ``Path`` per file: torch has 12,000)."""
        return member_name(self.root, index)


def member_name(root: Path | str, index: int) -> str:
    """Where an unpacked tree keeps its ``index``-th member: ``{root}/{d}/{index}``, ``d``
    the member's directory (``PER_DIR`` members each, one thread writing it)."""
    return f"{root}/{index // PER_DIR}/{index}"


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

    def __init__(
        self,
        wheel: Path,
        archive: Any,
        info: ArchiveInfo,
        root: Path,
        stop: threading.Event | None = None,
    ) -> None:
        self.wheel = wheel
        self.archive = archive
        self.info = info
        self.root = root
        self.errors: tuple[type[BaseException], ...] = (
            *corrupt_errors(),
            *inflate_errors(),
            BadMember,
        )
        self.failed = threading.Event()
        self.stop = stop or self.failed  # the caller's: no member is begun once it is set
        self.signatures = frozenset(f"{info.dist_info}/{s}" for s in SIGNATURES)
        self.fd = archive.fp.fileno()
        self.ends = member_ends(archive.infolist(), archive.start_dir)

    def member(self, index: int, zinfo: Any) -> tuple[str, int]:
        """Write one member as ``member_name(root, index)``; return its (sha256, size)
        once it matched RECORD."""
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
            fd = os.open(member_name(self.root, index), flags, 0o666)
        except OSError as exc:
            raise InstallerError(f"{where}: cannot unpack it ({exc.strerror or exc})") from None
        crc = 0
        try:
            for chunk in self._chunks(zinfo):
                if self.failed.is_set() or self.stop.is_set():
                    raise Stopped
                size += len(chunk)
                if claim is not None and size > claim[1]:  # stop at once: no bombs
                    raise InstallerError(f"{where} does not match its RECORD hash or size")
                sha256.update(chunk)
                if other is not None:
                    other.update(chunk)
                elif claim is None:  # a signature file: no RECORD hash, so the CRC
                    crc = zlib.crc32(chunk, crc)
                _write(fd, chunk, where)
            if claim is None and crc != zinfo.CRC:
                raise InstallerError(f"{where} is corrupt or truncated (bad CRC-32)")
            if executable:  # as the umask made it (0o666 & ~umask), with every x bit:
                # what 0o777 & ~umask | 0o111 gives, without reading the umask (setting
                # it, even back, races other threads' file creations)
                os.fchmod(fd, os.fstat(fd).st_mode & 0o777 | 0o111)
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

    def _chunks(self, zinfo: Any) -> Iterator[bytes]:
        """The member's bytes: read in place when stored or deflated, else by zipfile."""
        if readable(zinfo):
            yield from chunks(self.fd, zinfo, self.ends[zinfo.header_offset], CHUNK)
            return
        with self.archive.open(zinfo) as stream:
            while chunk := stream.read(CHUNK):
                yield chunk

    def batch(self, members: list[tuple[int, Any]]) -> list[tuple[str, int]]:
        try:
            with _SLOTS:
                if self.failed.is_set() or self.stop.is_set():
                    raise Stopped
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


class Stopped(Exception):
    """Unpacking stopped: another thread's member failed (its error is the one reported),
    or the caller's ``stop`` was set."""


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
    workers: int = WORKERS,
    *,
    expect: FileIdentity | None = None,
    stop: threading.Event | None = None,
) -> Unpacked:
    """Unpack ``wheel`` (checked by ``inspect_archive``) into the new directory ``root``,
    verifying every member against RECORD in the same pass. ``wheel`` is only read; it
    must still hold exactly the members the checks saw (no more, none twice) and, after
    the last member, still be the file it was (``expect``, else as it was when opened):
    a wheel changed since its checks is refused, whatever it now holds. ``stop`` set:
    ``Stopped`` is raised within a chunk of the member being written.

    Each directory of ``PER_DIR`` members is written by one of up to ``workers`` threads,
    the costliest first (files to create, bytes to inflate): no two threads create files
    in one directory, and a large member inflates beside the small files."""
    root.mkdir(mode=0o755)  # never group-writable: the cache trusts no such directory
    errors = corrupt_errors()
    try:
        with open_zip(wheel) as archive:
            fd = archive.fp.fileno()
            opened = identity(fd) if expect is None else expect
            check_unchanged(wheel, opened, fd)
            members = installed_members(info, archive.infolist())
            names = [m.filename for m in members]
            if len(set(names)) != len(names) or set(names) != expected_members(info):
                raise InstallerError(f"{wheel.name}: changed while being installed")
            writer = _Writer(wheel, archive, info, root, stop)
            numbered = list(enumerate(members))
            groups = [numbered[i : i + PER_DIR] for i in range(0, len(numbered), PER_DIR)]
            for number in range(len(groups)):
                (root / str(number)).mkdir(mode=0o755)
            results = _write_groups(writer, groups, workers)
            check_unchanged(wheel, opened, fd)
    except InstallerError:
        raise
    except errors as exc:
        raise InstallerError(f"{wheel.name}: not a valid wheel archive ({exc})") from None
    return Unpacked(root, {m.filename: results[i] for i, m in enumerate(members)})


def _write_groups(
    writer: _Writer, groups: list[list[tuple[int, Any]]], workers: int
) -> dict[int, tuple[str, int]]:
    """Every group's members written by ``writer`` (groups on up to ``workers`` threads,
    the costliest first); (sha256, size) by member index. The first failure stops the
    other threads (``writer.failed``) and is raised, not their ``Stopped``."""
    groups = sorted(groups, key=_cost, reverse=True)
    calls = [functools.partial(writer.batch, group) for group in groups]
    done = run_all(calls, workers, writer.failed, "wn-unpack", stopped=(Stopped,))
    return {
        index: result
        for group, results in zip(groups, done, strict=True)
        for (index, _), result in zip(group, results, strict=True)
    }


def _cost(group: list[tuple[int, Any]]) -> int:
    """``unpack_cost`` of one directory's members."""
    return unpack_cost(len(group), sum(member.file_size for _, member in group))


def unpack_cost(files: int, size: int) -> int:
    """What unpacking ``files`` files of ``size`` bytes in all takes, in bytes written:
    creating a file costs about as much as writing ``CREATE_COST`` bytes."""
    return files * CREATE_COST + size
