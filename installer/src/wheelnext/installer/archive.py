"""Wheel archives: a ZIP reader that knows zstd, and every check made before a write.

Members may be stored (method 0), deflate (8) or zstd (93: APPNOTE 6.3.7, PEP 784's
``zipfile.ZIP_ZSTANDARD`` in Python 3.14, ``backports.zstd`` before it); any other method
is refused, as uv 0.12 does. ``check_archive`` reads the central directory and then every
member once, before anything is installed: methods, safe, unique and bounded names, no
symlink entries, declared sizes within bounds (no zip bombs), RECORD hashes, ``LINKS`` and a
``Wheel-Version`` this installer supports (PEP 427/777 rules).

Wheels are untrusted input, and the ``installer`` library trusts them: it loops forever on
a member named exactly ``{name}-{version}.data``, fails half-way on an unknown ``.data``
scheme, a file where a directory must go or an entry point it cannot parse. So every such
case is found here, from the archive alone, and refused in one line naming the wheel.
"""

from __future__ import annotations

import configparser
import functools
import logging
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelnext.core.errors import one_line
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.member_reader import ENCRYPTION
from wheelnext.installer.paths import unsafe_reason

LOG = logging.getLogger(__name__)

STORED, DEFLATED, ZSTANDARD = 0, 8, 93
METHOD_NAMES = {STORED: "stored", DEFLATED: "deflate", ZSTANDARD: "zstd"}
# Wheel-Version 2.0 is read for what it adds here: links in .dist-info/LINKS (PEP 778)
SUPPORTED_WHEEL_VERSIONS = {1: 0, 2: 0}  # major -> newest minor known
LINKS_FILE = "LINKS"
# installer.utils.SCHEME_NAMES: the only directories allowed below {name}-{version}.data
DATA_SCHEMES = ("purelib", "platlib", "headers", "scripts", "data")
# PEP 427 asks for sha256 or better; md5/sha1 are out, and shake_* cannot be digested as is
RECORD_HASHES = frozenset(
    {"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"}
)
SCRIPT_SECTIONS = ("console_scripts", "gui_scripts")
# the dist-info file wn itself writes at install (drift.RECORD): a wheel may not ship it
VARIANT_RECORD = "WHEELNEXT_VARIANT.json"
# installer.utils._ENTRYPOINT_REGEX: the values the installer library can turn into scripts
_ENTRY_POINT = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attrs>[\w.]+))\s*(?P<extras>\[.*\])?\s*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WHEEL_VERSION_LINE = re.compile(r"Wheel-Version: \d+\.\d+")


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


@functools.cache  # once per process: a failed import is not cached by Python, and
# this is asked for every wheel and unpack (a few ms each time on 3.11, without zstd)
def corrupt_errors() -> tuple[type[BaseException], ...]:
    """What reading a damaged archive raises (ZIP structure, codecs, truncation, a
    "version needed" or flag zipfile does not implement, an undecodable UTF-8 name, an
    encrypted member, an offset out of range): read before ``check_archive`` (a wheel's
    METADATA while resolving), such an archive is one line, never a traceback."""
    errors: list[type[BaseException]] = [
        zipfile.BadZipFile,
        EOFError,
        zlib.error,
        OSError,
        NotImplementedError,
        struct.error,
        UnicodeDecodeError,
        RuntimeError,  # an encrypted member: zipfile asks for a password
        ValueError,  # a header offset past what a file position can hold
        OverflowError,
    ]
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
    name_bytes: int = 1024  # a whole member name, UTF-8
    segment_bytes: int = 255  # one path segment (NAME_MAX on Linux, macOS and Windows)


