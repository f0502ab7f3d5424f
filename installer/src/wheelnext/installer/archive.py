"""Wheel archives: a ZIP reader that knows zstd, and every check made before a write.

Members may be stored (method 0), deflate (8) or zstd (93: APPNOTE 6.3.7, PEP 784's
``zipfile.ZIP_ZSTANDARD`` in Python 3.14, ``backports.zstd`` before it); any other method
is refused, as uv 0.12 does. ``check_archive`` reads the central directory and then every
member once, before anything is installed: methods, safe and unique names, no symlink
entries, declared sizes within bounds (no zip bombs), RECORD hashes, ``LINKS`` and a
``Wheel-Version`` this installer supports (PEP 427/777 rules).
"""

from __future__ import annotations

import logging
import stat
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from types import ModuleType
from typing import Any

from wheelnext.installer.errors import InstallerError
from wheelnext.installer.paths import unsafe_reason

LOG = logging.getLogger(__name__)

STORED, DEFLATED, ZSTANDARD = 0, 8, 93
METHOD_NAMES = {STORED: "stored", DEFLATED: "deflate", ZSTANDARD: "zstd"}
# Wheel-Version 2.0 is read for what it adds here: links in .dist-info/LINKS (PEP 778)
SUPPORTED_WHEEL_VERSIONS = {1: 0, 2: 0}  # major -> newest minor known
LINKS_FILE = "LINKS"


def zip_module() -> ModuleType:
    """``zipfile`` when it reads zstd (3.14+), else ``backports.zstd``'s copy of 3.14's."""
    if hasattr(zipfile, "ZIP_ZSTANDARD"):
        return zipfile
    try:
        from backports.zstd import zipfile as backported
    except ImportError:
        return zipfile
    return backported


def zstd_available() -> bool:
    return hasattr(zip_module(), "ZIP_ZSTANDARD")


def open_zip(path: Path, mode: str = "r") -> Any:
    """A ``ZipFile`` from the zstd-aware module (same API as the stdlib's)."""
    return zip_module().ZipFile(path, mode)


