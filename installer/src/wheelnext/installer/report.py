"""``--report FILE``: pip's installation report (format version 1), plus the variant story.

Each ``install`` item has pip's keys (``download_info.url`` and hashes, ``is_direct``,
``is_yanked``, ``requested``, ``requested_extras``, ``metadata`` as JSON core metadata) and
a ``variant`` object: the chosen label (None for a non-variant wheel), the index and group
the file came from, and why the selector chose it.

``--report -`` writes the report to stdout, as pip does; the lines meant for people go to
stderr then (pip asks for ``--quiet`` instead), so stdout is only the JSON. An existing
``FILE`` must be a regular file, which is replaced atomically: a symbolic link, FIFO,
device, socket or directory is refused before anything happens, never replaced.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator, Mapping
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from wheelnext.core.files import atomic_write, file_kind
from wheelnext.installer.errors import InstallerError

if TYPE_CHECKING:
    from wheelnext.installer.distmeta import DistMetadata
    from wheelnext.installer.resolver import Resolution
    from wheelnext.installer.target import Target

STDOUT = "-"
_stdout: list[IO[str]] = []  # the real stdout while ``report_to_stdout`` holds it


@contextlib.contextmanager
def report_to_stdout(path: str | None) -> Iterator[None]:
    """With ``--report -``, keep stdout for the report alone: everything else printed in
    the block goes to stderr."""
    if path != STDOUT:
        yield
        return
    _stdout.append(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _stdout.pop()


def check_report_path(path: str) -> None:
    """``--report PATH`` can be written: ``-`` (stdout), a new file in an existing
    directory, or an existing regular file. Anything else is refused, in one line."""
    if path == STDOUT:
        return
    shown = f"--report {path}"
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        parent = Path(path).parent
        if not parent.is_dir():
            raise InstallerError(f"{shown}: {parent} is not a directory") from None
        return
    except OSError as exc:
        raise InstallerError(f"{shown}: {exc.strerror or exc}") from None
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        raise InstallerError(f"{shown}: is a symbolic link; refusing to replace it")
    if stat.S_ISDIR(mode):
        raise InstallerError(f"{shown}: is a directory")
    if not stat.S_ISREG(mode):
        raise InstallerError(
            f"{shown}: not a regular file ({file_kind(mode)}); refusing to replace it"
        )


def build_report(
    resolution: Resolution, metadata: Mapping[str, DistMetadata], target: Target
) -> dict[str, Any]:
    from wheelnext.installer.direct import DIRECT
    from wheelnext.installer.http import without_credentials  # a report is shared, as pip's

    items = []
    for name, chosen in sorted(resolution.chosen.items()):
        entry = chosen.located.file
        hashes = dict(entry.hashes)
        items.append(
            {
                "download_info": {
                    "url": without_credentials(entry.url),
                    "archive_info": {"hashes": hashes},
                },
                "is_direct": chosen.located.group == DIRECT,
                "is_yanked": entry.is_yanked,
                "requested": name in resolution.requested,
                "requested_extras": sorted(resolution.requested.get(name, set())),
                "metadata": metadata[name].to_json(),
                "variant": {
                    "label": chosen.wheel.label,
                    "filename": entry.filename,
                    "index": chosen.located.index.name,
                    "index_url": without_credentials(chosen.located.index.url),
                    "group": chosen.located.group,
                    "extras": sorted(resolution.extras.get(name, set())),
                    "why": chosen.why,
                },
            }
        )
    return {
        "version": "1",
        "pip_version": None,
        "installer": f"wheelnext-installer {dist_version('wheelnext-installer')}",
        "install": items,
        "environment": dict(target.markers),
    }


def write_report(path: str, report: dict[str, Any]) -> None:
    """Write the report in one step (a failure names ``--report`` and leaves no file);
    ``-``: to stdout. The path is checked again just before it is replaced."""
    import json

    text = json.dumps(report, indent=2) + "\n"
    if path == STDOUT:
        out = _stdout[-1] if _stdout else sys.stdout
        out.write(text)
        out.flush()
        return
    check_report_path(path)
    try:
        atomic_write(path, text.encode())
    except OSError as exc:
        raise InstallerError(f"--report {path}: {exc.strerror or exc}") from None
