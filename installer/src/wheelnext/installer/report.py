"""``--report FILE``: pip's installation report (format version 1), plus the variant story.

Each ``install`` item has pip's keys (``download_info.url`` and hashes, ``is_direct``,
``is_yanked``, ``requested``, ``requested_extras``, ``metadata`` as JSON core metadata) and
a ``variant`` object: the chosen label (None for a non-variant wheel), the index and group
the file came from, and why the selector chose it.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version as dist_version
from typing import Any

from wheelnext.core.files import atomic_write
from wheelnext.installer.direct import DIRECT
from wheelnext.installer.distmeta import DistMetadata
from wheelnext.installer.resolver import Resolution
from wheelnext.installer.target import Target


def build_report(
    resolution: Resolution, metadata: Mapping[str, DistMetadata], target: Target
) -> dict[str, Any]:
    items = []
    for name, chosen in sorted(resolution.chosen.items()):
        entry = chosen.located.file
        hashes = dict(entry.hashes)
        items.append(
            {
                "download_info": {"url": entry.url, "archive_info": {"hashes": hashes}},
                "is_direct": chosen.located.group == DIRECT,
                "is_yanked": entry.is_yanked,
                "requested": name in resolution.requested,
                "requested_extras": sorted(resolution.requested.get(name, set())),
                "metadata": metadata[name].to_json(),
                "variant": {
                    "label": chosen.wheel.label,
                    "filename": entry.filename,
                    "index": chosen.located.index.name,
                    "index_url": chosen.located.index.url,
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
    """Write the report in one step (a failure names ``--report`` and leaves no file)."""
    import json

    from wheelnext.installer.errors import InstallerError

    try:
        atomic_write(path, (json.dumps(report, indent=2) + "\n").encode())
    except OSError as exc:
        raise InstallerError(f"--report {path}: {exc.strerror or exc}") from None