def corrupt_errors() -> tuple[type[BaseException], ...]:
    """What reading a damaged archive raises (ZIP structure, codecs, truncation)."""
    errors: list[type[BaseException]] = [zipfile.BadZipFile, EOFError, zlib.error, OSError]
    module = zip_module()
    errors.append(module.BadZipFile)
    if zstd_available():
        try:
            from compression.zstd import ZstdError  # type: ignore[import-not-found]
        except ImportError:
            from backports.zstd import ZstdError
        errors.append(ZstdError)
    return tuple(errors)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what an archive may declare; a wheel beyond them is refused unread.

    ``member_ratio`` applies to members declaring more than ``ratio_floor`` bytes: DEFLATE
    cannot exceed about 1032:1, so only zstd (or a lying header) goes past 2000:1.
    """

    total_size: int = 16 * 2**30
    member_ratio: int = 2000
    ratio_floor: int = 2**20
    members: int = 200_000


@dataclass(frozen=True, slots=True)
class ArchiveInfo:
    """What the checks learnt: where the metadata is and what installing will write."""

    dist_info: str
    wheel_version: tuple[int, int]
    root_is_purelib: bool
    members: frozenset[str]
    record: Mapping[str, tuple[str, int]]  # member -> (RECORD hash, size), as verified
    uncompressed_size: int
    methods: frozenset[int]
    links: tuple[tuple[str, str], ...] = ()


@contextmanager
def _opened(path: Path) -> Iterator[Any]:
    errors = corrupt_errors()
    try:
        with open_zip(path) as archive:
            yield archive
    except InstallerError:
        raise
    except errors as exc:
        raise InstallerError(f"{path.name}: not a valid wheel archive ({exc})") from None


def check_archive(path: Path, limits: Limits = Limits()) -> ArchiveInfo:
    """Refuse ``path`` before any write if anything about it is unsafe or inconsistent."""
    from installer.exceptions import InstallerError as InstallerLibraryError
    from installer.sources import WheelFile

    with _opened(path) as archive:
        infos = archive.infolist()
        _check_directory(path, infos, limits)
        try:
            source = WheelFile(archive)
            dist_info = source.dist_info_dir
            source.validate_record(validate_contents=False)
        except InstallerLibraryError as exc:
            raise InstallerError(f"{path.name}: {exc}") from None
        record = _check_contents(path, archive, infos, dist_info)
        version, root_is_purelib = _wheel_file(path, archive, dist_info)
        links: tuple[tuple[str, str], ...] = ()
        names = frozenset(i.filename for i in infos if not i.is_dir())
        if f"{dist_info}/{LINKS_FILE}" in names:
            from wheelnext.installer.links import check_links, parse_links

            if version[0] < 2:
                raise InstallerError(
                    f"{path.name}: has {dist_info}/LINKS but Wheel-Version "
                    f"{version[0]}.{version[1]}; links need Wheel-Version 2.0"
                )
            text = archive.read(f"{dist_info}/{LINKS_FILE}").decode("utf-8", "replace")
            links = tuple(parse_links(text, f"{path.name}: {dist_info}/LINKS"))
            check_links(links, names, dist_info, f"{path.name}: {dist_info}/LINKS")
    return ArchiveInfo(
        dist_info,
        version,
        root_is_purelib,
        names,
        record,
        sum(i.file_size for i in infos),
        frozenset(i.compress_type for i in infos),
        links,
    )


def _check_directory(path: Path, infos: list[Any], limits: Limits) -> None:
    """The central directory alone: methods, names, entry kinds, declared sizes."""
    if len(infos) > limits.members:
        raise InstallerError(f"{path.name}: {len(infos)} members (limit {limits.members})")
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        method = info.compress_type
        if method not in METHOD_NAMES:
            raise InstallerError(
                f"{path.name}: member {name!r} uses compression method {method}; "
                "only stored, deflate and zstd are read"
            )
        if method == ZSTANDARD and not zstd_available():
            raise InstallerError(
                f"{path.name}: member {name!r} is zstd-compressed; reading it needs "
                "Python >= 3.14 or 'pip install backports.zstd'"
            )
        reason = unsafe_reason(name)
        if reason is not None:
            raise InstallerError(f"{path.name}: unsafe member path {name!r} ({reason})")
        key = name.rstrip("/")
        if key in seen:
            raise InstallerError(f"{path.name}: member {name!r} appears twice")
        seen.add(key)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InstallerError(
                f"{path.name}: member {name!r} is a symlink entry; links are only "
                "accepted from .dist-info/LINKS"
            )
        total += info.file_size
        if info.file_size > limits.ratio_floor and info.file_size > limits.member_ratio * max(
            info.compress_size, 1
        ):
            raise InstallerError(
                f"{path.name}: member {name!r} declares {info.file_size} bytes from "
                f"{info.compress_size} (ratio over {limits.member_ratio}:1, a zip bomb?)"
            )
    if total > limits.total_size:
        raise InstallerError(
            f"{path.name}: members declare {total} bytes uncompressed (limit {limits.total_size})"
        )


def _check_contents(
    path: Path, archive: Any, infos: list[Any], dist_info: str
) -> dict[str, tuple[str, int]]:
    """Decompress every member once (bounded by its declared size) against RECORD;
    return the verified (hash, size) of every member RECORD lists with a hash."""
    from installer.records import InvalidRecordEntry, RecordEntry, parse_record_file

    record_name = f"{dist_info}/RECORD"
    try:
        lines = archive.read(record_name).decode("utf-8").splitlines()
        records = {row[0]: RecordEntry.from_elements(*row) for row in parse_record_file(lines)}
    except (InvalidRecordEntry, UnicodeDecodeError) as exc:
        raise InstallerError(f"{path.name}: invalid RECORD ({exc})") from None
    errors = corrupt_errors()
    verified: dict[str, tuple[str, int]] = {}
    for info in infos:
        if info.is_dir():
            continue
        record = records.get(info.filename)
        try:
            with archive.open(info) as stream:
                if record is not None and record.hash_ is not None:
                    if not record.validate_stream(stream):
                        raise InstallerError(
                            f"{path.name}: member {info.filename!r} does not match its "
                            "RECORD hash or size"
                        )
                    verified[info.filename] = (
                        f"{record.hash_.name}={record.hash_.value}",
                        info.file_size,
                    )
                else:
                    while stream.read(2**20):
                        pass
        except errors as exc:
            raise InstallerError(
                f"{path.name}: member {info.filename!r} is corrupt or truncated ({exc})"
            ) from None
    return verified


def wheel_version_supported(text: str | None) -> bool:
    """Whether a ``Wheel-Version`` (None: not stated, so 1.x) has a major this installer reads."""
    major = (text or "1").strip().partition(".")[0]
    return major.isdigit() and int(major) in SUPPORTED_WHEEL_VERSIONS


def parse_wheel_version(text: str | None, where: str) -> tuple[int, int]:
    """``Wheel-Version: X.Y`` as (X, Y)."""
    major, dot, minor = (text or "").strip().partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        raise InstallerError(f"{where}: invalid Wheel-Version {text!r}")
    return int(major), int(minor)


def _wheel_file(path: Path, archive: Any, dist_info: str) -> tuple[tuple[int, int], bool]:
    """WHEEL's version and ``Root-Is-Purelib``. PEP 427/777: refuse an unknown major, warn
    on a newer minor, and METADATA's ``Wheel-Version`` (when present) must equal WHEEL's."""
    parser = BytesHeaderParser()
    wheel = parser.parsebytes(archive.read(f"{dist_info}/WHEEL"))
    version = parse_wheel_version(wheel["Wheel-Version"], f"{path.name}: {dist_info}/WHEEL")
    major, minor = version
    if major not in SUPPORTED_WHEEL_VERSIONS:
        newest = max(SUPPORTED_WHEEL_VERSIONS)
        raise InstallerError(
            f"{path.name}: Wheel-Version {major}.{minor} is not supported "
            f"(this installer reads 1.x and up to {newest}.x)"
        )
    if minor > SUPPORTED_WHEEL_VERSIONS[major]:
        LOG.warning(
            "%s: Wheel-Version %d.%d is newer than this installer knows", path.name, *version
        )
    metadata = parser.parsebytes(archive.read(f"{dist_info}/METADATA"))
    if metadata["Wheel-Version"] is not None:
        stated = parse_wheel_version(metadata["Wheel-Version"], f"{path.name}: METADATA")
        if stated != version:
            raise InstallerError(
                f"{path.name}: METADATA says Wheel-Version {stated[0]}.{stated[1]}, "
                f"WHEEL says {major}.{minor}"
            )
    root_is_purelib = (wheel["Root-Is-Purelib"] or "").strip().lower() == "true"
    return version, root_is_purelib