@dataclass(frozen=True, slots=True)
class ArchiveInfo:
    """What the checks learnt: where the metadata is and what installing will write."""

    dist_info: str
    wheel_version: tuple[int, int]
    root_is_purelib: bool
    members: frozenset[str]
    # member -> (RECORD hash, size): verified by ``check_archive``; by ``inspect_archive``
    # only what RECORD claims (``verified`` False), checked while installing (``staging``)
    record: Mapping[str, tuple[str, int]]
    uncompressed_size: int
    methods: frozenset[int]
    links: tuple[tuple[str, str], ...] = ()
    # (scheme, path below it) of every file installing writes, entry-point scripts included
    installs: tuple[tuple[str, str], ...] = ()
    data_dir: str = ""  # {distribution}-{version}.data, as the installer library names it
    verified: bool = True


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


def inspect_archive(path: Path, limits: Limits = Limits()) -> ArchiveInfo:
    """Every check that needs only the central directory and the small dist-info files;
    member contents are checked against RECORD while installing, in the same pass that
    writes them (``staging.unpack``), before anything becomes visible."""
    return check_archive(path, limits, contents=False)


def check_archive(path: Path, limits: Limits = Limits(), *, contents: bool = True) -> ArchiveInfo:
    """Refuse ``path`` before any write if anything about it is unsafe or inconsistent
    (``contents``: also decompress every member against RECORD, hashes and sizes)."""
    from installer.exceptions import InstallerError as InstallerLibraryError
    from installer.sources import WheelFile

    with _opened(path) as archive:
        infos = archive.infolist()
        _check_directory(path, infos, limits, archive.start_dir)
        names = frozenset(i.filename for i in infos if not i.is_dir())
        dist_info = _dist_info(path, infos, names)
        try:
            source = WheelFile(archive)
            if source.dist_info_dir != dist_info:  # the library's own pick; same rule
                raise InstallerError(f"{path.name}: cannot tell its .dist-info directory")
            source.validate_record(validate_contents=False)
        except (InstallerLibraryError, ValueError) as exc:
            message = _library_message(exc, str(archive.filename), path.name)
            raise InstallerError(f"{path.name}: {message}") from None
        claims = _record_claims(path, archive, dist_info)
        record = _check_contents(path, archive, infos, claims) if contents else claims
        version, root_is_purelib = _wheel_file(path, archive, dist_info)
        _check_metadata(path, archive, dist_info, (source.distribution, source.version), version)
        scripts = _entry_point_scripts(path, archive, dist_info, names, limits)
        installs = _check_layout(
            path,
            infos,
            dist_info=dist_info,
            data_dir=source.data_dir,
            root_is_purelib=root_is_purelib,
            scripts=scripts,
        )
        links: tuple[tuple[str, str], ...] = ()
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
        installs,
        source.data_dir,
        contents,
    )


def check_destinations(path: Path, info: ArchiveInfo, scheme: Mapping[str, str]) -> None:
    """Refuse a wheel two of whose files land on one path of this target, or one of whose
    files would be a directory another needs (schemes may share directories: ``data`` is
    the environment's root, ``purelib`` and ``platlib`` are often one directory)."""
    where: dict[str, str] = {}  # strings, not Paths: 12,000 files in a torch wheel
    roots: dict[str, str] = {}
    for scheme_name, relative in info.installs:
        root = roots.get(scheme_name)
        if root is None:
            if scheme_name not in scheme:
                raise InstallerError(
                    f"{path.name}: installs into the {scheme_name!r} scheme, which this "
                    "environment does not have"
                )
            root = roots[scheme_name] = str(Path(scheme[scheme_name]))
        target = f"{root}/{relative}"  # relative: checked safe, no empty or dot segments
        shown = f"{scheme_name}/{relative}"
        if target in where:
            raise InstallerError(
                f"{path.name}: {_shown(where[target])} and {_shown(shown)} would be "
                "installed as the same file"
            )
        where[target] = shown
    checked: set[str] = set()  # directories already known to be no file's path
    for target, shown in where.items():
        parent = target.rpartition("/")[0]
        while parent and parent not in checked:
            if parent in where:
                raise InstallerError(
                    f"{path.name}: {_shown(shown)} would be installed inside "
                    f"{_shown(where[parent])}, which is a file"
                )
            checked.add(parent)
            parent = parent.rpartition("/")[0]


