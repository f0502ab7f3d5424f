"""The parts of a ``pylock.toml`` (PEP 751) this installer reads and writes, as checked
values: what ``read`` returns and ``install`` consumes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from wheelnext.core.metadata import VariantMetadata

LOCK_VERSION = "1.0"
CREATED_BY = "wheelnext-installer"
TOOL = "wheelnext"
# PEP 751: "pylock.toml", or "pylock.<name>.toml" with a name of no dots
LOCK_NAME = re.compile(r"^pylock\.([^.]+\.)?toml$")


def is_lock_name(filename: str) -> bool:
    """True for a PEP 751 lock file name (``pylock.toml``, ``pylock.dev.toml``)."""
    return bool(LOCK_NAME.match(filename))


_TOML_LINE = re.compile(r"^(\[\[?[^\]]*\]\]?|[A-Za-z0-9_.\"'-]+\s*=(?!=).*)$")
SNIFF_BYTES = 64 * 1024


def looks_like_lock(path: str) -> bool:
    """Whether the ``-r`` file ``path`` reads like TOML rather than requirements: its first
    non-comment line is ``key = value`` or ``[table]``, or names ``lock-version``."""
    try:
        with Path(path).open("rb") as f:
            head = f.read(SNIFF_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return False
    for raw in head.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        return "lock-version" in line or bool(_TOML_LINE.match(line))
    return False


@dataclass(frozen=True, slots=True)
class LockedWheel:
    """One wheel a locked package lists: where it is and what its bytes hash to."""

    name: str
    url: str | None  # http(s)
    path: str | None  # relative to the lock's directory
    size: int | None
    hashes: dict[str, str]


@dataclass(frozen=True, slots=True)
class LockedDependency:
    """An edge to another package entry; ``marker`` holds a variant marker (PEP 825)
    evaluated against the wheel selected for the depending package."""

    name: str
    version: Version | None
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class LockedPackage:
    name: str  # canonical
    version: Version
    marker: str | None
    requires_python: str | None
    index: str | None
    dependencies: tuple[LockedDependency, ...]
    wheels: tuple[LockedWheel, ...]
    variants: VariantMetadata | None
    extras: tuple[str, ...] = ()  # extras resolved in (our tool table)
    sdist_only: bool = False  # the entry lists an sdist (or other source) and no wheel


@dataclass(frozen=True, slots=True)
class Lock:
    path: str  # as the user named it, for messages
    requires_python: str | None
    environments: tuple[str, ...]
    packages: tuple[LockedPackage, ...]
    requested: frozenset[str] | None  # our tool table; None: not written by us
