"""Writing ``pylock.toml`` from resolutions (one per machine profile): every wheel of each
locked release the index offers for the target (or only the selected ones), with size,
hashes, upload time and the index it came from, and the pruned ``variants-json``.

Output is deterministic: tables have sorted keys, arrays of packages, wheels and
dependencies are sorted, so re-locking unchanged input gives the same bytes.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from wheelnext.core.errors import MetadataError, WheelnextError
from wheelnext.core.filenames import (
    WheelFilename,
    is_variants_json_filename,
    parse_variants_json_filename,
)
from wheelnext.core.markers import VariantEnvironment
from wheelnext.core.metadata import VariantMetadata
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.finder import Chosen, Finder, release_metadata
from wheelnext.installer.http import local_path, without_credentials
from wheelnext.installer.indexes import Located
from wheelnext.installer.lock.model import CREATED_BY, LOCK_VERSION, TOOL
from wheelnext.installer.lock.variants_json import prune
from wheelnext.installer.resolver import Resolution
from wheelnext.installer.target import Target

LOG = logging.getLogger("wheelnext.installer")
Mode = Literal["all", "selected"]
# the target facts a lock is only valid for (written as ``environments``)
ENVIRONMENT_KEYS = ("implementation_name", "python_version", "sys_platform", "platform_machine")


@dataclass(frozen=True, slots=True)
class ProfileRun:
    """One machine profile's resolution, and the finder that made it."""

    profile: str
    finder: Finder
    resolution: Resolution


def _sorted(value: Any) -> Any:
    """Tables with their keys sorted, recursively (arrays keep the order given)."""
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _upload_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        LOG.warning("ignoring an unreadable upload-time %r", text[:40])
        return None
    return stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def usable(located: Located, version: Version, target: Target, selected: set[str]) -> bool:
    entry = located.file
    if not entry.filename.endswith(".whl"):
        return False
    try:
        wheel = WheelFilename.parse(entry.filename)
    except WheelnextError:
        return False
    if wheel.version != version or not wheel.tags & set(target.tags):
        return False
    if entry.is_yanked and entry.filename not in selected:
        return False
    if entry.requires_python:
        try:
            return SpecifierSet(entry.requires_python).contains(
                target.python_version, prereleases=True
            )
        except InvalidSpecifier:
            return False
    return True


def release_wheels(
    finder: Finder, name: str, version: Version, target: Target, selected: set[str]
) -> tuple[Sequence[Located], list[Located]]:
    """The files the indexes list for ``name`` ``version``, and those of them that are
    wheels ``target`` can install (a yanked one only if ``selected``)."""
    files = finder.files(name, SpecifierSet(f"=={version}")).files
    return files, [f for f in files if usable(f, version, target, selected)]


def release_variants(
    finder: Finder, files: Sequence[Located], version: Version, wheels: Sequence[Located]
) -> VariantMetadata | MetadataError:
    """The release's variant metadata: its listed ``variants.json`` or the wheels' own."""
    listed = [
        f
        for f in files
        if is_variants_json_filename(f.file.filename)
        and parse_variants_json_filename(f.file.filename)[1] == version
    ]
    return release_metadata(finder.http, finder.fetch, listed, list(wheels))


