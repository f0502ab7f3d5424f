"""Installing resolved wheels into an environment as one transaction.

First every wheel is downloaded, its hash verified, its archive checked (RECORD hashes,
compression methods, the names it would write); only then is anything written. Old
versions are moved aside, new files are written through ``installer`` while every path is
recorded, and any failure or interruption moves the old files back and deletes the new
ones: the environment is as it was.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
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
from wheelnext.installer.archive import ArchiveInfo, check_archive, open_zip
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.finder import Chosen
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
    """``installer``'s destination, noting every file and directory it creates."""

    def __init__(self, *args: object, created: list[Path], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.created = created
        self._seen: set[Path] = set()  # directories already checked (12,000-file wheels)

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
        self.created.extend(reversed(missing))

    def write_to_fs(
        self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        root = Path(self.scheme_dict[scheme])
        target = root / path
        self._prepare_parents(root, target.parent)
        if os.path.lexists(target):
            raise InstallerError(f"{target}: already exists and belongs to another distribution")
        self.created.append(target)
        return super().write_to_fs(scheme, path, stream, is_executable)


@dataclass
class Transaction:
    """Moves old files aside and records new ones, so either all of it happens or none."""

    target: Target
    created: list[Path] = field(default_factory=list)
    moved: list[tuple[Path, Path]] = field(default_factory=list)
    backup: Path | None = None

    def _backup_dir(self) -> Path:
        if self.backup is None:
            base = Path(self.target.scheme["purelib"])
            base.mkdir(parents=True, exist_ok=True)
            self.backup = Path(tempfile.mkdtemp(prefix=".wheelnext-backup-", dir=base))
        return self.backup

    def remove(self, dist: Distribution) -> None:
        """Move an installed distribution's files aside (restored if the transaction fails)."""
        root = Path(str(dist.locate_file("")))
        for entry in dist.files or []:
            # never resolve: a recorded link is moved itself, its target is left alone
            path = Path(os.path.normpath(root / entry))
            if path.is_file() or path.is_symlink():
                aside = self._backup_dir() / str(len(self.moved))
                path.rename(aside)
                self.moved.append((path, aside))

    def install(
        self, wheel: Path, info: ArchiveInfo | None = None, link_fallback: Fallback = "error"
    ) -> LinkOutcome | None:
        """Write one checked wheel; its LINKS (if any) are made after every regular file."""
        info = info or check_archive(wheel)
        destination = _RecordingDestination(
            dict(self.target.scheme),
            interpreter=self.target.executable,
            script_kind="posix",
            bytecode_optimization_levels=(),
            created=self.created,
        )
        with open_zip(wheel) as archive:
            source = _CheckedWheel(archive)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                install_wheel(
                    source, destination, additional_metadata={"INSTALLER": INSTALLER_NAME}
                )
            for warning in caught:  # e.g. installer skipping a shipped __pycache__ file
                LOG.warning("%s: %s", wheel.name, warning.message)
        if not info.links:
            return None
        root = Path(self.target.scheme["purelib" if info.root_is_purelib else "platlib"])
        outcome = create_links(
            info.links,
            root,
            files=set(info.members),
            created=self.created,
            fallback=link_fallback,
            where=wheel.name,
        )
        with (root / info.dist_info / "RECORD").open("a", newline="") as record:
            csv.writer(record, lineterminator="\n").writerows(
                [link, "", ""] for link, _ in info.links
            )
        return outcome

    def rollback(self) -> None:
        for path in reversed(self.created):
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    path.rmdir()
                else:
                    path.unlink()
        for original, aside in reversed(self.moved):
            original.parent.mkdir(parents=True, exist_ok=True)
            aside.rename(original)
        self._cleanup()

    def commit(self) -> None:
        for original, _ in self.moved:  # directories left empty by the removed versions
            with contextlib.suppress(OSError):
                for parent in [original.parent, *original.parent.parents]:
                    if parent == Path(self.target.scheme["purelib"]):
                        break
                    parent.rmdir()
        self._cleanup()

    def _cleanup(self) -> None:
        if self.backup is not None:
            shutil.rmtree(self.backup, ignore_errors=True)
            self.backup = None


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
    """Commit when the block ends normally; roll back on any exception or interrupt."""
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


def install_all(
    plan: Sequence[Chosen],
    wheels: dict[str, Path],
    target: Target,
    on_install: Callable[[Chosen], None] | None = None,
    link_fallback: Fallback = "error",
) -> Outcome:
    """Install ``plan`` (wheels already downloaded and verified) as one transaction."""
    infos = {c.filename: check_archive(wheels[c.filename]) for c in plan}
    links = NO_LINKS
    present = installed(target)
    todo = [c for c in plan if _version_of(present.get(canonicalize_name(c.name))) != c.version]
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