def _shown(name: str, limit: int = 120) -> str:
    """A name from the archive, quoted and cut short for a one-line message."""
    return repr(name if len(name) <= limit else name[: limit - 1] + "…")


def _library_message(exc: BaseException, archive_name: str, name: str) -> str:
    """The ``installer`` library's complaint as one line: its first issue, without the
    list repr or the temporary path it names the archive by."""
    cause = exc.__cause__  # why it could not read RECORD: unparsable rows, a bad member
    if getattr(cause, "issues", None):
        return f"invalid RECORD ({'; '.join(str(i) for i in getattr(cause, 'issues', []))})"
    if cause is not None:
        return f"cannot read RECORD ({cause})"
    issues = [str(i) for i in getattr(exc, "issues", None) or []]
    reason = getattr(exc, "reason", None)
    if issues:
        text = issues[0] + (f" (and {len(issues) - 1} more problems)" if len(issues) > 1 else "")
    elif reason:
        text = f"{reason} ({getattr(exc, 'dist_info', '')})"
    else:
        text = str(exc)
    return text.replace(f"In {archive_name}, ", "").replace(archive_name, name)


def _dist_info(path: Path, infos: list[Any], names: frozenset[str]) -> str:
    """The one top-level ``.dist-info`` directory, with its RECORD, WHEEL and METADATA."""
    found: list[str] = sorted(
        {top for i in infos if (top := i.filename.split("/", 1)[0]).endswith(".dist-info")}
    )
    if len(found) != 1:
        listed = ", ".join(_shown(f) for f in found[:3]) or "none"
        raise InstallerError(
            f"{path.name}: has {len(found)} .dist-info directories ({listed}); "
            "a wheel has exactly one"
        )
    dist_info = found[0]
    for required in ("RECORD", "WHEEL", "METADATA"):
        if f"{dist_info}/{required}" not in names:
            raise InstallerError(f"{path.name}: {dist_info}/{required} is missing")
    stem = dist_info[: -len(".dist-info")]
    _, _, version = stem.rpartition("-")
    try:
        Version(version)
    except InvalidVersion:
        raise InstallerError(
            f"{path.name}: {_shown(dist_info)} is not named {{name}}-{{version}}.dist-info"
        ) from None
    return dist_info


def check_directory(path: Path, archive: Any, limits: Limits = Limits()) -> None:
    """``check_archive``'s checks of the central directory alone, for an archive read
    before it (a wheel's METADATA during resolution): no member is read unchecked."""
    _check_directory(path, archive.infolist(), limits, archive.start_dir)


def _check_directory(path: Path, infos: list[Any], limits: Limits, directory_start: int) -> None:
    """The central directory alone: methods, names, entry kinds, declared sizes, where
    each member's local header lies (before the central directory), no encryption."""
    if len(infos) > limits.members:
        raise InstallerError(f"{path.name}: {len(infos)} members (limit {limits.members})")
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        method = info.compress_type
        if method not in METHOD_NAMES:
            raise InstallerError(
                f"{path.name}: member {_shown(name)} uses compression method {method}; "
                "only stored, deflate and zstd are read"
            )
        if method == ZSTANDARD and not zstd_available():
            raise InstallerError(
                f"{path.name}: member {_shown(name)} is zstd-compressed; reading it needs "
                "Python >= 3.14 or 'pip install backports.zstd'"
            )
        if not 0 <= info.header_offset < directory_start:  # zipfile would fail on it
            raise InstallerError(
                f"{path.name}: member {_shown(name)}'s local header lies outside the "
                "archive's members"
            )
        if info.flag_bits & ENCRYPTION:
            raise InstallerError(f"{path.name}: member {_shown(name)} is encrypted")
        reason = unsafe_reason(name) or _name_problem(name, limits)
        if reason is not None:
            raise InstallerError(f"{path.name}: unsafe member path {_shown(name)} ({reason})")
        key = name.rstrip("/")
        if key in seen:
            raise InstallerError(f"{path.name}: member {_shown(name)} appears twice")
        seen.add(key)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InstallerError(
                f"{path.name}: member {_shown(name)} is a symlink entry; links are only "
                "accepted from .dist-info/LINKS"
            )
        total += info.file_size
        if info.file_size > limits.ratio_floor and info.file_size > limits.member_ratio * max(
            info.compress_size, 1
        ):
            raise InstallerError(
                f"{path.name}: member {_shown(name)} declares {info.file_size} bytes from "
                f"{info.compress_size} (ratio over {limits.member_ratio}:1, a zip bomb?)"
            )
    if total > limits.total_size:
        raise InstallerError(
            f"{path.name}: members declare {total} bytes uncompressed (limit {limits.total_size})"
        )


