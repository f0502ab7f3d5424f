"""Installing resolved wheels into an environment as one transaction.

First every wheel is downloaded, its hash verified, its archive checked (RECORD hashes,
compression methods, the names it would write); only then is anything written. Old
versions are moved aside, new files are written through ``installer``, and every step is
recorded in a write-ahead journal (``journal.py``) before it is taken: any failure or
interruption moves the old files back and deletes the new ones, in this process or, after
a kill, in the next ``wn`` on the environment. An installed RECORD is followed only inside
the environment (its root, ``Target.roots``) and there only inside its scheme directories:
a line resolving elsewhere is refused. Headers go to the project's own directory
(``Target.scheme_for``). Callers hold the environment lock (``envlock.locked``).
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import Distribution, distributions
from pathlib import Path
from typing import BinaryIO

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from installer import install as install_wheel
from installer.destinations import SchemeDictionaryDestination
from installer.records import RecordEntry
from installer.sources import WheelFile
from installer.utils import Scheme
from wheelnext.core.errors import one_line
from wheelnext.installer.archive import ArchiveInfo, check_archive, open_zip
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.finder import Chosen
from wheelnext.installer.journal import RESERVED, Journal, inside, recover
from wheelnext.installer.links import Fallback, LinkOutcome, create_links
from wheelnext.installer.target import Target

LOG = logging.getLogger("wheelnext.installer")
INSTALLER_NAME = b"wheelnext\n"
NO_LINKS = LinkOutcome(0, 0, 0)


class _CheckedWheel(WheelFile):
    """A wheel ``check_archive`` accepted. ``installer`` reads only Wheel-Version 1.x; a 2.0
    wheel (links, the one 2.0 feature) is presented to it as 1.0, after our own checks.
    Installed files, WHEEL included, keep their original bytes."""

    def read_dist_info(self, filename: str) -> str:
        text = super().read_dist_info(filename)
        if filename == "WHEEL":
            text = "\n".join(
                "Wheel-Version: 1.0" if line.startswith("Wheel-Version: 2.") else line
                for line in text.splitlines()
            )
        return text


class _RecordingDestination(SchemeDictionaryDestination):
    """``installer``'s destination, journaling every file and directory before creating it."""

    def __init__(self, *args: object, note: Callable[[Path], None], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.note = note
        self._seen: set[Path] = set()  # directories already checked (12,000-file wheels)
        self._roots = {Path(self.scheme_dict[s]) for s in ("purelib", "platlib")}

    def _prepare_parents(self, root: Path, directory: Path) -> None:
        """Refuse a link among the directories below ``root``; note the ones to create."""
        missing = []
        while directory not in self._seen:
            self._seen.add(directory)
            below_root = root in directory.parents
            if below_root and directory.is_symlink():
                raise InstallerError(f"{directory}: is a link; nothing is written through it")
            if not os.path.lexists(directory):
                missing.append(directory)
            elif not below_root:
                break  # an existing directory at or above the root: its parents exist too
            if directory.parent == directory:
                break
            directory = directory.parent
        for path in reversed(missing):
            self.note(path)

    def write_to_fs(
        self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        root = Path(self.scheme_dict[scheme])
        target = root / path
        for library in self._roots:
            top = target.relative_to(library).parts[:1] if target.is_relative_to(library) else ()
            if top and top[0] in RESERVED:
                raise InstallerError(f"{path}: a name wn keeps for its own journal and lock")
        self._prepare_parents(root, target.parent)
        if os.path.lexists(target):
            raise InstallerError(f"{target}: already exists and belongs to another distribution")
        self.note(target)
        return super().write_to_fs(scheme, path, stream, is_executable)


@dataclass
class Transaction:
    """Moves old files aside and records new ones, so either all of it happens or none."""

    target: Target
    journal: Journal = field(init=False)

    def __post_init__(self) -> None:
        self.journal = Journal(self.target)

    def remove(self, dist: Distribution) -> None:
        """Move an installed distribution's files aside (restored if the transaction fails).

        Its RECORD is followed only inside the environment's root and scheme directories:
        a line that resolves elsewhere (``..``, an absolute path, a directory link) is
        refused."""
        root = Path(str(dist.locate_file("")))
        name = f"{dist.metadata['Name']} {dist.version}"
        paths: list[Path] = []
        resolved: dict[Path, Path] = {}
        for entry in dist.files or []:
            # never resolve: a recorded link is moved itself, its target is left alone
            path = Path(os.path.normpath(root / entry))
            if not (
                inside(path, self.target.roots, resolved)
                and inside(path, self.journal.roots, resolved)
            ):
                raise InstallerError(
                    f"{name}: its RECORD names {one_line(str(entry))!r}, outside the "
                    "environment; refusing to remove it"
                )
            if path.is_file() or path.is_symlink():
                paths.append(path)
        self.journal.move_aside(paths)

    def install(
        self, wheel: Path, info: ArchiveInfo | None = None, link_fallback: Fallback = "error"
    ) -> LinkOutcome | None:
        """Write one checked wheel; its LINKS (if any) are made after every regular file."""
        info = info or check_archive(wheel)
        destination = _RecordingDestination(
            self.target.scheme_for(project_of(info), wheel.name),
            interpreter=self.target.executable,
            script_kind="posix",
            bytecode_optimization_levels=(),
            note=self.journal.creating,
        )
        with open_zip(wheel) as archive:
            source = _CheckedWheel(archive)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                from wheelnext.installer.drift import additional_metadata  # variant record

                extra = {"INSTALLER": INSTALLER_NAME, **additional_metadata(wheel.name)}
                install_wheel(source, destination, additional_metadata=extra)
            for warning in caught:  # e.g. installer skipping a shipped __pycache__ file
                LOG.warning("%s: %s", wheel.name, warning.message)
        if not info.links:
            return None
        root = Path(self.target.scheme["purelib" if info.root_is_purelib else "platlib"])
        outcome = create_links(
            info.links,
            root,
            files=set(info.members),
            note=self.journal.creating,
            fallback=link_fallback,
            where=wheel.name,
        )
        with (root / info.dist_info / "RECORD").open("a", newline="") as record:
            csv.writer(record, lineterminator="\n").writerows(
                [link, "", ""] for link, _ in info.links
            )
        return outcome

    def rollback(self) -> None:
        self.journal.rollback()

    def commit(self) -> None:
        self.journal.commit()


def installed(target: Target) -> dict[str, Distribution]:
    """Distributions already in the target's library directories, by canonical name."""
    found: dict[str, Distribution] = {}
    for dist in distributions(path=target.library_dirs):
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist)
    return found


@contextlib.contextmanager
def transaction(target: Target) -> Iterator[Transaction]:
    """Commit when the block ends normally; roll back on any exception or interrupt.
    An earlier, interrupted transaction on ``target`` is repaired first."""
    recover(target)
    tx = Transaction(target)
    try:
        yield tx
    except BaseException:
        tx.rollback()
        raise
    tx.commit()


@dataclass(frozen=True, slots=True)
class Outcome:
    installed: tuple[Chosen, ...]
    unchanged: tuple[Chosen, ...]
    links: LinkOutcome = NO_LINKS


def check_plan(
    plan: Sequence[Chosen], wheels: dict[str, Path], target: Target
) -> dict[str, ArchiveInfo]:
    """Every check of ``plan``'s wheels made before anything is written (``--dry-run``
    runs them too): archives, variant.json vs label and variants.json, file paths vs
    this target."""
    from wheelnext.installer.archive import check_destinations
    from wheelnext.installer.variant_wheels import check_variant_wheel

    infos = {c.filename: check_archive(wheels[c.filename]) for c in plan}
    for c in plan:
        check_variant_wheel(wheels[c.filename], c.variant_metadata)
        info = infos[c.filename]
        check_destinations(
            wheels[c.filename], info, target.scheme_for(project_of(info), wheels[c.filename].name)
        )
    return infos


def project_of(info: ArchiveInfo) -> str:
    """The project a checked wheel installs: its .dist-info name (``check_archive`` made
    sure it is the filename's and METADATA's project)."""
    return info.dist_info[: -len(".dist-info")].rpartition("-")[0]


def install_all(
    plan: Sequence[Chosen],
    wheels: dict[str, Path],
    target: Target,
    on_install: Callable[[Chosen], None] | None = None,
    link_fallback: Fallback = "error",
    *,
    force: Collection[str] = (),
) -> Outcome:
    """Install ``plan`` (wheels already downloaded and verified) as one transaction;
    projects in ``force`` (canonical names) are reinstalled even at the same version."""
    infos = check_plan(plan, wheels, target)
    links = NO_LINKS
    present = installed(target)
    todo = [
        c
        for c in plan
        if canonicalize_name(c.name) in force
        or _version_of(present.get(canonicalize_name(c.name))) != c.version
    ]
    with transaction(target) as tx:
        for chosen in todo:
            old = present.get(canonicalize_name(chosen.name))
            if old is not None:
                tx.remove(old)
            made = tx.install(wheels[chosen.filename], infos[chosen.filename], link_fallback)
            if made is not None:
                links = LinkOutcome(
                    links.links + made.links,
                    links.copies + made.copies,
                    links.bytes_saved + made.bytes_saved,
                )
            if on_install is not None:
                on_install(chosen)
    done = {id(c) for c in todo}
    return Outcome(tuple(todo), tuple(c for c in plan if id(c) not in done), links)


def _version_of(dist: Distribution | None) -> Version | None:
    try:
        return None if dist is None else Version(dist.version)
    except InvalidVersion:
        return None
