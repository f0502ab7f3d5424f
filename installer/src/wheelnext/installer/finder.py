"""From a project name to the wheel to install for each of its versions.

For a version, every wheel the owning index group lists goes to the core selector with
the release's variant metadata (its ``{name}-{version}-variants.json``, or the wheels' own
``variant.json`` merged); the selector's best wheel is the version's wheel: a variant,
else ``null``, else the non-variant wheel. Versions without an installable wheel are
skipped, so the resolver backtracks past them. A release installed at that version as
another variant is kept as installed unless the run reinstalls it (``kept.py``).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from importlib.metadata import Distribution
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelnext.core.errors import MetadataError, WheelnextError, one_line
from wheelnext.core.filenames import (
    WheelFilename,
    is_variants_json_filename,
    parse_variants_json_filename,
)
from wheelnext.core.markers import VariantEnvironment
from wheelnext.core.metadata import VariantMetadata, merge_metadata, parse_metadata
from wheelnext.core.selector import Selector
from wheelnext.installer.archive import (
    check_directory,
    corrupt_errors,
    open_zip,
    wheel_version_supported,
)
from wheelnext.installer.distmeta import DistMetadata
from wheelnext.installer.errors import InstallerError, TooLarge
from wheelnext.installer.http import HttpClient
from wheelnext.installer.indexes import IndexSet, Located, ProjectFiles
from wheelnext.installer.kept import Kept, keep
from wheelnext.installer.names import storage_path
from wheelnext.installer.simple_api import FileEntry, ProjectPage
from wheelnext.installer.target import Target
from wheelnext.installer.variant_wheels import read_variant

LOG = logging.getLogger("wheelnext.installer")
EARLY = 4  # PEP 658 files read ahead per project: the newest version's usable wheels
AHEAD_BYTES = 1 << 20  # a PEP 658 file larger than this is read only when resolution asks


@dataclass(frozen=True, slots=True)
class Chosen:
    """The wheel picked for one version of a project, where it came from, and why."""

    name: str
    version: Version
    located: Located
    wheel: WheelFilename
    why: str
    variant_env: VariantEnvironment
    # the release's variant metadata the wheel was selected by (checked again at install)
    variant_metadata: VariantMetadata | None = None
    # set when the installed variant is kept instead of the one this machine selects
    kept: Kept | None = None

    @property
    def filename(self) -> str:
        return self.located.file.filename

    @property
    def selects(self) -> WheelFilename:
        """The wheel this machine selects for the version (another one when one is kept)."""
        return self.kept.selects if self.kept is not None else self.wheel


def _version(filename: str) -> Version | None:
    try:
        return WheelFilename.parse(filename).version if filename.endswith(".whl") else None
    except (WheelnextError, InvalidVersion):
        return None


def exact_pin(specifier: SpecifierSet) -> bool:
    """``==1.0`` or ``===1.0`` (no wildcard): the only case a yanked file may be used."""
    specs = list(specifier)
    return len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version


class Finder:
    """Caches pages, choices and metadata for one install run."""

    def __init__(
        self, indexes: IndexSet, selector: Selector, target: Target, http: HttpClient, work: Path
    ) -> None:
        self.indexes, self.selector, self.target, self.http, self.work = (
            indexes,
            selector,
            target,
            http,
            work,
        )
        self._files: dict[str, ProjectFiles] = {}
        self._chosen: dict[tuple[str, Version], Chosen | None] = {}
        self._meta: dict[str, DistMetadata] = {}  # by file URL
        self._pep658: dict[str, DistMetadata] = {}  # the index's METADATA, by file URL
        self._checked: set[str] = set()  # wheels whose METADATA matched the PEP 658 file
        self._installed: dict[str, Distribution] = {}  # releases kept as installed
        self._fetched: dict[str, Path] = {}  # by file URL: where the verified file lies
        self._tags = frozenset(target.tags)
        # PEP 658 files read ahead (``prefetch``), by URL and the hashes they were checked against
        self._early: dict[tuple[str, frozenset[tuple[str, str]]], Future[bytes | None]] = {}
        self._early_taken: set[tuple[str, frozenset[tuple[str, str]]]] = set()  # used
        self._read_ahead_for: set[str] = set()  # projects whose files were read ahead
        self._early_lock = threading.Lock()

    def keep_installed(self, present: Mapping[str, Distribution]) -> None:
        """Keep the variant of each release in ``present`` (by canonical name) when
        resolution picks its installed version: that version is resolved with the installed
        variant's dependencies (``wn install`` without ``--reinstall-variants``)."""
        self._installed = dict(present)

    # -- which files ----------------------------------------------------------------

    def _usable(self, entry: FileEntry, specifier: SpecifierSet) -> bool:
        version = _version(entry.filename)
        if version is None or not specifier.contains(version, prereleases=True):
            return False
        if entry.is_yanked and not exact_pin(specifier):
            return False
        if entry.requires_python:
            try:
                if not SpecifierSet(entry.requires_python).contains(
                    self.target.python_version, prereleases=True
                ):
                    return False
            except ValueError:
                return False
        wheel = WheelFilename.parse(entry.filename)
        return not self._tags.isdisjoint(wheel.tags)

    def prefetch(self, requests: Iterable[tuple[str, SpecifierSet]]) -> None:
        """Start reading each request's pages and, once per project, the PEP 658 files of
        the newest usable version's wheels (``EARLY`` at most, each ``AHEAD_BYTES`` at
        most): what resolution is likely to ask for next, read while it works on
        something else (``metadata`` uses them)."""
        for project, specifier in requests:
            canonical = canonicalize_name(project)
            with self._early_lock:
                first = canonical not in self._read_ahead_for
                self._read_ahead_for.add(canonical)
            then = functools.partial(self._read_ahead, specifier) if first else None
            self.indexes.prefetch([canonical], then)

    def _read_ahead(self, specifier: SpecifierSet, project: str, page: ProjectPage) -> None:
        """Read the PEP 658 files of ``page``'s newest usable version (on an index thread)."""
        usable = [
            (version, entry)
            for entry in page.files
            if entry.core_metadata
            and entry.url.startswith(("http://", "https://"))  # as ``check_source`` wants
            and (version := _version(entry.filename)) is not None
            and self._usable(entry, specifier)
        ]
        final = [v for v, _ in usable if not v.is_prerelease]
        newest = max(final or [v for v, _ in usable], default=None)
        for entry in [e for v, e in usable if v == newest][:EARLY]:
            self._read_one_ahead(entry)

    def _read_one_ahead(self, entry: FileEntry) -> None:
        """Read ``entry``'s PEP 658 file for resolution (``AHEAD_BYTES`` at most), unless
        it is being read or resolution has had it; what fails is kept for resolution."""
        key = _early_key(entry)
        with self._early_lock:
            if key in self._early or key in self._early_taken:
                return
            future: Future[bytes | None] = Future()
            self._early[key] = future
        try:
            future.set_result(
                self.http.get_bytes(entry.url + ".metadata", dict(key[1]), AHEAD_BYTES)
            )
        except TooLarge:
            future.set_result(None)  # resolution reads it, with the usual limit
        except BaseException as exc:
            future.set_exception(exc)

    def _pep658_bytes(self, entry: FileEntry) -> bytes:
        """``entry``'s PEP 658 file, checked against its hashes: what a read ahead got (its
        error if it failed; waited for while in flight, then dropped), else read now."""
        key = _early_key(entry)
        with self._early_lock:
            self._early_taken.add(key)
            future = self._early.pop(key, None)
        if future is not None:
            data = future.result()  # raises what the read ahead met
            if data is not None:
                return data
        return self.http.get_bytes(entry.url + ".metadata", dict(key[1]))

    def files(self, project: str, specifier: SpecifierSet) -> ProjectFiles:
        """The project's files from the index group index priority picks for this request."""
        key = f"{canonicalize_name(project)} {specifier}"
        if key not in self._files:
            self._files[key] = self.indexes.lookup(
                project, lambda entry: self._usable(entry, specifier)
            )
        return self._files[key]

    def versions(self, project: str, specifier: SpecifierSet, prereleases: bool) -> list[Version]:
        """Versions with a usable wheel, newest first (pre-releases only when asked for or
        when nothing else matches, as PEP 440 says)."""
        found = self.files(project, specifier)
        versions = sorted(
            {
                v
                for located in found.files
                if self._usable(located.file, specifier)
                and (v := _version(located.file.filename)) is not None
            },
            reverse=True,
        )
        final = [v for v in versions if not v.is_prerelease]
        return versions if prereleases or not final else final

    # -- which wheel ----------------------------------------------------------------

    def choose(self, project: str, version: Version, specifier: SpecifierSet) -> Chosen | None:
        """The selector's best wheel of ``project`` ``version`` (None: nothing installable)."""
        key = (canonicalize_name(project), version)
        if key in self._chosen:
            return self._chosen[key]
        found = self.files(project, specifier)
        located = {
            f.file.filename: f
            for f in found.files
            if _version(f.file.filename) == version and self._usable(f.file, specifier)
        }
        variants_json = [
            f
            for f in found.files
            if is_variants_json_filename(f.file.filename)
            and _version_of_variants(f.file.filename) == version
        ]
        metadata: VariantMetadata | MetadataError | None = None
        if any(WheelFilename.parse(name).label is not None for name in located):
            metadata = release_metadata(
                self.http, self.fetch, variants_json, list(located.values())
            )
        selection = self.selector.rank(list(located), metadata)
        for rejection in selection.rejected:
            LOG.info("%s: %s", rejection.wheel, rejection.reason)
        chosen = None
        if selection.ranked:
            best, kept = keep(self._installed.get(key[0]), version, selection.ranked)
            meta = metadata if isinstance(metadata, VariantMetadata) else None
            chosen = Chosen(
                found.project,
                version,
                located[str(best.wheel)],
                best.wheel,
                best.why,
                self.selector.variant_environment(best.wheel, meta),
                meta,
                kept,
            )
            requires = self.metadata(chosen).requires_python
            if requires is not None and not requires.contains(
                self.target.python_version, prereleases=True
            ):
                # the index did not say; METADATA does: skip the version, let resolution go on
                LOG.info("%s %s requires Python %s; skipped", project, version, requires)
                chosen = None
            elif not wheel_version_supported(self.metadata(chosen).wheel_version):
                # PEP 777: resolvers skip wheels of a newer format, and say so
                LOG.warning(
                    "%s: Wheel-Version %s is newer than this installer reads; skipped",
                    chosen.filename,
                    self.metadata(chosen).wheel_version,
                )
                chosen = None
        self._chosen[key] = chosen
        return chosen

    # -- files and metadata -----------------------------------------------------------

    def fetch(
        self, located: Located, progress: Callable[[int, int | None], None] | None = None
    ) -> Path:
        """Download (or reuse) a file, verified against every hash the index gave, under a
        path we derive (never the server's name as a path). A cached or local
        (``--find-links``, ``file:``) file is handed over where it lies, not copied: the
        path returned is only ever read. A wheel whose PEP 658 metadata was read is checked
        to carry the same METADATA."""
        entry = located.file
        check_source(located)
        destination = self._fetched.get(entry.url)
        if destination is None:
            destination = self.http.download(
                entry.url,
                None,
                storage_path(self.work / "downloads", entry.url, entry.filename),
                progress,
                hashes=entry.hashes,
                expected_size=entry.size,
                in_place=True,
            )
            self._fetched[entry.url] = destination
        served = self._pep658.get(entry.url)
        if served is not None and entry.url not in self._checked:
            inside = self._wheel_metadata(destination, entry.filename, entry.hashes.get("sha256"))
            _same_metadata(served, inside, entry)
            self._checked.add(entry.url)
        return destination

    def _wheel_metadata(
        self, wheel: Path, filename: str, sha256: str | None = None
    ) -> DistMetadata:
        """The METADATA inside a wheel; its ``.dist-info`` must be the filename's.

        ``sha256``: the wheel's, verified by ``fetch``; then the METADATA read from it
        under this filename is kept in the cache (``wheel-metadata/ab/<sha256>``), so a
        warm run opens no zip for it (same bytes and name, same METADATA and check)."""
        memo = None if sha256 is None else self.http._by_hash(sha256, "wheel-metadata")
        data = None if memo is None else _read_memo(memo, filename)
        if data is not None:
            return DistMetadata.parse(data, filename)
        errors: tuple[type[BaseException], ...] = (*corrupt_errors(), KeyError)
        try:
            with open_zip(wheel) as archive:
                check_directory(wheel, archive)  # before reading a member: as installing does
                name = f"{_dist_info(archive, filename)}/METADATA"
                data = archive.read(name)
        except errors as exc:
            raise InstallerError(f"{filename}: not a valid wheel archive ({exc})") from None
        meta = DistMetadata.parse(data, filename)
        if memo is not None:
            _write_memo(memo, filename, data)
        return meta

    def requirements_of(self, chosen: Chosen) -> tuple[DistMetadata, VariantEnvironment]:
        """The METADATA and variant environment ``chosen``'s dependencies are read from: the
        installed wheel's own when its variant is kept but cannot be chosen here."""
        installed = chosen.kept.installed if chosen.kept is not None else None
        if installed is not None:
            return installed.metadata, installed.variant_env
        return self.metadata(chosen), chosen.variant_env

    def metadata(self, chosen: Chosen) -> DistMetadata:
        """The chosen wheel's METADATA: the PEP 658 file when offered, else from the wheel.
        Either must name the project and version of the filename."""
        entry = chosen.located.file
        if entry.url in self._meta:
            return self._meta[entry.url]
        check_source(chosen.located)
        if entry.core_metadata:
            data = self._pep658_bytes(entry)
            meta = DistMetadata.parse(data, f"{entry.filename}.metadata")
            self._pep658[entry.url] = meta
        else:
            wheel = self.fetch(chosen.located)
            meta = self._wheel_metadata(wheel, entry.filename, entry.hashes.get("sha256"))
        if meta.name != canonicalize_name(chosen.name) or meta.version != chosen.version:
            raise InstallerError(
                f"{entry.filename}: METADATA says {one_line(meta.display_name, 80)} "
                f"{meta.version}, not {chosen.name} {chosen.version}"
            )
        self._meta[entry.url] = meta
        return meta


