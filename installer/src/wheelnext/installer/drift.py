"""Variant drift: the installed variant is no longer the one this machine would choose
(a new GPU, a driver update, a disk image moved to other hardware).

At install, each wheel's dist-info gets ``WHEELNEXT_VARIANT.json``: the label chosen, the
wheels of that release that were on offer, and their combined variant metadata. Later,
offline, ``wn list`` and ``wn install`` rerun selection over those same wheels for this
machine and compare.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import Distribution
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelnext.core import safejson
from wheelnext.core.errors import WheelnextError, one_line
from wheelnext.core.filenames import (
    WheelFilename,
)
from wheelnext.core.metadata import VariantMetadata, metadata_to_json, parse_metadata
from wheelnext.core.selector import Selector

if TYPE_CHECKING:
    from wheelnext.installer.finder import Chosen, Finder

RECORD = "WHEELNEXT_VARIANT.json"
LOG = logging.getLogger(__name__)
_pending: dict[str, bytes] = {}  # wheel file name -> the record to write with it


def remember(
    wheel: str, label: str | None, available: Iterable[str], metadata: VariantMetadata | None
) -> None:
    """Note what to record in the dist-info when ``wheel`` is installed in this process."""
    doc: dict[str, Any] = {
        "label": label,
        "wheel": wheel,
        "available": sorted(set(available) | {wheel}),
    }
    if metadata is not None:
        doc["variants-json"] = metadata_to_json(metadata)
    _pending[wheel] = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def additional_metadata(wheel: str) -> dict[str, bytes]:
    """The extra dist-info files for ``wheel`` (``installer``'s additional_metadata)."""
    record = _pending.get(wheel)
    return {RECORD: record} if record is not None else {}


@dataclass(frozen=True, slots=True)
class Installed:
    """An installed distribution's variant, and what this machine would choose now."""

    name: str
    version: str
    label: str | None  # None: not a variant wheel (or unknown)
    properties: tuple[str, ...]
    best: str | None  # the label selection picks here now ("" for a non-variant wheel)
    known: bool  # False: no record, drift cannot be judged

    @property
    def drifted(self) -> bool:
        return self.known and self.best != (self.label or "")


def _record(dist: Distribution) -> dict[str, Any] | None:
    """The dist-info's ``WHEELNEXT_VARIANT.json``; a malformed one is named in a warning
    (someone or something wrote it; drift cannot be judged) and counts as none."""
    try:
        text = dist.read_text(RECORD)
        if text is None:
            return None
        doc = safejson.loads(text.encode(), RECORD)
    except (WheelnextError, UnicodeDecodeError) as exc:
        _malformed(dist, one_line(str(exc), 200))
        return None
    if not isinstance(doc, dict):
        _malformed(dist, "not a JSON object")
        return None
    return doc


def _malformed(dist: Distribution, why: str) -> None:
    name = one_line(str(dist.metadata["Name"] or "?"), 80)
    LOG.warning(
        "%s %s: %s is malformed (%s); ignored", name, one_line(dist.version, 40), RECORD, why
    )


def _own_variant(dist: Distribution) -> VariantMetadata | None:
    text = dist.read_text("variant.json")
    if text is None:
        return None
    try:
        return parse_metadata(text, source="variant.json")
    except WheelnextError:
        return None


def inspect(dist: Distribution, selector: Selector) -> Installed:
    """Read ``dist``'s installed variant and judge it for ``selector``'s machine."""
    name = str(dist.metadata["Name"] or "?")
    version = dist.version
    own = _own_variant(dist)
    label = next(iter(own.variants), None) if own is not None else None
    props = tuple(sorted(str(p) for p in own.variants[label])) if own and label else ()
    record = _record(dist)
    if record is None:
        return Installed(name, version, label, props, None, False)
    available = record.get("available")
    if not isinstance(available, list) or not all(isinstance(a, str) for a in available):
        return Installed(name, version, label, props, None, False)
    metadata: VariantMetadata | None = None
    if isinstance(record.get("variants-json"), dict):
        try:
            metadata = parse_metadata(record["variants-json"], source=RECORD)
        except WheelnextError:
            return Installed(name, version, label, props, None, False)
    recorded = record.get("label")
    if isinstance(recorded, str):
        label = recorded
    best = selector.rank(available, metadata).best
    return Installed(name, version, label, props, (best.label or "") if best else None, True)


def inspect_all(dists: Iterable[Distribution], selector: Selector) -> list[Installed]:
    """Every distribution, sorted by canonical name."""
    found = [inspect(d, selector) for d in dists]
    return sorted(found, key=lambda i: canonicalize_name(i.name))


def remember_plan(finder: Finder, plan: Sequence[Chosen]) -> None:
    """Note the record of every planned wheel of a resolved install (``wn install``)."""
    from wheelnext.installer.direct import DIRECT
    from wheelnext.installer.lock.write import release_variants, release_wheels

    for chosen in plan:
        own = chosen.variant_metadata
        if chosen.located.group == DIRECT:  # a URL the user named: no release to compare
            remember(chosen.filename, chosen.wheel.label, [chosen.filename], own)
            continue
        selected = {chosen.filename}
        files, wheels = release_wheels(finder, chosen.name, chosen.version, finder.target, selected)
        available = [f.file.filename for f in wheels]
        metadata = own
        if metadata is None and any(WheelFilename.parse(n).label for n in available):
            found = release_variants(finder, files, chosen.version, wheels)
            metadata = found if isinstance(found, VariantMetadata) else None
        remember(chosen.filename, chosen.wheel.label, available, metadata)


def installed_label(dist: Distribution) -> tuple[bool, str | None]:
    """(known, label) of an installed distribution: from our record, else its own
    ``variant.json``; a distribution with neither is a non-variant wheel (or unknown)."""
    record = _record(dist)
    if record is not None and (record.get("label") is None or isinstance(record["label"], str)):
        return True, record.get("label")
    own = _own_variant(dist)
    if own is not None:
        return True, next(iter(own.variants), None)
    return record is not None, None


def same_release(dist: Distribution | None, chosen: Chosen) -> bool:
    """``dist`` is ``chosen``'s project at ``chosen``'s version (what install keeps)."""
    if dist is None:
        return False
    try:
        return Version(dist.version) == chosen.version
    except InvalidVersion:
        return False


def drifted_in_plan(
    plan: Sequence[Chosen], present: Mapping[str, Distribution], who: str = "this machine"
) -> dict[str, str]:
    """Planned wheels whose release is installed as another variant than the one ``who``
    (this machine, or a ``--properties`` profile) selects now (``Chosen.selects``):
    canonical name -> message."""
    lines: dict[str, str] = {}
    for chosen in plan:
        dist = present.get(canonicalize_name(chosen.name))
        if dist is None or not same_release(dist, chosen):
            continue
        known, label = installed_label(dist)
        selects = chosen.selects.label
        if known and label != selects:
            lines[canonicalize_name(chosen.name)] = (
                f"{chosen.name} {chosen.version}: installed as {_variant(label)}, {who} "
                f"now selects {_variant(selects)}"
            )
    return lines


def _variant(label: str | None) -> str:
    return f"variant {one_line(label, 80)}" if label else "the non-variant wheel"
