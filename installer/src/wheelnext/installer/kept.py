"""Keeping an installed variant: ``wn install`` without ``--reinstall-variants`` leaves a
release installed at the version it resolves to as it is, so that release's dependencies
must be the installed variant's, not those of the variant this machine selects now.

When the index still offers the installed label and this machine supports it, that wheel
is chosen (its Requires-Dist and variant markers drive resolution, as they did at install
time). Otherwise the machine's best wheel stands in for the node, but its dependencies are
read from the installed ``METADATA`` under the installed variant's own properties.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import Distribution

from packaging.version import InvalidVersion, Version

from wheelnext.core.errors import WheelnextError, one_line
from wheelnext.core.filenames import WheelFilename
from wheelnext.core.markers import VariantEnvironment
from wheelnext.core.metadata import parse_metadata
from wheelnext.core.selector import RankedWheel
from wheelnext.installer.distmeta import DistMetadata
from wheelnext.installer.drift import installed_label
from wheelnext.installer.errors import InstallerError


@dataclass(frozen=True, slots=True)
class InstalledRequirements:
    """An installed wheel's own METADATA and the variant environment it was installed with."""

    metadata: DistMetadata
    variant_env: VariantEnvironment


@dataclass(frozen=True, slots=True)
class Kept:
    """A release kept as its installed variant although this machine selects ``selects``;
    ``installed`` is set when the installed wheel cannot be chosen here (its label is not
    offered or not supported), so its dependencies come from the environment."""

    label: str | None  # the installed label (None: the non-variant wheel)
    selects: WheelFilename
    installed: InstalledRequirements | None = None


def keep(
    dist: Distribution | None, version: Version, ranked: Sequence[RankedWheel]
) -> tuple[RankedWheel, Kept | None]:
    """The wheel to choose for ``version`` among ``ranked`` (best first) when ``dist`` is
    what the environment holds, and what is kept (None: nothing to keep, take the best)."""
    best = ranked[0]
    if dist is None or _version(dist) != version:
        return best, None
    # no record and no variant.json: a non-variant wheel as far as its dependencies go
    label = installed_label(dist)[1]
    if best.wheel.label == label:
        return best, None
    same = next((r for r in ranked if r.wheel.label == label), None)
    if same is not None:
        return same, Kept(label, best.wheel)
    return best, Kept(label, best.wheel, _installed_requirements(dist, label))


def _version(dist: Distribution) -> Version | None:
    try:
        return Version(dist.version)
    except InvalidVersion:
        return None


def _installed_requirements(dist: Distribution, label: str | None) -> InstalledRequirements:
    """The installed METADATA, and the installed variant's properties from its
    ``variant.json`` (all of them: they are what its markers were evaluated with)."""
    where = f"{one_line(str(dist.metadata['Name']), 80)} {one_line(dist.version, 40)} (installed)"
    text = dist.read_text("METADATA")
    if text is None:
        raise InstallerError(f"{where}: no METADATA; --reinstall-variants replaces it")
    metadata = DistMetadata.parse(text.encode(), where)
    if label is None:
        return InstalledRequirements(metadata, VariantEnvironment.for_wheel(None))
    own = dist.read_text("variant.json")
    try:
        properties = parse_metadata(own, source="variant.json").properties(label) if own else None
    except WheelnextError as exc:
        raise InstallerError(
            f"{where}: unreadable variant.json ({one_line(str(exc), 200)}); "
            "--reinstall-variants replaces it"
        ) from None
    return InstalledRequirements(metadata, VariantEnvironment.for_wheel(label, properties or ()))