def _early_key(entry: FileEntry) -> tuple[str, frozenset[tuple[str, str]]]:
    """What a PEP 658 file read ahead is kept under: its wheel's URL and expected hashes."""
    expected = entry.core_metadata if isinstance(entry.core_metadata, dict) else {}
    return entry.url, frozenset(expected.items())


def check_source(located: Located) -> None:
    """A file listed by a remote index must be fetched over http(s), never from disk."""
    if not located.index.flat and not located.file.url.startswith(("http://", "https://")):
        raise InstallerError(
            f"index {located.index.name}: refusing {located.file.filename}: "
            "a remote index may point only to http and https URLs"
        )


def _same_metadata(served: DistMetadata, inside: DistMetadata, entry: FileEntry) -> None:
    """The PEP 658 file the index served and the wheel's own METADATA must agree on what
    resolution used: name, version, Requires-Dist and Requires-Python."""

    def key(meta: DistMetadata) -> tuple[object, ...]:
        requires = sorted(f"{w.requirement}; {w.marker}" for w in meta.requires_dist)
        return meta.name, meta.version, requires, str(meta.requires_python or "")

    fields = ("Name", "Version", "Requires-Dist", "Requires-Python")
    for field_name, a, b in zip(fields, key(served), key(inside), strict=True):
        if a != b:
            raise InstallerError(
                f"{entry.filename}: the wheel's METADATA differs from the index's "
                f"{entry.filename}.metadata ({field_name}); refusing it"
            )


