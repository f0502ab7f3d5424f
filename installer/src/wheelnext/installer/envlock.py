"""One ``wn`` at a time per environment: a file lock next to the files it guards.

The lock is ``.wn-lock`` in the environment's purelib directory (the ``--target`` DIR
for target installs), taken with ``filelock``. Whoever holds it first repairs what an
interrupted ``wn`` left (``journal.recover``), so no command ever reads a half-changed
environment. The lock file is removed while still held, then released: a waiter that
locked the removed file notices (filelock checks the link count) and takes a fresh one,
and the environment keeps no trace of the lock.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wheelnext.installer.errors import InstallerError

if TYPE_CHECKING:
    from wheelnext.installer.target import Target

LOCK = ".wn-lock"  # also in journal.RESERVED


class LockTimeout(InstallerError):
    """Another ``wn`` kept the environment locked past ``--lock-timeout``."""


def lock_timeout(text: str) -> float:
    """An argparse type for ``--lock-timeout``: seconds, 0 (do not wait) or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more seconds, got {text!r}")
    return value


@contextlib.contextmanager
def locked(target: Target, timeout: float | None = None, prog: str = "wn") -> Iterator[None]:
    """Hold ``target``'s lock for the block, waiting up to ``timeout`` seconds (None:
    forever) with a message; then repair an interrupted install, saying so on stderr. A
    directory made for the environment is removed again if the block fails and it is
    still empty: a failed or interrupted first install leaves nothing behind."""
    root = Path(target.scheme["purelib"])
    created = [d for d in (root, *root.parents) if not os.path.lexists(d)]  # deepest first
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InstallerError(f"{root}: cannot create it ({exc.strerror or exc})") from None
    try:
        with _held(root, target, timeout, prog):
            yield
    except BaseException:  # failed or interrupted: directories made for it go, if empty
        for directory in created:
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


@contextlib.contextmanager
def _held(root: Path, target: Target, timeout: float | None, prog: str) -> Iterator[None]:
    """The lock file in ``root`` held for the block (``locked``)."""
    from filelock import FileLock, Timeout

    from wheelnext.installer.journal import recover

    path = root / LOCK
    if path.is_symlink():
        raise InstallerError(f"{path}: is a link; remove it by hand")
    lock = FileLock(path, mode=0o644)  # private to its owner: no directory probing, no markers
    try:
        _acquire(lock, root, timeout, prog)
    except Timeout:
        raise LockTimeout(
            f"{root}: another wn is still installing into it; "
            f"gave up after {_seconds(timeout)} (--lock-timeout)"
        ) from None
    except OSError as exc:
        raise InstallerError(f"{root}: cannot lock it ({exc.strerror or exc})") from None
    try:
        message = recover(target)
        if message is not None:
            print(f"{prog}: {message}", file=sys.stderr, flush=True)
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        lock.release()


REMADE = 10  # times the environment directory is made again while waiting for its lock


def _acquire(lock: Any, root: Path, timeout: float | None, prog: str) -> None:
    """Take ``lock`` (in ``root``), saying once that another ``wn`` holds it. ``root``
    removed meanwhile (the other ``wn`` made it for an install that failed, and removed
    it again): made again and waited on as before."""
    from filelock import Timeout

    deadline = None if timeout is None else time.monotonic() + timeout
    said = False
    for attempt in range(REMADE):
        left = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            try:
                lock.acquire(timeout=0)
            except Timeout:  # (a TimeoutError, so an OSError: caught first)
                if timeout != 0 and not said:
                    print(f"{prog}: waiting for another wn on {root}", file=sys.stderr, flush=True)
                    said = True
                lock.acquire(timeout=left)
            return
        except FileNotFoundError:
            if attempt == REMADE - 1:
                raise
            root.mkdir(parents=True, exist_ok=True)


def _seconds(value: float | None) -> str:
    """``1 second``, ``0.5 seconds``, ``2 seconds``."""
    value = value or 0.0
    return f"{value:g} second{'' if value == 1 else 's'}"


@contextlib.contextmanager
def reading(target: Target, timeout: float | None = None, prog: str = "wn") -> Iterator[None]:
    """Hold ``target``'s lock while reading it, after repairing what an interrupted ``wn``
    left. An environment directory that does not exist is read as it is; one this user
    cannot write (a system Python) is read without the lock, unless it needs repair."""
    from wheelnext.installer.journal import JOURNAL

    root = Path(target.scheme["purelib"])
    if not root.is_dir():
        yield
        return
    if not os.access(root, os.W_OK):  # e.g. a dry run or wn list on a system Python
        if os.path.lexists(root / JOURNAL):
            raise InstallerError(
                f"{root}: an interrupted install needs repair; rerun with write access"
            )
        yield
        return
    with locked(target, timeout, prog):
        yield


def repair(target: Target, timeout: float | None = None, prog: str = "wn") -> None:
    """Take the lock once to repair what an interrupted ``wn`` left, before anything
    reads the environment; an environment directory that does not exist yet is left so."""
    with reading(target, timeout, prog):
        pass
