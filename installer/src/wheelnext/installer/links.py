"""Links in wheels (PEP 778): the ``.dist-info/LINKS`` file, its checks, and making links.

``LINKS`` is UTF-8 CSV with two columns per row, ``link_path,target_path`` (see
spec/links.md): both are archive paths relative to the wheel root, installed into the root
scheme (purelib or platlib). A link is created as a *relative* symlink, so the tree stays
valid wherever the environment is moved.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from wheelnext.installer.errors import InstallerError
from wheelnext.installer.paths import unsafe_reason

MAX_CHAIN = 40  # Linux MAXSYMLINKS: the kernel would refuse a longer chain anyway
Link = tuple[str, str]
Fallback = Literal["error", "copy"]

# libfoo.so, libfoo.so.1, libfoo.so.1.2.3 (ELF) and libfoo.dylib, libfoo.1.dylib (Mach-O)
_ELF = re.compile(r"^(?P<base>.+\.so)(?P<version>(?:\.\d+)*)$")
_MACHO = re.compile(r"^(?P<stem>.+?)(?P<version>(?:\.\d+)*)\.dylib$")


def parse_links(text: str, where: str) -> list[Link]:
    """Rows of a LINKS file; any malformed row is an error naming its line."""
    links: list[Link] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row:
            continue
        if len(row) != 2 or not row[0] or not row[1]:
            raise InstallerError(f"{where}: line {number}: expected 'link_path,target_path'")
        links.append((row[0], row[1]))
    return links


def format_links(links: Iterable[Link]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in links:
        writer.writerow(row)
    return out.getvalue()


def check_links(links: Sequence[Link], members: Iterable[str], dist_info: str, where: str) -> None:
    """Every rule that can be checked inside the archive (spec/links.md, "Checks")."""
    files = set(members)
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    directories = {str(p) for name in files for p in PurePosixPath(name).parents}
    targets: dict[str, str] = {}
    for link, target in links:
        for role, path in (("link", link), ("target", target)):
            reason = unsafe_reason(path)
            if reason is None and path.endswith("/"):
                reason = "directory links are not supported"
            if reason is None and path.split("/", 1)[0] in (dist_info, data_dir):
                reason = "links must lie outside .dist-info and .data"
            if reason is not None:
                raise InstallerError(f"{where}: {role} {path!r}: {reason}")
        if link in files or link in directories:
            raise InstallerError(f"{where}: link {link!r} would replace a file of the wheel")
        if link in targets:
            raise InstallerError(f"{where}: link {link!r} is listed twice")
        targets[link] = target
    for link in targets:
        for parent in PurePosixPath(link).parents:
            if str(parent) in targets:
                raise InstallerError(
                    f"{where}: link {link!r} would be written through link {str(parent)!r}"
                )
    for link in targets:
        final_target(link, targets, files, where)


def final_target(link: str, targets: Mapping[str, str], files: set[str], where: str) -> str:
    """The regular file a chain of links ends at; cycles, dangling and long chains fail."""
    seen = [link]
    current = targets[link]
    while current not in files:
        if current not in targets:
            raise InstallerError(
                f"{where}: link {link!r} points to {current!r}, which the wheel does not install"
            )
        if current in seen:
            raise InstallerError(f"{where}: link cycle {' -> '.join([*seen, current])}")
        seen.append(current)
        if len(seen) > MAX_CHAIN:
            raise InstallerError(f"{where}: link chain from {link!r} is longer than {MAX_CHAIN}")
        current = targets[current]
    return current


# ---------------------------------------------------------------- build side


def _library_key(name: str) -> tuple[str, int] | None:
    """(directory + library identity, number of version components) for a shared-library
    name, or None for any other file."""
    path = PurePosixPath(name)
    for pattern, key in ((_ELF, "base"), (_MACHO, "stem")):
        match = pattern.match(path.name)
        if match:
            version = match["version"]
            return f"{path.parent}/{match[key]}", version.count(".")
    return None


def plan_dedupe(contents: Mapping[str, tuple[str, int]]) -> list[Link]:
    """Links replacing byte-identical shared-library copies: within one directory, the
    names of one library with equal content become a chain, shortest name first, ending
    at the most specific name (``libfoo.so -> libfoo.so.1 -> libfoo.so.1.2.3``).

    ``contents`` maps a member name to (hash, size).
    """
    groups: dict[tuple[str, str, int], list[tuple[int, str]]] = defaultdict(list)
    for name, (digest, size) in contents.items():
        key = _library_key(name)
        if key is not None and size > 0:
            groups[(key[0], digest, size)].append((key[1], name))
    links: list[Link] = []
    for members in groups.values():
        if len(members) < 2:
            continue
        chain = [name for _, name in sorted(members)]
        links += [(shorter, longer) for shorter, longer in itertools.pairwise(chain)]
    return sorted(links)


# ---------------------------------------------------------------- install side


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    links: int
    copies: int
    bytes_saved: int


def create_links(
    links: Sequence[Link],
    root: Path,
    *,
    files: set[str],
    note: Callable[[Path], None],
    fallback: Fallback = "error",
    where: str = "LINKS",
) -> LinkOutcome:
    """Create ``links`` under ``root`` once every regular file is in place.

    Each link is checked again on disk: no existing path is replaced, no parent directory
    is a link (nothing is written through a link), and the target resolves inside
    ``root`` to a file this wheel installed. Each path is passed to ``note`` (the
    transaction's journal) before it is created.
    """
    targets = dict(links)
    real_root = root.resolve()
    made = copies = saved = 0
    # links to regular files first, then the links that point at those, and so on
    depth = {link: _depth(link, targets, files) for link in targets}
    for link in sorted(targets, key=lambda name: (depth[name], name)):
        target = targets[link]
        path = root / link
        _refuse_link_parents(root, path, where)
        if os.path.lexists(path):
            raise InstallerError(f"{where}: {path} already exists; a link never replaces it")
        final = root / final_target(link, targets, files, where)
        resolved = (root / target).resolve()
        if not resolved.is_relative_to(real_root) or not final.is_file():
            raise InstallerError(f"{where}: target of {link!r} is not a file this wheel installed")
        missing = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
        for directory in reversed(missing):
            note(directory)
            directory.mkdir()
        relative = os.path.relpath(root / target, path.parent)
        note(path)
        try:
            path.symlink_to(relative)
        except OSError as exc:
            if fallback != "copy":
                raise InstallerError(
                    f"{where}: cannot create symlink {path} ({exc.strerror or exc}); "
                    "this filesystem may not support links: use --link-fallback=copy"
                ) from None
            shutil.copy2(final, path)
            copies += 1
            continue
        made += 1
        saved += final.stat().st_size
    return LinkOutcome(made, copies, saved)


def _depth(link: str, targets: Mapping[str, str], files: set[str]) -> int:
    depth, current = 0, targets[link]
    while current not in files and current in targets and depth <= MAX_CHAIN:
        depth, current = depth + 1, targets[current]
    return depth


def _refuse_link_parents(root: Path, path: Path, where: str) -> None:
    """Never write through a link: no directory between ``root`` and ``path`` may be one."""
    for parent in reversed(path.relative_to(root).parents):
        candidate = root / parent
        if candidate != root and candidate.is_symlink():
            raise InstallerError(f"{where}: {candidate} is a link; nothing is written through it")
