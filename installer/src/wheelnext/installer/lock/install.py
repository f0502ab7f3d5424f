"""Installing from a ``pylock.toml`` without resolving: per package, variant selection for
this machine (or a profile) over the listed wheels and ``variants-json``, every listed
hash verified, each wheel's ``variant.json`` and Requires-Dist checked against the lock,
then one transaction.

Which packages: in a lock we wrote (``[tool.wheelnext] requested``), those reachable from
the requested ones along dependency edges whose marker holds for the depending package's
selected wheel (so a dependency behind a variant marker follows the variant); in any other
lock, every package whose ``marker`` holds (PEP 751).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import Distribution
from pathlib import Path
from typing import Any

from packaging.markers import Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.specifiers import SpecifierSet

from wheelnext.core.errors import WheelnextError, one_line
from wheelnext.core.filenames import WheelFilename
from wheelnext.core.markers import VariantEnvironment, VariantMarker
from wheelnext.core.selector import Selector
from wheelnext.installer.archive import corrupt_errors, open_zip
from wheelnext.installer.distmeta import DistMetadata
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.finder import Chosen
from wheelnext.installer.http import HttpClient, checkable
from wheelnext.installer.indexes import Index, Located
from wheelnext.installer.kept import Kept, keep
from wheelnext.installer.lock.model import Lock, LockedPackage, LockedWheel
from wheelnext.installer.lock.variants_json import check_wheel
from wheelnext.installer.simple_api import FileEntry
from wheelnext.installer.target import Target
from wheelnext.installer.variant_wheels import read_variant

LOCK_GROUP = "lock"
LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Picked:
    """A locked package and the wheel selected for it here."""

    package: LockedPackage
    wheel: LockedWheel
    filename: WheelFilename
    why: str
    env: VariantEnvironment
    kept: Kept | None = None  # installed as another variant, kept (``kept.py``)


class LockInstaller:
    """Selects, downloads and checks the wheels of one lock for one target."""

    def __init__(
        self, lock: Lock, lock_dir: Path, selector: Selector, target: Target, http: HttpClient
    ) -> None:
        self.lock, self.lock_dir, self.selector, self.target, self.http = (
            lock,
            lock_dir.resolve(),
            selector,
            target,
            http,
        )
        self._installed: dict[str, Distribution] = {}

    def keep_installed(self, present: Mapping[str, Distribution]) -> None:
        """Keep the installed variant of each release in ``present`` (canonical names)
        the lock has at the installed version, as ``wn install`` from an index does
        without ``--reinstall-variants``: its dependencies decide which entries follow."""
        self._installed = dict(present)

    def where(self, package: LockedPackage) -> str:
        return f"{self.lock.path}: {package.name} {package.version}"

    # -- which packages -----------------------------------------------------------------

    def _python_fits(self, requires_python: str | None) -> bool:
        return not requires_python or SpecifierSet(requires_python).contains(
            self.target.python_version, prereleases=True
        )

    def check_environment(self) -> None:
        if not self._python_fits(self.lock.requires_python):
            raise InstallerError(
                f"{self.lock.path}: requires-python {self.lock.requires_python} excludes "
                f"Python {self.target.python_version}"
            )
        if self.lock.environments and not any(
            self._holds(text, self.lock.path) for text in self.lock.environments
        ):
            raise InstallerError(
                f"{self.lock.path}: none of its environments is this one; lock again here"
            )

    def _holds(self, marker: str, where: str) -> bool:
        """A standard marker for this target; PEP 751's ``extras``/``dependency_groups``
        are empty (we install no extras or groups a lock names)."""
        env: dict[str, Any] = {**self.target.markers, "extras": set(), "dependency_groups": set()}
        try:
            return Marker(marker).evaluate(env)
        except (UndefinedComparison, UndefinedEnvironmentName, TypeError) as exc:
            raise InstallerError(
                f"{where}: cannot evaluate marker {one_line(marker, 120)!r} ({exc})"
            ) from None

    def _applies(self, package: LockedPackage) -> bool:
        if package.marker is not None and not self._holds(package.marker, self.where(package)):
            return False
        return self._python_fits(package.requires_python)

    def plan(self) -> list[Picked]:
        """The packages to install and the wheel chosen for each, in name order."""
        self.check_environment()
        candidates: dict[str, LockedPackage] = {}
        for package in self.lock.packages:
            if not self._applies(package):
                continue
            if package.name in candidates:
                raise InstallerError(
                    f"{self.lock.path}: two entries for {package.name} apply to this environment"
                )
            candidates[package.name] = package
        for package in self.lock.packages:  # said, so that "installed nothing" is explained
            wanted = self.lock.requested is None or package.name in self.lock.requested
            if wanted and package.name not in candidates:
                LOG.warning("skipped %s: %s", package.name, self._why_skipped(package))
        picked: dict[str, Picked] = {}
        if self.lock.requested is None:
            for package in candidates.values():
                picked[package.name] = self.pick(package)
            return [picked[n] for n in sorted(picked)]
        todo = sorted(n for n in self.lock.requested if n in candidates)
        missing = sorted(self.lock.requested - {p.name for p in self.lock.packages})
        if missing:  # requested but never locked (an entry whose marker fails is skipped)
            raise InstallerError(f"{self.lock.path}: no entry for {missing[0]}")
        while todo:
            name = todo.pop()
            if name in picked:
                continue
            choice = picked[name] = self.pick(candidates[name])
            for dep in choice.package.dependencies:
                if dep.name in picked or not self._edge_holds(choice, dep.marker):
                    continue
                if dep.name not in candidates:
                    raise InstallerError(
                        f"{self.where(choice.package)}: depends on {dep.name}, which has no "
                        "entry for this environment"
                    )
                todo.append(dep.name)
        return [picked[n] for n in sorted(picked)]

    def _why_skipped(self, package: LockedPackage) -> str:
        """Why an entry does not apply here, in words (its marker or requires-python)."""
        if package.marker is not None and not self._holds(package.marker, self.where(package)):
            return f"marker {one_line(package.marker, 120)!r} is false here"
        return (
            f"requires-python {one_line(package.requires_python or '', 60)!r} excludes "
            f"Python {self.target.python_version}"
        )

    def _edge_holds(self, parent: Picked, marker: str | None) -> bool:
        if marker is None:
            return True
        try:
            parsed = VariantMarker(marker)
            return any(
                parsed.evaluate(parent.env, {**self.target.markers, "extra": extra})
                for extra in ("", *parent.package.extras)
            )
        except WheelnextError as exc:  # e.g. 'a' in dependency_groups: not a 508 marker
            raise InstallerError(
                f"{self.where(parent.package)}: dependency marker: {one_line(str(exc), 300)}"
            ) from None

    # -- which wheel ----------------------------------------------------------------------

    def pick(self, package: LockedPackage) -> Picked:
        """Variant selection over the listed wheels with the lock's ``variants-json``."""
        if not package.wheels:
            what = "only a source distribution" if package.sdist_only else "no wheel"
            raise InstallerError(
                f"{self.where(package)}: the lock lists {what}; wn installs wheels only"
            )
        by_name = {w.name: w for w in package.wheels}
        selection = self.selector.rank(list(by_name), package.variants)
        if not selection.ranked:
            reason = selection.rejected[0].reason if selection.rejected else "no wheel"
            raise InstallerError(
                f"{self.where(package)}: no listed wheel fits this machine "
                f"({one_line(reason, 200)})"
            )
        best, kept = keep(self._installed.get(package.name), package.version, selection.ranked)
        env = self.selector.variant_environment(best.wheel, package.variants)
        if kept is not None and kept.installed is not None:  # its label is not usable here
            env = kept.installed.variant_env
        return Picked(package, by_name[str(best.wheel)], best.wheel, best.why, env, kept)

    # -- the files ------------------------------------------------------------------------

    def fetch(self, picked: Picked, work: Path) -> Path:
        """The wheel, every listed hash (and the size) verified: a locked ``path`` where it
        lies, a ``url`` from (or downloaded into) the HTTP cache, else into ``work``. The
        path returned may be the user's file or the cache's: it is only ever read."""
        wheel = picked.wheel
        where = f"{self.where(picked.package)}: {wheel.name}"
        usable = checkable(wheel.hashes)
        if not usable:
            raise InstallerError(f"{where}: no hash this installer can verify")
        if wheel.url is not None:
            url = wheel.url
        else:
            assert wheel.path is not None
            source = (self.lock_dir / wheel.path).resolve()
            if self.lock_dir not in source.parents:
                raise InstallerError(f"{where}: its path leaves the lock's directory")
            url = source.as_uri()
        # named as the wheel (the name was checked when the lock was read): the cache keeps
        # a download under this name, and readers take the wheel's name from the path
        destination = work / hashlib.sha256(wheel.name.encode()).hexdigest()[:32] / wheel.name
        try:
            found = self.http.download(
                url,
                None,
                destination,
                hashes=usable,
                expected_size=wheel.size,
                in_place=True,
                source="the lock",
            )
        except InstallerError as exc:
            message = str(exc)
            if wheel.path is not None:  # the lock names the file: no file: URL in the message
                message = message.removeprefix(f"{url}: ")
            raise InstallerError(f"{where}: {message}") from None
        try:
            size = found.stat().st_size
        except OSError as exc:
            raise InstallerError(f"{where}: {exc.strerror or exc}") from None
        if wheel.size is not None and size != wheel.size:  # the file is left as it is
            raise InstallerError(f"{where}: size {size} differs from the lock's {wheel.size}")
        return found

    def check(self, picked: Picked, path: Path, locked: Mapping[str, Picked]) -> None:
        """The wheel agrees with the lock: its ``variant.json`` with ``variants-json``, its
        METADATA with the entry, and every dependency it has here is locked."""
        where = f"{self.where(picked.package)}: {picked.wheel.name}"
        try:
            own = read_variant(path)
        except WheelnextError as exc:
            raise InstallerError(f"{self.lock.path}: {exc}") from None
        label = picked.filename.label
        if label is not None:
            if picked.package.variants is None or own.metadata is None:
                raise InstallerError(f"{where}: a variant wheel without variant metadata")
            check_wheel(picked.package.variants, own.metadata, label, where)
        meta = _metadata(path, where)
        if meta.name != picked.package.name or meta.version != picked.package.version:
            raise InstallerError(f"{where}: METADATA says {meta.display_name} {meta.version}")
        for extra in ("", *picked.package.extras):
            env = {**self.target.markers, "extra": extra}
            for wanted in meta.requires_dist:
                if wanted.marker is not None and not wanted.marker.evaluate(picked.env, env):
                    continue
                dep = locked.get(wanted.name)
                if dep is None or not wanted.requirement.specifier.contains(
                    dep.package.version, prereleases=True
                ):
                    raise InstallerError(
                        f"{where}: requires {one_line(wanted.text, 120)} here, which the lock "
                        "does not provide; lock again for this machine (--properties)"
                    )

    def chosen(self, picked: Picked, path: Path) -> Chosen:
        """The installer's record of one planned wheel."""
        package = picked.package
        url = picked.wheel.url or path.resolve().as_uri()
        entry = FileEntry(picked.wheel.name, url, dict(picked.wheel.hashes), size=picked.wheel.size)
        index = Index(package.index or self.lock.path, package.index or self.lock_dir.as_uri())
        return Chosen(
            name=package.name,
            version=package.version,
            located=Located(entry, index, LOCK_GROUP),
            wheel=picked.filename,
            why=picked.why,
            variant_env=picked.env,
            variant_metadata=package.variants,
            kept=picked.kept,
        )


def _metadata(path: Path, where: str) -> DistMetadata:
    errors: tuple[type[BaseException], ...] = (*corrupt_errors(), KeyError)
    try:
        with open_zip(path) as archive:
            names = [
                n
                for n in archive.namelist()
                if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            ]
            if len(names) != 1:
                raise InstallerError(f"{where}: expected one .dist-info/METADATA")
            data = archive.read(names[0])
    except errors as exc:
        raise InstallerError(f"{where}: not a valid wheel archive ({exc})") from None
    return DistMetadata.parse(data, where)
