"""Writing files so that a failure never leaves a truncated one behind."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from wheelnext.core.errors import ConfigError, one_line


def _readable_mode() -> int:
    """The mode ``open()`` would give a new file (0666 less the umask); mkstemp's 0600
    would make a written wheel or variants.json unreadable to other users."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then
    rename it into place: readers see the old file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    Path(tmp).chmod(_readable_mode())
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """A temporary path next to ``path`` to write (as a stream, in several steps); it
    replaces ``path`` only when the block ends normally and is deleted otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    Path(tmp).chmod(_readable_mode())
    try:
        yield Path(tmp)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


MIB = 1024 * 1024


class UserFileError(ConfigError):
    """A file the user named cannot be read as one: ``problem`` says why, the message
    names the option and file too."""

    def __init__(self, shown: str, problem: str) -> None:
        self.problem = problem
        super().__init__(f"{shown}: {problem}")


class FileTooLarge(UserFileError):
    """A file the user named is larger than the limit it is read with."""


USER_FILE_LIMIT = 16 * MIB


def read_user_file(path: str | Path, what: str, limit: int = USER_FILE_LIMIT) -> bytes:
    """The bytes of a file the user named (``-r``, ``-c``, ``--properties``...), read as
    hostile input: it must be a regular file (checked with ``fstat`` on the opened
    descriptor, so no swap can slip in between), at most ``limit`` bytes. A FIFO is opened
    without blocking, so it is refused instead of hanging. Any problem is one
    ``UserFileError`` (a ConfigError) line naming ``what`` and ``path``."""
    shown = f"{what} {one_line(str(path), 300)}" if what else one_line(str(path), 300)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:  # a socket cannot be opened (ENXIO): say what it is
        with contextlib.suppress(OSError):
            mode = Path(path).stat().st_mode
            if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
                raise UserFileError(shown, f"not a regular file ({file_kind(mode)})") from None
        raise UserFileError(shown, f"{exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UserFileError(shown, "is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise UserFileError(shown, f"not a regular file ({file_kind(info.st_mode)})")
        if info.st_size > limit:
            raise FileTooLarge(shown, f"larger than {_size(limit)}; refusing")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(1 * MIB, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew while being read
                raise FileTooLarge(shown, f"larger than {_size(limit)}; refusing")
        return b"".join(chunks)
    except OSError as exc:
        raise UserFileError(shown, f"{exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_user_text(path: str | Path, what: str, limit: int = USER_FILE_LIMIT) -> str:
    """``read_user_file`` decoded as UTF-8 (one line naming the file if it is not)."""
    data = read_user_file(path, what, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        shown = f"{what} {one_line(str(path), 300)}" if what else one_line(str(path), 300)
        raise UserFileError(shown, f"not UTF-8 text (byte {exc.start})") from None


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words (for one-line refusals)."""
    for test, word in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return word
    return "not a file"


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit >= MIB and limit % MIB == 0 else f"{limit} bytes"
