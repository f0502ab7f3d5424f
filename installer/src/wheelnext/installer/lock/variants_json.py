"""``[packages.variants-json]`` (PEP 825): prune combined metadata to the listed wheels,
validate what a lock carries, and check it against each wheel's own ``variant.json``."""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

from wheelnext.core.errors import WheelnextError
from wheelnext.core.metadata import VariantMetadata, metadata_to_json, parse_metadata
from wheelnext.installer.errors import InstallerError


def prune(metadata: VariantMetadata, labels: Collection[str]) -> dict[str, Any]:
    """The inline table for a package whose listed variant wheels carry ``labels``.

    As PEP 825 allows: ``$schema`` kept; variants whose label is not listed dropped; the
    listed ones kept whole; namespaces no kept label uses dropped from
    ``default-priorities.namespace`` (and from the per-namespace keys of older formats),
    unless that would empty the list, which the schema forbids; then it is kept whole.
    """
    doc = copy.deepcopy(metadata_to_json(metadata))
    doc["variants"] = {k: v for k, v in doc["variants"].items() if k in labels}
    used = {ns for props in doc["variants"].values() for ns in props}
    prio = doc["default-priorities"]
    kept = [ns for ns in prio["namespace"] if ns in used]
    if kept:
        prio["namespace"] = kept
        for key in ("feature", "property"):
            if key in prio:
                prio[key] = {ns: v for ns, v in prio[key].items() if ns in used}
                if not prio[key]:
                    del prio[key]
        for key in ("providers", "static-properties"):
            if key in doc:
                doc[key] = {ns: v for ns, v in doc[key].items() if ns in used}
                if key == "static-properties" and not doc[key]:
                    del doc[key]
    parse_metadata(doc, source="pruned variants-json")  # producers emit only valid data
    return doc


def validate(table: object, where: str) -> VariantMetadata:
    """A lock's ``variants-json`` table, validated against the schema it names (PEP 825
    says variant-aware tools MUST); an error names ``where`` (the lock and package)."""
    if not isinstance(table, dict):
        raise InstallerError(f"{where}: variants-json must be a table")
    try:
        return parse_metadata(table, source=f"{where}: variants-json")
    except WheelnextError as exc:
        raise InstallerError(str(exc)) from None


def check_wheel(locked: VariantMetadata, own: VariantMetadata, label: str, where: str) -> None:
    """A wheel's ``variant.json`` must agree with the lock: same property set for its
    label, and the namespaces that label uses in the same order."""
    mine, theirs = locked.properties(label), own.properties(label)
    if mine is None or mine != theirs:
        raise InstallerError(
            f"{where}: the wheel's variant.json disagrees with the lock's variants-json "
            f"about label {label!r}"
        )
    used = {p.namespace for p in mine}
    order = [ns for ns in locked.namespace_priorities if ns in used]
    if order != [ns for ns in own.namespace_priorities if ns in used]:
        raise InstallerError(
            f"{where}: the wheel's variant.json orders namespaces differently from the "
            "lock's variants-json"
        )