class LockWriter:
    """Builds the lock document from one or more profile runs on one target."""

    def __init__(
        self, runs: Sequence[ProfileRun], target: Target, mode: Mode, lock_dir: Path
    ) -> None:
        if not runs:
            raise InstallerError("nothing to lock")
        self.runs, self.target, self.mode, self.lock_dir = runs, target, mode, lock_dir.resolve()

    def document(self, requested: Sequence[str]) -> dict[str, Any]:
        names = sorted({n for run in self.runs for n in run.resolution.chosen})
        versions = {n: self._version(n) for n in names}
        packages = [self._package(n, versions) for n in names]
        major_minor = self.target.markers["python_version"]
        environment = " and ".join(
            f"{key} == {self.target.markers[key]!r}".replace("'", '"') for key in ENVIRONMENT_KEYS
        )
        doc: dict[str, Any] = {
            "lock-version": LOCK_VERSION,
            "created-by": CREATED_BY,
            "requires-python": f"=={major_minor}.*",
            "environments": [environment],
            "packages": packages,
            "tool": {
                TOOL: {
                    "requested": sorted({canonicalize_name(r) for r in requested}),
                    "profiles": sorted({run.profile for run in self.runs}),
                    "wheels": self.mode,
                }
            },
        }
        ordered: dict[str, Any] = _sorted(doc)
        return ordered

    def _version(self, name: str) -> Version:
        found = {
            run.resolution.chosen[name].version
            for run in self.runs
            if name in run.resolution.chosen
        }
        if len(found) != 1:  # the runs pin each other's versions; this is a safeguard
            raise InstallerError(f"{name}: the profiles resolved different versions")
        return found.pop()

    def _chosen(self, name: str) -> list[tuple[ProfileRun, Chosen]]:
        return [(r, r.resolution.chosen[name]) for r in self.runs if name in r.resolution.chosen]

    def _package(self, name: str, versions: Mapping[str, Version]) -> dict[str, Any]:
        chosen = self._chosen(name)
        run, first = chosen[0]
        version = first.version
        selected = {c.filename for _, c in chosen}
        files, wheels = release_wheels(run.finder, name, version, self.target, selected)
        if self.mode == "selected":
            wheels = [f for f in wheels if f.file.filename in selected]
        labels = _labels(wheels)
        metadata: VariantMetadata | MetadataError | None = None
        if labels:
            metadata = release_variants(run.finder, files, version, wheels)
        wheels = [f for f in wheels if self._listable(f, metadata, selected)]
        labels = _labels(wheels)
        package: dict[str, Any] = {
            "name": canonicalize_name(name),
            "version": str(version),
            "wheels": sorted(
                (self._wheel(run.finder, f) for f in wheels), key=lambda w: str(w["name"])
            ),
        }
        indexes = sorted({f.index.url for f in wheels if not f.index.flat})
        if first.located.index.flat is False:  # a lock never holds a password
            package["index"] = without_credentials(first.located.index.url)
        tool: dict[str, Any] = {}
        if len(indexes) > 1:
            tool["file-indexes"] = {
                f.file.filename: without_credentials(f.index.url)
                for f in wheels
                if not f.index.flat
            }
        if isinstance(metadata, VariantMetadata) and labels:
            package["variants-json"] = prune(metadata, labels)
        meta = run.finder.metadata(first)
        if meta.requires_python is not None:
            package["requires-python"] = str(meta.requires_python)
        deps = self._dependencies(chosen, versions)
        if deps:
            package["dependencies"] = deps
        extras = sorted({e for r, _ in chosen for e in r.resolution.extras.get(name, set())})
        if extras:
            tool["extras"] = extras
        if tool:
            package["tool"] = {TOOL: tool}
        return package

    def _listable(
        self, located: Located, metadata: VariantMetadata | MetadataError | None, selected: set[str]
    ) -> bool:
        label = WheelFilename.parse(located.file.filename).label
        if label is None:
            return True
        if isinstance(metadata, VariantMetadata) and label in metadata.variants:
            return True
        why = metadata if isinstance(metadata, MetadataError) else "no variant metadata"
        if located.file.filename in selected:
            raise InstallerError(f"{located.file.filename}: cannot lock it ({why})")
        LOG.warning("%s: not locked (%s)", located.file.filename, why)
        return False

    def _wheel(self, finder: Finder, located: Located) -> dict[str, Any]:
        entry = located.file
        wheel: dict[str, Any] = {"name": entry.filename}
        hashes = dict(entry.hashes)
        size = entry.size
        if located.index.flat:
            path = local_path(entry.url) if entry.url.startswith("file:") else Path(entry.url)
            path = path.resolve()
            if self.lock_dir not in path.parents:
                raise InstallerError(
                    f"{entry.filename}: a --find-links file is locked by a path relative to "
                    "the lock, so it must lie in the lock's directory or below"
                )
            wheel["path"] = Path(os.path.relpath(path, self.lock_dir)).as_posix()
        else:
            wheel["url"] = without_credentials(entry.url)
        if "sha256" not in hashes or size is None:
            downloaded = finder.fetch(located)
            hashes.setdefault("sha256", _sha256(downloaded))
            size = downloaded.stat().st_size if size is None else size
        wheel["hashes"] = hashes
        wheel["size"] = size
        stamp = _upload_time(entry.upload_time)
        if stamp is not None:
            wheel["upload-time"] = stamp
        return wheel

    def _dependencies(
        self, chosen: list[tuple[ProfileRun, Chosen]], versions: Mapping[str, Version]
    ) -> list[dict[str, Any]]:
        """Edges to locked packages from the Requires-Dist of each profile's selected
        wheel; a variant-marker condition stays on the edge (never in packages.marker)."""
        edges: dict[tuple[str, str], dict[str, Any]] = {}
        for run, picked in chosen:
            meta = run.finder.metadata(picked)
            extras = {""} | run.resolution.extras.get(canonicalize_name(picked.name), set())
            for wanted in meta.requires_dist:
                dep = wanted.name
                if dep not in versions:
                    continue
                edge: dict[str, Any] = {"name": dep, "version": str(versions[dep])}
                marker = wanted.marker
                if marker is not None and marker.uses_variants:
                    edge["marker"] = str(marker)
                elif marker is not None and not any(
                    marker.evaluate(VariantEnvironment(), {**self.target.markers, "extra": e})
                    for e in extras
                ):
                    continue
                edges.setdefault((dep, edge.get("marker", "")), edge)
        return [edges[k] for k in sorted(edges)]


def _labels(wheels: Sequence[Located]) -> set[str]:
    found = (WheelFilename.parse(f.file.filename).label for f in wheels)
    return {label for label in found if label is not None}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dumps(doc: Mapping[str, Any]) -> str:
    """The TOML text of a lock document (``tomli_w``; multi-line arrays for diffs)."""
    import tomli_w

    return tomli_w.dumps(doc, multiline_strings=False, indent=4)
