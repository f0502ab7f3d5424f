"""Installing resolved wheels into an environment as one transaction.

First every wheel is downloaded, its hash verified, and its archive checked from the
central directory and its small dist-info files (compression methods, sizes, the names it
would write: ``archive.inspect_archive``); only then is anything written. Each wheel is
then unpacked in one pass (every member decompressed, checked against RECORD and written
once: ``staging.unpack``) into a staging directory inside the environment, or taken from
the cache of unpacked wheels (``unpacked_cache``). When every wheel is verified, old
versions are moved aside and the new files renamed (or linked) into place; scripts,
RECORD and the installer's own dist-info files are written through ``installer``'s
destination. Every step is recorded in a write-ahead journal (``journal.py``) before it is
taken: any failure or interruption moves the old files back and deletes the new ones, in
this process or, after a kill, in the next ``wn`` on the environment. An installed RECORD
is followed only inside the environment (its root, ``Target.roots``) and there only inside
its scheme directories: a line resolving elsewhere is refused. Headers go to the project's
own directory (``Target.scheme_for``). Callers hold the environment lock (``envlock.locked``).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import itertools
import logging
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import Distribution, distributions
from pathlib import Path
from typing import BinaryIO

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from installer.destinations import SchemeDictionaryDestination
from installer.records import Hash, RecordEntry
from installer.utils import Scheme, parse_entrypoints
from wheelnext.core.errors import one_line
from wheelnext.installer.archive import ArchiveInfo, check_archive, inspect_archive
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.file_identity import FileIdentity, verified_identity
from wheelnext.installer.finder import Chosen
from wheelnext.installer.journal import RESERVED, Journal, checkpoint, inside, recover
from wheelnext.installer.linking import LinkMode, Placer
from wheelnext.installer.links import Fallback, LinkOutcome, create_links
from wheelnext.installer.parallel import run_all
from wheelnext.installer.staging import (
    Unpacked,
    check_unchanged,
    expected_members,
    unpack,
    unpack_cost,
)
from wheelnext.installer.target import Target
from wheelnext.installer.unpacked_cache import UnpackedCache

LOG = logging.getLogger("wheelnext.installer")
INSTALLER_NAME = b"wheelnext\n"
NO_LINKS = LinkOutcome(0, 0, 0)
STAGERS = 4  # wheels unpacked (or taken from the cache) at once


class _RecordingDestination(SchemeDictionaryDestination):
    """``installer``'s destination, journaling every file and directory before creating it."""

    def __init__(self, *args: object, note: Callable[[Path], None], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.note = note
        self._seen: set[Path] = set()  # directories already checked (12,000-file wheels)
        self._roots = {Path(self.scheme_dict[s]) for s in ("purelib", "platlib")}
        self._libraries = {f"{p}/" for p in self._roots}
        self._ready: set[str] = set()  # parent directories checked, noted and made
        self._normal = {k: str(Path(v)) for k, v in self.scheme_dict.items()}

    def _prepare_parents(self, root: Path, directory: Path) -> None:
        """Refuse a link among the directories below ``root``; note the ones to create."""
        for path in self._missing_parents(root, directory):
            self.note(path)

    def _missing_parents(self, root: Path, directory: Path) -> list[Path]:
        """Refuse a link among the directories below ``root``; the ones to create,
        outermost first."""
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
        return missing[::-1]

    def _reserved(self, text: str, path: str) -> None:
        for library in self._libraries:
            if text.startswith(library) and text[len(library) :].partition("/")[0] in RESERVED:
                raise InstallerError(f"{path}: a name wn keeps for its own journal and lock")

    def claim_all(self, wanted: list[tuple[Scheme, str]]) -> tuple[list[str], list[str]]:
        """The paths ``wanted`` install to, each checked free (no file there, no link
        among its parents inside the scheme), and the directories to create for them,
        outermost first; nothing is noted or made (``Journal.creating_all`` and
        ``make_dirs`` do that, in that order)."""
        dirs: list[str] = []
        new_dirs: set[str] = set()
        paths: list[str] = []
        taken: set[str] = set()
        for scheme, path in wanted:
            root = self._normal[scheme]
            text = f"{root}/{path}"  # strings: this runs once per file (12,000 for torch)
            self._reserved(text, path)
            parent = text.rpartition("/")[0]
            if parent not in self._ready:
                for directory in self._missing_parents(Path(root), Path(parent)):
                    name = str(directory)
                    if name not in new_dirs:
                        new_dirs.add(name)
                        dirs.append(name)
                self._ready.add(parent)
            # in a directory made for this wheel nothing exists yet: no lstat needed
            if text in taken or (parent not in new_dirs and os.path.lexists(text)):
                raise InstallerError(f"{text}: already exists and belongs to another distribution")
            taken.add(text)
            paths.append(text)
        return dirs, paths

    def claim(self, scheme: Scheme, path: str) -> Path:
        """The path ``path`` of ``scheme`` installs to, free and noted (with the parent
        directories to create) in the journal; its parent directory exists."""
        root = self._normal[scheme]
        text = f"{root}/{path}"  # strings: this runs once per file (12,000 for torch)
        self._reserved(text, path)
        parent = text.rpartition("/")[0]
        if parent not in self._ready:
            self._prepare_parents(Path(root), Path(parent))
            Path(parent).mkdir(parents=True, exist_ok=True)
            self._ready.add(parent)
        if os.path.lexists(text):
            raise InstallerError(f"{text}: already exists and belongs to another distribution")
        target = Path(text)
        self.note(target)
        return target

    def write_to_fs(
        self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        self.claim(scheme, path)
        return super().write_to_fs(scheme, path, stream, is_executable)


@dataclass
class Transaction:
    """Moves old files aside and records new ones, so either all of it happens or none."""

    target: Target
    journal: Journal = field(init=False)
    _staged: Iterator[int] = field(init=False, default_factory=lambda: itertools.count(1))

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

    def stage(
        self,
        wheel: Path,
        info: ArchiveInfo,
        cache: UnpackedCache | None = None,
        expect: FileIdentity | None = None,
    ) -> Unpacked:
        """``wheel`` unpacked and verified, from the cache (built there if missing), or
        into this transaction's staging directory; nothing is visible yet. ``expect``:
        the wheel file as it was when checked; a wheel changed since is refused."""
        record = f"{info.dist_info}/RECORD"
        members = expected_members(info)
        for name in sorted(info.members - members - {record}):  # as the library warned
            LOG.warning("%s: skipped %s: files in a __pycache__ directory are not installed",
                        wheel.name, name)  # fmt: skip
        if cache is not None:
            found = cache.get(wheel, info, members, expect)
            if found is not None:
                if expect is not None:  # the key was hashed from the file checked
                    check_unchanged(wheel, expect)
                return found
        number = next(self._staged)  # atomic: wheels are staged by several threads
        return unpack(wheel, info, self.journal.staging() / str(number), expect=expect)

    def install(
        self,
        wheel: Path,
        info: ArchiveInfo | None = None,
        link_fallback: Fallback = "error",
        *,
        unpacked: Unpacked | None = None,
        link_mode: LinkMode = "hardlink",
    ) -> LinkOutcome | None:
        """Put one checked wheel in place, unpacked (and verified) first if it is not yet;
        its LINKS (if any) are made after every regular file."""
        info = info or check_archive(wheel)
        unpacked = unpacked or self.stage(wheel, info)
        _place(self, wheel, info, unpacked, Placer(link_mode))
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


def _place(
    tx: Transaction,
    wheel: Path,
    info: ArchiveInfo,
    unpacked: Unpacked,
    placer: Placer,
) -> None:
    """Put a verified tree in place as ``installer.install`` lays it out: entry-point
    scripts, then the members (renamed from staging, or linked from the cache; a
    ``.data/scripts`` file is written, its ``#!python`` rewritten), then INSTALLER and
    the variant record, then RECORD (sha256 of every file, sorted, as ``installer``)."""
    destination = _RecordingDestination(
        tx.target.scheme_for(project_of(info), wheel.name),
        interpreter=tx.target.executable,
        script_kind="posix",
        bytecode_optimization_levels=(),
        note=tx.journal.creating,
    )
    root_scheme = Scheme("purelib" if info.root_is_purelib else "platlib")
    records: list[tuple[Scheme, RecordEntry]] = []
    members = list(unpacked.files)
    entry_points = f"{info.dist_info}/entry_points.txt"
    if entry_points in unpacked.files:
        text = unpacked.path(members.index(entry_points)).read_text("utf-8")
        for name, module, attr, section in parse_entrypoints(text):
            script = destination.write_script(name, module, attr, section)
            records.append((Scheme("scripts"), script))
    data = (info.data_dir or info.dist_info[: -len(".dist-info")] + ".data") + "/"
    scripts: list[tuple[int, str]] = []
    placed: list[tuple[int, Scheme, str, str, int]] = []
    for index, (member, (digest, size)) in enumerate(unpacked.files.items()):
        scheme, path = root_scheme, member
        if member.startswith(data):
            name, _, path = member[len(data) :].partition("/")
            scheme = Scheme(name)
        if scheme == "scripts":  # per environment: its shebang names this interpreter
            scripts.append((index, path))
        else:
            placed.append((index, scheme, path, digest, size))
    # every member's path checked free, then noted in one journal record, then made
    dirs, dests = destination.claim_all([(scheme, path) for _, scheme, path, _, _ in placed])
    tx.journal.creating_all([*dirs, *dests])
    for name in dirs:
        directory = Path(name)
        try:
            directory.mkdir()
        except FileExistsError:
            if directory.is_symlink() or not directory.is_dir():
                raise InstallerError(f"{directory}: is in the way; nothing is written") from None
    put = placer.place if unpacked.cached else placer.move
    for (index, scheme, path, digest, size), dest in zip(placed, dests, strict=True):
        checkpoint()
        try:
            put(unpacked.name(index), dest)
        except OSError as exc:  # e.g. a cache entry removed under us: rolled back
            raise InstallerError(
                f"{wheel.name}: cannot install {path} ({exc.strerror or exc})"
            ) from None
        checkpoint()
        records.append((scheme, RecordEntry(path, Hash("sha256", digest), size)))
    for index, path in scripts:
        try:
            opened = unpacked.path(index).open("rb")
        except OSError as exc:
            raise InstallerError(
                f"{wheel.name}: cannot install {path} ({exc.strerror or exc})"
            ) from None
        with opened as stream:
            executable = bool(os.fstat(stream.fileno()).st_mode & 0o111)
            scheme = Scheme("scripts")
            records.append((scheme, destination.write_file(scheme, path, stream, executable)))
    from wheelnext.installer.drift import additional_metadata  # variant record

    extra = {"INSTALLER": INSTALLER_NAME, **additional_metadata(wheel.name)}
    for filename, contents in extra.items():
        with io.BytesIO(contents) as stream:
            path = f"{info.dist_info}/{filename}"
            records.append((root_scheme, destination.write_file(root_scheme, path, stream, False)))
    record_path = f"{info.dist_info}/RECORD"
    records.append((root_scheme, RecordEntry(record_path, None, None)))
    destination.finalize_installation(root_scheme, record_path, records)


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
    plan: Sequence[Chosen],
    wheels: dict[str, Path],
    target: Target,
    *,
    contents: bool = True,
    cache: UnpackedCache | None = None,
    expect: Mapping[str, FileIdentity] | None = None,
) -> dict[str, ArchiveInfo]:
    """Every check of ``plan``'s wheels made before anything is written (``--dry-run``
    runs them too): archives, variant.json vs label and variants.json, file paths vs
    this target. ``contents=False``: member contents are left to the one pass that
    installs them (``Transaction.stage``), which checks them before anything is visible;
    then ``cache`` may hold the archive checks' findings from when it unpacked the same
    wheel (same sha256, same filename), so its zip is not read again; ``expect``: each
    wheel's file as it was verified, by filename. The checks against this target
    (variants, destinations) always run."""
    from wheelnext.installer.archive import check_destinations
    from wheelnext.installer.variant_wheels import check_variant_wheel

    def check(chosen: Chosen) -> ArchiveInfo:
        wheel = wheels[chosen.filename]
        if contents:
            return check_archive(wheel)
        checked = None if expect is None else expect.get(chosen.filename)
        found = None if cache is None else cache.info(wheel, checked)
        return found if found is not None else inspect_archive(wheel)

    infos = {c.filename: check(c) for c in plan}
    for c in plan:
        info = infos[c.filename]
        if not _plain(wheels[c.filename], info):  # a plain wheel: nothing to compare
            check_variant_wheel(wheels[c.filename], c.variant_metadata)
        check_destinations(
            wheels[c.filename], info, target.scheme_for(project_of(info), wheels[c.filename].name)
        )
    return infos


def _plain(wheel: Path, info: ArchiveInfo) -> bool:
    """Whether ``info`` shows ``wheel`` is no variant wheel: no label in its filename and
    no ``*.dist-info/variant.json`` (what ``check_variant_wheel`` would open the zip to
    see; it then has nothing more to check)."""
    from wheelnext.core.errors import WheelnextError
    from wheelnext.core.filenames import WheelFilename
    from wheelnext.installer.variant_wheels import VARIANT_JSON

    try:
        label = WheelFilename.parse(wheel.name).label
    except WheelnextError:
        return False  # let the check say what is wrong
    suffix = f".dist-info/{VARIANT_JSON}"
    return label is None and not any(m.endswith(suffix) and m.count("/") == 1 for m in info.members)


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
    cache: Path | UnpackedCache | None = None,
    link_mode: LinkMode = "hardlink",
) -> Outcome:
    """Install ``plan`` (wheels already downloaded and verified) as one transaction;
    projects in ``force`` (canonical names) are reinstalled even at the same version.
    ``cache``: the unpacked-wheel cache (or its directory) to take verified trees from
    (and add to), linked into place by ``link_mode``; None: unpack into staging. Wheels
    are only read."""
    unpacked_cache = UnpackedCache(cache) if isinstance(cache, Path) else cache
    # each file as it was when its hashes were verified (else as it is now, before the
    # checks): any change later is refused (``stage``)
    stats = {c.filename: verified_identity(wheels[c.filename]) for c in plan}
    infos = check_plan(plan, wheels, target, contents=False, cache=unpacked_cache, expect=stats)
    links = NO_LINKS
    present = installed(target)
    todo = [
        c for c in plan if canonicalize_name(c.name) in force or version_of(present, c) != c.version
    ]
    with transaction(target) as tx:
        # every wheel verified before any old file moves; several at once (their files'
        # writes and creations wait in the kernel, not for each other), the costliest
        # first: a large wheel started last would be unpacked alone at the end
        def cost(chosen: Chosen) -> int:
            info = infos[chosen.filename]
            return unpack_cost(len(info.members), info.uncompressed_size)

        order = sorted(todo, key=cost, reverse=True)
        calls = [
            functools.partial(
                tx.stage, wheels[c.filename], infos[c.filename], unpacked_cache, stats[c.filename]
            )
            for c in order
        ]
        staged = run_all(calls, STAGERS, name="wn-unpack")
        trees = {c.filename: tree for c, tree in zip(order, staged, strict=True)}
        checkpoint("staged")
        for chosen in todo:
            old = present.get(canonicalize_name(chosen.name))
            if old is not None:
                tx.remove(old)
            made = tx.install(
                wheels[chosen.filename],
                infos[chosen.filename],
                link_fallback,
                unpacked=trees[chosen.filename],
                link_mode=link_mode,
            )
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


def version_of(present: Mapping[str, Distribution], chosen: Chosen) -> Version | None:
    """The version of ``chosen``'s project installed (``installed``), if any and valid."""
    dist = present.get(canonicalize_name(chosen.name))
    try:
        return None if dist is None else Version(dist.version)
    except InvalidVersion:
        return None