def release_metadata(
    http: HttpClient,
    fetch: Callable[[Located], Path],
    variants_json: list[Located],
    wheels: list[Located],
) -> VariantMetadata | MetadataError:
    """A release's combined variant metadata, or the error that makes it unusable: its
    ``variants.json`` when listed, else each label's own ``variant.json`` merged (PEP 825)."""
    try:
        if variants_json:
            check_source(variants_json[0])
            entry = variants_json[0].file
            data = http.get_bytes(entry.url, entry.hashes)
            return parse_metadata(data, source=entry.url)
        merged: VariantMetadata | None = None
        seen: set[str] = set()
        for located in wheels:
            label = WheelFilename.parse(located.file.filename).label
            if label is None or label in seen:
                continue
            seen.add(label)
            single = read_variant(fetch(located)).metadata
            if single is None:
                return MetadataError(f"{located.file.filename}: no variant.json")
            merged = single if merged is None else merge_metadata(merged, single)
        return merged or MetadataError("no variant metadata")
    except MetadataError as exc:
        return exc
    except (InstallerError, OSError) as exc:
        return MetadataError(f"variant metadata unavailable: {exc}")


def _version_of_variants(filename: str) -> Version | None:
    try:
        return parse_variants_json_filename(filename)[1]
    except WheelnextError:
        return None


