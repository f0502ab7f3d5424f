"""Installing resolved wheels into an environment as one transaction.

First every wheel is downloaded, its hash verified, its archive checked (RECORD hashes,
compression methods, the names it would write); only then is anything written. Old
versions are moved aside, new files are written through ``installer`` while every path is
recorded, and any failure or interruption moves the old files back and deletes the new
ones: the environment is as it was.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import Distribution, distributions
from pathlib import Path
from typing import BinaryIO

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from installer import install as install_wheel
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError as InstallerLibraryError
from installer.records import RecordEntry
from installer.sources import WheelFile
from installer.utils import Scheme
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.finder import Chosen
from wheelnext.installer.target import Target

ALLOWED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
INSTALLER_NAME = b"wheelnext\n"


def check_archive(path: Path) -> None:
    """Refuse a wheel before any write: unknown compression, unsafe names, bad RECORD."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set()
            for info in archive.infolist():
                if info.compress_type not in ALLOWED_COMPRESSION:
                    raise InstallerError(
                        f"{path.name}: member {info.filename!r} uses compression method "
                        f"{info.compress_type}, which this installer does not read"
                    )
                name = info.filename
                if name.startswith(("/", "\\")) or ".." in Path(name).parts or ":" in name:
                    raise InstallerError(f"{path.name}: unsafe member path {name!r}")
                if name in names:
                    raise InstallerError(f"{path.name}: member {name!r} appears twice")
                names.add(name)
        with WheelFile.open(path) as source:
            source.validate_record()
    except zipfile.BadZipFile as exc:
        raise InstallerError(f"{path.name}: not a valid wheel archive ({exc})") from None
    except InstallerLibraryError as exc:
        raise InstallerError(f"{path.name}: {exc}") from None


class _RecordingDestination(SchemeDictionaryDestination):
    """``installer``'s destination, noting every file and directory it creates."""

    def __init__(self, *args: object, created: list[Path], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.created = created

    def write_to_fs(
        self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        target = Path(self.scheme_dict[scheme]) / path
        missing = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
        self.created.extend(reversed(missing))
        if target.exists():
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
            path = (root / entry).resolve() if not Path(entry).is_absolute() else Path(entry)
            if path.is_file() or path.is_symlink():
                aside = self._backup_dir() / str(len(self.moved))
                path.rename(aside)
                self.moved.append((path, aside))

    def install(self, wheel: Path) -> None:
        destination = _RecordingDestination(
            dict(self.target.scheme),
            interpreter=self.target.executable,
            script_kind="posix",
            bytecode_optimization_levels=(),
            created=self.created,
        )
        with WheelFile.open(wheel) as source:
            install_wheel(source, destination, additional_metadata={"INSTALLER": INSTALLER_NAME})

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


def install_all(
    plan: Sequence[Chosen],
    wheels: dict[str, Path],
    target: Target,
    on_install: Callable[[Chosen], None] | None = None,
) -> Outcome:
    """Install ``plan`` (wheels already downloaded and verified) as one transaction."""
    for chosen in plan:
        check_archive(wheels[chosen.filename])
    present = installed(target)
    todo = [c for c in plan if _version_of(present.get(canonicalize_name(c.name))) != c.version]
    with transaction(target) as tx:
        for chosen in todo:
            old = present.get(canonicalize_name(chosen.name))
            if old is not None:
                tx.remove(old)
            tx.install(wheels[chosen.filename])
            if on_install is not None:
                on_install(chosen)
    done = {id(c) for c in todo}
    return Outcome(tuple(todo), tuple(c for c in plan if id(c) not in done))


def _version_of(dist: Distribution | None) -> Version | None:
    try:
        return None if dist is None else Version(dist.version)
    except InvalidVersion:
        return None