def _name_problem(name: str, limits: Limits) -> str | None:
    """What else makes a member name unusable: control characters (a newline splits a
    RECORD row), a name or a path segment longer than file systems accept."""
    if _CONTROL.search(name):
        return "control character in path"
    if len(name.encode("utf-8", "surrogatepass")) > limits.name_bytes:
        return f"longer than {limits.name_bytes} bytes"
    if any(len(s.encode("utf-8", "surrogatepass")) > limits.segment_bytes for s in name.split("/")):
        return f"a path segment longer than {limits.segment_bytes} bytes"
    return None


def _record_claims(path: Path, archive: Any, dist_info: str) -> dict[str, tuple[str, int]]:
    """RECORD's ``(algorithm=digest, size)`` for every row with a hash; an algorithm
    weaker than sha256 (or one that cannot be digested as is) is refused."""
    from installer.records import InvalidRecordEntry, RecordEntry, parse_record_file

    record_name = f"{dist_info}/RECORD"
    try:
        lines = archive.read(record_name).decode("utf-8").splitlines()
        records = {row[0]: RecordEntry.from_elements(*row) for row in parse_record_file(lines)}
    except (InvalidRecordEntry, UnicodeDecodeError) as exc:
        raise InstallerError(f"{path.name}: invalid RECORD ({exc})") from None
    claims: dict[str, tuple[str, int]] = {}
    for row in records.values():
        if row.hash_ is None:
            continue
        if row.hash_.name not in RECORD_HASHES:
            raise InstallerError(
                f"{path.name}: RECORD hashes {_shown(row.path)} with {row.hash_.name!r}; "
                f"a wheel uses one of {', '.join(sorted(RECORD_HASHES))}"
            )
        size = -1 if row.size is None else row.size  # -1: never matches a member
        claims[row.path] = (f"{row.hash_.name}={row.hash_.value}", size)
    return claims


