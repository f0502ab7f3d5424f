"""Finding providers: the ``wheelnext.providers`` entry points, and standard plugin-API
objects in ``variant_plugins`` (the group the standard recommends for installed plugins).

A distribution that registers both is taken once, through its native entry point.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import reduce
from typing import Literal

from wheelnext.core.errors import ProviderError

ENTRY_POINT_GROUP = "wheelnext.providers"  # = hookspecs.ENTRY_POINT_GROUP, without pluggy
STANDARD_GROUP = "variant_plugins"
_REF_RE = re.compile(r"\s*(?P<module>[\w.]+)\s*(?::\s*(?P<attr>[\w.]+)\s*)?")

Kind = Literal["native", "plugin-api"]


@dataclass(frozen=True, slots=True)
class ProviderSource:
    """Where a provider comes from: an object reference and its distribution.

    ``kind`` is ``native`` for our hook contract and ``plugin-api`` for a standard
    plugin-API object, whose namespace is then ``name`` (the entry-point name or the
    metadata key).
    """

    name: str
    ref: str
    kind: Kind = "native"
    distribution: str = ""
    version: str = ""


def parse_object_reference(ref: str) -> tuple[str, list[str]]:
    """Split ``module.path(:attr.path)?`` (the entry-point object reference syntax)."""
    match = _REF_RE.fullmatch(ref)
    if match is None:
        raise ProviderError(f"invalid object reference {ref!r}: expected 'module:attr'")
    attr = match["attr"]
    return match["module"], attr.split(".") if attr else []


def load_object(ref: str) -> object:
    """Import the module of ``ref`` and walk its attribute path."""
    module_name, attrs = parse_object_reference(ref)
    try:
        module = importlib.import_module(module_name)
        return reduce(getattr, attrs, module)
    except Exception as exc:
        raise ProviderError(f"cannot load {ref!r}: {type(exc).__name__}: {exc}") from None


def discover(*, include_standard: bool = True) -> list[ProviderSource]:
    """Every installed provider, native ones first, each group sorted by name."""
    from importlib.metadata import entry_points

    sources: list[ProviderSource] = []
    native_dists: set[str] = set()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist
        name, version = (dist.name, dist.version) if dist is not None else ("", "")
        native_dists.add(name)
        sources.append(ProviderSource(ep.name, ep.value, "native", name, version))
    if include_standard:
        for ep in sorted(entry_points(group=STANDARD_GROUP), key=lambda e: e.name):
            dist = ep.dist
            name, version = (dist.name, dist.version) if dist is not None else ("", "")
            if name and name in native_dists:
                continue
            sources.append(ProviderSource(ep.name, ep.value, "plugin-api", name, version))
    return sources