MAX_MEMO = 16 * 2**20  # a kept METADATA larger than this is ignored (read from the zip)


def _read_memo(memo: Path, filename: str) -> bytes | None:
    """The METADATA kept for the wheel called ``filename`` (first line), or None when
    absent, for another name, or unreadable."""
    try:
        with memo.open("rb") as stream:
            data = stream.read(MAX_MEMO + 1)
    except OSError:
        return None
    name, newline, metadata = data.partition(b"\n")
    if not newline or len(data) > MAX_MEMO or name != filename.encode():
        return None
    return metadata


def _write_memo(memo: Path, filename: str, data: bytes) -> None:
    """Keep a wheel's METADATA (whole or not at all: written aside, then renamed); a
    cache that cannot be written is only slower next time."""
    partial = memo.with_name(f".{memo.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(filename.encode() + b"\n" + data)
        partial.replace(memo)
    except OSError:
        partial.unlink(missing_ok=True)


def _dist_info(archive: Any, filename: str) -> str:
    """The wheel's one ``.dist-info`` directory, which must be the filename's project and
    version (so a wheel cannot install files under another project's name)."""
    tops: set[str] = {name.split("/", 1)[0] for name in archive.namelist()}
    found = [t for t in tops if t.endswith(".dist-info")]
    if len(found) != 1:
        raise InstallerError(f"{filename}: expected one .dist-info directory, found {len(found)}")
    stem = found[0].removesuffix(".dist-info")
    name, _, version = stem.rpartition("-")
    wheel = WheelFilename.parse(filename)
    try:
        same = canonicalize_name(name) == wheel.name and Version(version) == wheel.version
    except InvalidVersion:
        same = False
    if not same:
        raise InstallerError(
            f"{filename}: its {one_line(found[0], 120)} is not {wheel.name} {wheel.version}'s"
        )
    return found[0]


def iter_versions(finder: Finder, project: str, specifier: SpecifierSet) -> Iterator[Chosen]:
    """Chosen wheels newest version first, computed lazily (variant metadata is fetched
    only for versions the resolver actually tries)."""
    prereleases = bool(specifier.prereleases)
    for version in finder.versions(project, specifier, prereleases):
        chosen = finder.choose(project, version, specifier)
        if chosen is not None:
            yield chosen
