"""File names from an index are names, never paths: one check for all of them, and the
storage paths we derive ourselves (from a hash of the URL) for downloads and caches."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from wheelnext.core.errors import one_line
from wheelnext.installer.errors import InstallerError

MAX_NAME = 255  # one path component on every common file system
_UNSAFE = re.compile(r"[/\\:\x00-\x1f\x7f]|\.\.|^\.|^[A-Za-z]:")
_HEX = re.compile(r"[0-9a-f]+")


def check_filename(filename: object, source: str) -> str:
    """``filename`` when it is one plain, storable file name; otherwise an InstallerError
    naming ``source``. Refused: any ``/``, ``\\``, ``..``, NUL or other control character,
    ``:`` (drive letters, alternate streams), a leading dot, or an over-long name."""
    if not isinstance(filename, str) or not filename:
        raise InstallerError(f"{source}: a file name must be a non-empty string")
    if len(filename) > MAX_NAME or _UNSAFE.search(filename):
        raise InstallerError(
            f"{source}: refusing file name {one_line(filename, 120)!r}: "
            "it is a path or holds characters a file name must not"
        )
    return filename


def check_digest(algorithm: object, digest: object, source: str) -> tuple[str, str]:
    """A hash from an index: a lower-case algorithm name and a hex digest, or an error."""
    if not isinstance(algorithm, str) or not isinstance(digest, str):
        raise InstallerError(f"{source}: hash names and values must be strings")
    algorithm, digest = algorithm.lower(), digest.lower()
    if not re.fullmatch(r"[a-z0-9_]{1,32}", algorithm) or not _HEX.fullmatch(digest):
        raise InstallerError(
            f"{source}: invalid hash {one_line(algorithm, 40)}={one_line(digest, 140)}"
        )
    return algorithm, digest


def storage_key(url: str) -> str:
    """The name we derive for a file from where it came from."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def storage_path(root: Path, url: str, filename: str) -> Path:
    """Where a downloaded file lives: ``root/<sha256 of its URL>/<checked filename>``; the
    folder is ours, and the name has been checked to be a single plain component."""
    path = root / storage_key(url) / check_filename(filename, url)
    if path.parent.parent != root:  # cannot happen after the check; a second lock
        raise InstallerError(f"{url}: refusing to store {one_line(filename, 120)!r}")
    return path
