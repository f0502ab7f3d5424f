"""A write-ahead journal for installs, so a crash or a kill at any point can be undone.

Before a transaction changes anything it creates ``.wn-journal`` in the environment's
purelib directory. Every step is recorded there *before* it is taken: each file moved
aside into ``.wn-backup`` (``move``) and each path about to be created (``create``: one
path, or every path a wheel's files and new directories take, in one record).
New wheels are first unpacked and verified in ``.wn-staging`` (made after the journal is
begun, removed by every replay), then renamed into place, each path recorded before.
Committing appends ``commit``. Whoever finds a journal (the next ``wn`` on that
environment, or this process on an exception) replays it:

* without ``commit``: roll back: delete what was created, move the old files back;
* with ``commit``: roll forward: delete the backups and the directories the old
  versions left empty.

Every replay step checks the file system first, so a replay that is itself killed is
simply replayed again. Records are written with ``os.write`` (a kill cannot lose a
finished write); the journal and its directory are fsync'd at state changes (begun,
before a batch of files is moved aside, committed), never once per installed file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
from pathlib import Path

from wheelnext.core.errors import WheelnextError
from wheelnext.core.safejson import loads
from wheelnext.installer.envlock import LOCK
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.interrupts import deferred_signals
from wheelnext.installer.target import Target

JOURNAL = ".wn-journal"
BACKUP = ".wn-backup"
STAGING = ".wn-staging"  # wheels unpacked and verified here, then renamed into place
RESERVED = frozenset({JOURNAL, BACKUP, STAGING, LOCK})  # names no wheel may install at the root
MAX_JOURNAL = 256 * 1024 * 1024
# Test only: at checkpoint number N, or at the named checkpoint ("begun", "moved",
# "committed", "forward", "undo"), send this process SIGKILL (or the signal named by
# CRASH_SIGNAL_ENV: TERM, INT, STOP), to prove recovery from any point.
CRASH_ENV = "WHEELNEXT_TEST_CRASH_AT"
CRASH_SIGNAL_ENV = "WHEELNEXT_TEST_CRASH_SIGNAL"
_VERSION = 1
_steps = 0
_wanted: str | None = None


def checkpoint(name: str = "") -> None:
    """A point where a test may kill this process (see ``CRASH_ENV``); else nothing."""
    global _steps, _wanted  # noqa: PLW0603  (one counter per process is the point)
    if _wanted is None:  # read once: this runs twice per installed file
        _wanted = os.environ.get(CRASH_ENV) or ""
    wanted = _wanted
    if not wanted:
        return
    _steps += 1
    if wanted in (str(_steps), name):
        name = os.environ.get(CRASH_SIGNAL_ENV, "KILL")
        os.kill(os.getpid(), getattr(signal, f"SIG{name}", signal.SIGKILL))


class JournalError(InstallerError):
    """A journal that cannot be trusted (damaged, or naming paths outside the environment)."""


def scheme_roots(target: Target) -> tuple[Path, ...]:
    """The environment's scheme directories; nothing outside them is ever moved or deleted."""
    return tuple(sorted({Path(os.path.realpath(p)) for p in target.scheme.values()}))