def _check_contents(
    path: Path, archive: Any, infos: list[Any], claims: Mapping[str, tuple[str, int]]
) -> dict[str, tuple[str, int]]:
    """Decompress every member once (bounded by its declared size) against RECORD;
    return the verified (hash, size) of every member RECORD lists with a hash."""
    from installer.records import Hash, RecordEntry

    errors = corrupt_errors()
    verified: dict[str, tuple[str, int]] = {}
    for info in infos:
        if info.is_dir():
            continue
        claim = claims.get(info.filename)
        try:
            with archive.open(info) as stream:
                if claim is not None:
                    record = RecordEntry(info.filename, Hash.parse(claim[0]), claim[1])
                    if not record.validate_stream(stream):
                        raise InstallerError(
                            f"{path.name}: member {_shown(info.filename)} does not match its "
                            "RECORD hash or size"
                        )
                    verified[info.filename] = (claim[0], info.file_size)
                else:
                    while stream.read(2**20):
                        pass
        except errors as exc:
            raise InstallerError(
                f"{path.name}: member {_shown(info.filename)} is corrupt or truncated ({exc})"
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


def _read_text(path: Path, archive: Any, member: str) -> str:
    """A metadata member as text: the installer library and importlib read them as UTF-8."""
    try:
        text: str = archive.read(member).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InstallerError(
            f"{path.name}: {member} is not UTF-8 text (bad byte at {exc.start})"
        ) from None
    return text


def _wheel_file(path: Path, archive: Any, dist_info: str) -> tuple[tuple[int, int], bool]:
    """WHEEL's version and ``Root-Is-Purelib``, read as the installer library reads them.
    PEP 427/777: refuse an unknown major, warn on a newer minor."""
    from installer.utils import parse_metadata_file

    where = f"{path.name}: {dist_info}/WHEEL"
    text = _read_text(path, archive, f"{dist_info}/WHEEL")
    wheel = parse_metadata_file(text)
    stated = wheel["Wheel-Version"]
    # the spelling the install step (and every build tool) uses, on a line of its own
    if not (
        isinstance(stated, str)
        and _WHEEL_VERSION_LINE.fullmatch(f"Wheel-Version: {stated}")
        and f"Wheel-Version: {stated}" in text.splitlines()
    ):
        raise InstallerError(f"{where}: must state 'Wheel-Version: X.Y' on a line of its own")
    version = parse_wheel_version(stated, where)
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
    return version, wheel["Root-Is-Purelib"] == "true"


def _check_metadata(
    path: Path,
    archive: Any,
    dist_info: str,
    filename: tuple[str, str],
    wheel_version: tuple[int, int],
) -> None:
    """METADATA must be UTF-8 core metadata naming the wheel's project and version, as
    must the .dist-info directory's name; its ``Wheel-Version``, if any, must be WHEEL's."""
    from wheelnext.installer.distmeta import DistMetadata

    member = f"{dist_info}/METADATA"
    data = _read_text(path, archive, member).encode("utf-8")
    meta = DistMetadata.parse(data, f"{path.name}: {member}")
    name, version = filename
    try:
        wanted = Version(version)
    except InvalidVersion:
        raise InstallerError(f"{path.name}: {_shown(version)} is not a valid version") from None
    if meta.name != canonicalize_name(name) or meta.version != wanted:
        raise InstallerError(
            f"{path.name}: {member} is for {_shown(meta.display_name)} {meta.version}, "
            "not the project and version in the wheel's filename"
        )
    if Version(dist_info[: -len(".dist-info")].rpartition("-")[2]) != wanted:
        raise InstallerError(
            f"{path.name}: {_shown(dist_info)} does not match the version in the filename"
        )
    if meta.wheel_version is not None:
        stated = parse_wheel_version(meta.wheel_version, f"{path.name}: METADATA")
        if stated != wheel_version:
            raise InstallerError(
                f"{path.name}: METADATA says Wheel-Version {stated[0]}.{stated[1]}, "
                f"WHEEL says {wheel_version[0]}.{wheel_version[1]}"
            )


def _entry_point_scripts(
    path: Path, archive: Any, dist_info: str, names: frozenset[str], limits: Limits
) -> tuple[str, ...]:
    """The script names ``entry_points.txt`` makes, parsed as ``installer.utils.
    parse_entrypoints`` parses it; anything it would fail on (or interpolate) is refused."""
    member = f"{dist_info}/entry_points.txt"
    if member not in names:
        return ()
    where = f"{path.name}: {member}"
    text = _read_text(path, archive, member)
    config = configparser.ConfigParser(delimiters="=")
    config.optionxform = str  # type: ignore[assignment, method-assign]
    scripts: list[str] = []
    try:
        config.read_string(text)
        for section in config.sections():
            if section not in SCRIPT_SECTIONS:
                continue
            for name, value in config.items(section, raw=True):
                if "%" in value:  # interpolation: a bomb, or a value nobody can review
                    raise InstallerError(f"{where}: entry point {_shown(name)} uses '%'")
                match = _ENTRY_POINT.match(value)
                if match is None or match.group("attrs") is None:
                    raise InstallerError(
                        f"{where}: entry point {_shown(name)} = {_shown(value)} is not "
                        "'module:function'"
                    )
                problem = _script_name_problem(name, limits)
                if problem is not None:
                    raise InstallerError(
                        f"{where}: entry point name {_shown(name)} is not a file name ({problem})"
                    )
                scripts.append(name)
    except configparser.Error as exc:
        reason = str(exc).replace("file: '<string>', ", "").replace(" '<string>'", "")
        raise InstallerError(f"{where}: cannot be parsed ({one_line(reason, 200)})") from None
    return tuple(scripts)


def _script_name_problem(name: str, limits: Limits) -> str | None:
    """Why an entry-point name cannot be a script file in ``bin/``, or None."""
    if not name or name in (".", ".."):
        return "empty, '.' or '..'"
    if "/" in name or "\\" in name:
        return "a path separator"
    if _CONTROL.search(name):
        return "a control character"
    if len(name.encode("utf-8", "surrogatepass")) > limits.segment_bytes:
        return f"longer than {limits.segment_bytes} bytes"
    return None


def _check_layout(
    path: Path,
    infos: list[Any],
    *,
    dist_info: str,
    data_dir: str,
    root_is_purelib: bool,
    scripts: tuple[str, ...],
) -> tuple[tuple[str, str], ...]:
    """Where each file goes (scheme, path below it), as the installer library decides:
    ``.data`` members only below a known scheme, no two files on one path, no file
    where another needs a directory. Returns every (scheme, path) installing writes."""
    root = "purelib" if root_is_purelib else "platlib"
    installs = [(root, f"{dist_info}/INSTALLER"), (root, f"{dist_info}/RECORD")]
    what = ["the INSTALLER file the installer writes", "the RECORD the installer writes"]
    for script in scripts:
        installs.append(("scripts", script))
        what.append(f"entry point {_shown(script)}")
    own = f"{dist_info}/{VARIANT_RECORD}".casefold()
    for info in infos:
        name = info.filename
        parts = name.split("/")
        if name.rstrip("/").casefold() == own:  # any case: macOS file systems ignore it
            raise InstallerError(
                f"{path.name}: ships {_shown(name)}, a file only the installer writes "
                "(the variant it chose); a wheel may not contain it"
            )
        if info.is_dir() or name == f"{dist_info}/RECORD" or "__pycache__" in parts[:-1]:
            continue  # the library skips these (a __pycache__ file with a warning)
        if parts[0] != data_dir and parts[0].casefold() == data_dir.casefold():
            raise InstallerError(
                f"{path.name}: member {_shown(name)} is in {_shown(parts[0])}, which differs "
                f"from the wheel's data directory {data_dir} only in case"
            )
        if parts[0] == data_dir:
            if len(parts) < 3 or parts[1] not in DATA_SCHEMES:
                raise InstallerError(
                    f"{path.name}: member {_shown(name)} is not below one of "
                    f"{data_dir}/{{{','.join(DATA_SCHEMES)}}}/"
                )
            installs.append((parts[1], "/".join(parts[2:])))
        elif parts[0].casefold().endswith(".data") and len(parts) > 1:
            raise InstallerError(
                f"{path.name}: member {_shown(name)} is in {_shown(parts[0])}, but the "
                f"wheel's data directory is {data_dir}"
            )
        else:
            installs.append((root, name))
        what.append(f"member {_shown(name)}")
    seen: dict[tuple[str, str], int] = {}  # purelib and platlib may be one directory
    for index, (scheme, relative) in enumerate(installs):
        key = ("lib" if scheme in ("purelib", "platlib") else scheme, relative)
        if key in seen:
            raise InstallerError(
                f"{path.name}: {what[seen[key]]} and {what[index]} would both be "
                f"installed as {scheme}/{relative}"
            )
        seen[key] = index
    for (scheme, relative), index in seen.items():
        parent = relative
        while "/" in parent:
            parent = parent.rpartition("/")[0]
            if (scheme, parent) in seen:
                raise InstallerError(
                    f"{path.name}: {what[index]} would be installed inside "
                    f"{what[seen[scheme, parent]]}, which is a file"
                )
    return tuple(installs)
