"""``wn wheel recompress``: rewrite every member of a wheel with one ZIP method.

zstd (method 93) wheels are smaller and decompress faster, but only installers whose
``zipfile`` reads method 93 can use them (pip on Python >= 3.14, uv >= 0.12, wn with
``backports.zstd``): see spec/wheel-tools.md. Member bytes, RECORD and the hash of every
file are unchanged; only the archive's encoding differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wheelnext.installer.archive import DEFLATED, STORED, ZSTANDARD

METHODS = {"stored": STORED, "deflate": DEFLATED, "zstd": ZSTANDARD}
LEVELS = {"deflate": range(0, 10), "zstd": range(-7, 23)}  # zlib 0-9, zstd -7..22


@dataclass(frozen=True, slots=True)
class RecompressResult:
    size_before: int
    size_after: int


def recompress(
    wheel: Path,
    destination: Path,
    method: str,
    level: int | None = None,
    on_member: Callable[[str], None] | None = None,
) -> RecompressResult:
    """Write ``wheel`` to ``destination`` with every member in ``method``."""
    from wheelnext.installer.errors import InstallerError
    from wheelnext.installer.wheeledit import WheelEdit

    if level is not None and level not in LEVELS.get(method, ()):
        raise InstallerError(f"--level {level} is not a {method} level")
    before = wheel.stat().st_size
    WheelEdit(wheel).save(destination, METHODS[method], level, on_member)
    return RecompressResult(before, destination.stat().st_size)