def inside(path: Path, roots: tuple[Path, ...], cache: dict[Path, Path] | None = None) -> bool:
    """True when ``path`` (its last component not followed) lies within one of ``roots``:
    no ``..`` escapes and no link among its parents leads outside. ``cache`` keeps the
    resolved parents for one pass over thousands of paths."""
    norm = Path(os.path.normpath(path))
    if not norm.is_absolute() or norm.parent == norm or norm != path:
        return False  # callers act on normalised paths only
    cache = {} if cache is None else cache
    real = cache.get(norm.parent)
    if real is None:
        real = cache[norm.parent] = Path(os.path.realpath(norm.parent))
    return any((real / norm.name).is_relative_to(root) for root in roots)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_path(path: Path) -> None:
    """Delete a created path: a file or link, or a directory if it is empty."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            with contextlib.suppress(OSError):  # not empty: something else's, leave it
                path.rmdir()
        else:
            path.unlink()


def _remove_tree(path: Path) -> None:
    """Delete a staging tree (a link planted there is removed, never followed)."""
    if path.is_symlink():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


class Journal:
    """The journal of one transaction on one environment (the caller holds its lock)."""

    def __init__(self, target: Target) -> None:
        self.root = Path(target.scheme["purelib"])
        self.path = self.root / JOURNAL
        self.backup = self.root / BACKUP
        self.staging_root = self.root / STAGING
        self.roots = scheme_roots(target)
        self.moves: list[tuple[Path, Path]] = []
        self.created: list[str] = []  # strings: 12,000 Paths would cost megabytes
        self.committed = False
        self._fd: int | None = None
        self._resolved: dict[Path, Path] = {}
        self._starting = threading.Lock()  # wheels are staged by several threads

    # ------------------------------------------------------------ writing

    def _write(self, *record: str) -> None:
        if self._fd is None:
            self._begin()
        assert self._fd is not None
        checkpoint()
        data = (json.dumps(record) + "\n").encode()
        while data:
            data = data[os.write(self._fd, data) :]
        checkpoint()

    def _sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def _begin(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if any(os.path.lexists(p) for p in (self.path, self.backup, self.staging_root)):
            raise JournalError(f"{self.root}: an unfinished install is in the way; run wn again")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o644)
        self._write("begin", str(_VERSION))
        self._sync()
        _fsync_dir(self.root)
        checkpoint("begun")

    def staging(self) -> Path:
        """The staging directory (begun first, so every replay removes it); any thread
        may ask, the journal begins once."""
        with self._starting:
            if self._fd is None:
                self._begin()
            with contextlib.suppress(FileExistsError):
                self.staging_root.mkdir(mode=0o700)
        return self.staging_root

    def move_aside(self, paths: list[Path]) -> None:
        """Move ``paths`` into the backup directory: all recorded (and fsync'd) first."""
        if not paths:
            return
        if self._fd is None:
            self._begin()
        self.backup.mkdir(exist_ok=True)
        start = len(self.moves)
        pairs = [(path, self.backup / str(start + i)) for i, path in enumerate(paths)]
        for original, aside in pairs:
            self.moves.append((original, aside))
            self._write("move", str(original), str(aside))
        self._sync()
        checkpoint("moved")
        for original, aside in pairs:
            try:
                original.rename(aside)
            except OSError as exc:
                raise InstallerError(
                    f"{original}: cannot move it aside ({exc.strerror or exc})"
                ) from None
            checkpoint()

    def creating(self, path: Path) -> None:
        """Note ``path`` as about to be created (call before creating it)."""
        text = str(path)
        self.created.append(text)
        self._write("create", text)

    def creating_all(self, paths: list[str]) -> None:
        """Note ``paths`` (normalised, absolute, parents before children) as about to be
        created, in one record (call before creating any of them). A replay
        deletes those that exist, children first; one not yet made is simply absent.
        One record per wheel, not one per file: a 12,000-file wheel is one write."""
        if not paths:
            return
        self.created.extend(paths)
        self._write("create", *paths)

    def commit(self) -> None:
        """Decide for the new state, then clean up (a kill here is rolled forward)."""
        if self._fd is None:
            return
        with deferred_signals(deliver=False):
            self._write("commit")
            self._sync()
            self.committed = True
            checkpoint("committed")
            self.replay()

    def rollback(self) -> None:
        """Undo every recorded step; the environment is as before the transaction."""
        if self._fd is None:
            return
        with deferred_signals():
            self.replay()

    # ------------------------------------------------------------ replaying

    def replay(self) -> None:
        """Roll forward if committed, else back; then remove the backups and the journal."""
        if self.committed:
            self._forward()
        else:
            self._undo()
        if self.backup.is_dir() and not self.backup.is_symlink():
            shutil.rmtree(self.backup)
        _remove_tree(self.staging_root)
        checkpoint()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        _fsync_dir(self.root)

    def _canonical(self, path: Path) -> Path:
        """``path`` with its parent resolved, so lib and lib64 spellings compare equal."""
        real = self._resolved.get(path.parent)
        if real is None:
            real = self._resolved[path.parent] = Path(os.path.realpath(path.parent))
        return real / path.name

    def _undo(self) -> None:
        moved = {self._canonical(original): aside for original, aside in self.moves}
        for text in reversed(self.created):
            path = Path(text)
            aside = moved.get(self._canonical(path))
            if aside is not None and not os.path.lexists(aside):
                continue  # the old file is already back (or was never moved): keep it
            _remove_path(path)
            checkpoint("undo")
        for original, aside in reversed(self.moves):
            if os.path.lexists(aside):
                original.parent.mkdir(parents=True, exist_ok=True)
                aside.rename(original)
                checkpoint("undo")

    def _forward(self) -> None:
        # directories left empty by the removed versions, deepest first
        parents = {original.parent for original, _ in self.moves}
        for deepest in sorted(parents, key=lambda p: len(p.parts), reverse=True):
            directory = deepest
            while inside(directory, self.roots, self._resolved):
                if Path(os.path.realpath(directory)) in self.roots:
                    break
                try:
                    directory.rmdir()
                except OSError:
                    break
                directory = directory.parent
        checkpoint("forward")

    # ------------------------------------------------------------ reading

    @classmethod
    def load(cls, target: Target) -> Journal | None:
        """The journal an interrupted ``wn`` left in ``target``, checked; None if none."""
        journal = cls(target)
        if not os.path.lexists(journal.path):
            if os.path.lexists(journal.backup) or os.path.lexists(journal.staging_root):
                # killed before the journal's first record
                return journal
            return None
        where = str(journal.path)
        if journal.path.is_symlink() or not journal.path.is_file():
            raise JournalError(f"{where}: not a regular file; remove it by hand")
        if journal.path.stat().st_size > MAX_JOURNAL:
            raise JournalError(f"{where}: larger than {MAX_JOURNAL} bytes; remove it by hand")
        lines = journal.path.read_bytes().split(b"\n")
        # the last line, unfinished by a kill, recorded a step that was never taken
        for number, line in enumerate(lines[:-1], start=1):
            journal._read(line, f"{where}: line {number}")
        return journal

    def _read(self, line: bytes, where: str) -> None:
        try:
            record = loads(line, where)
        except (WheelnextError, ValueError):
            raise JournalError(f"{where}: not a journal record; remove it by hand") from None
        if not isinstance(record, list) or not all(isinstance(x, str) for x in record):
            raise JournalError(f"{where}: not a journal record; remove it by hand")
        match record:
            case ["begin", version] if version == str(_VERSION):
                pass
            case ["move", original, aside]:
                a = Path(aside)
                if a.parent != self.backup or not a.name.isdigit():
                    raise JournalError(f"{where}: a backup outside {BACKUP}; remove it by hand")
                self.moves.append((self._checked(original, where), a))
            case ["create", *paths] if paths:  # one path, or a wheel's batch
                self.created.extend(str(self._checked(path, where)) for path in paths)
            case ["commit"]:
                self.committed = True
            case _:
                raise JournalError(f"{where}: not a journal record; remove it by hand")

    def _checked(self, text: str, where: str) -> Path:
        path = Path(os.path.normpath(text))
        reserved = path.parent == self.root and path.name in RESERVED
        if reserved or not inside(path, self.roots, self._resolved):
            raise JournalError(f"{where}: names a path outside the environment; not following it")
        return path


def recover(target: Target) -> str | None:
    """Finish or undo what an interrupted ``wn`` left in ``target`` (the caller holds the
    environment lock); a one-line account of the repair, or None when there was none."""
    journal = Journal.load(target)
    if journal is None:
        return None
    with deferred_signals():
        journal.replay()
    if journal.committed:
        return (
            f"repaired {journal.root}: completed an interrupted install "
            f"({len(journal.created)} paths in place, {len(journal.moves)} old files removed)"
        )
    return (
        f"repaired {journal.root}: rolled back an interrupted install "
        f"({len(journal.moves)} files restored, {len(journal.created)} new paths removed)"
    )
