"""``wn wheel dedupe``: byte-identical shared-library copies become links (PEP 778).

Build backends store ``libfoo.so -> libfoo.so.1 -> libfoo.so.1.2.3`` as three full
copies. This keeps the most specific name as the one file and lists the others in
``.dist-info/LINKS``; the wheel becomes ``Wheel-Version: 2.0`` (in WHEEL and, as PEP 777
asks, in METADATA) so installers that do not know links refuse it instead of installing
a tree with missing names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from wheelnext.installer.archive import LINKS_FILE
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.links import Link, format_links, plan_dedupe

LINKS_WHEEL_VERSION = "2.0"
_WHEEL_VERSION_LINE = re.compile(rb"^Wheel-Version:[^\r\n]*\r?\n", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class DedupeResult:
    links: tuple[Link, ...]
    bytes_saved: int  # uncompressed bytes no longer stored
    size_before: int
    size_after: int


def set_wheel_version(headers: bytes, version: str, after: bytes | None = None) -> bytes:
    """``headers`` (an email-style header block, maybe with a body) with its
    ``Wheel-Version`` set to ``version``: replaced in place, or added after the header
    line starting with ``after`` (else first)."""
    line = f"Wheel-Version: {version}\n".encode()
    head, sep, body = headers.partition(b"\n\n")
    if _WHEEL_VERSION_LINE.search(head + b"\n"):
        head = _WHEEL_VERSION_LINE.sub(line, head + b"\n", count=1).rstrip(b"\n")
    else:
        lines = head.split(b"\n")
        at = next((i + 1 for i, h in enumerate(lines) if after and h.startswith(after)), 0)
        lines.insert(at, line.rstrip(b"\n"))
        head = b"\n".join(lines)
    return head + sep + body if sep else head + b"\n"


def dedupe(wheel: Path, destination: Path) -> DedupeResult:
    """Write the deduplicated wheel to ``destination`` (nothing is written when the
    wheel has no duplicate libraries)."""
    from wheelnext.installer.wheeledit import WheelEdit

    edit = WheelEdit(wheel)
    if edit.info.links:
        raise InstallerError(f"{wheel.name}: already has {edit.dist_info}/{LINKS_FILE}")
    contents = edit.info.record
    links = plan_dedupe(contents)
    size = wheel.stat().st_size
    if not links:
        return DedupeResult((), 0, size, size)
    for link, _ in links:
        edit.remove(link)
    edit.put(f"{edit.dist_info}/{LINKS_FILE}", format_links(links).encode("utf-8"))
    for name, after in (("WHEEL", None), ("METADATA", b"Version:")):
        path = f"{edit.dist_info}/{name}"
        edit.put(path, set_wheel_version(edit.read(path), LINKS_WHEEL_VERSION, after))
    edit.save(destination)
    saved = sum(contents[link][1] for link, _ in links)
    return DedupeResult(tuple(links), saved, size, destination.stat().st_size)
