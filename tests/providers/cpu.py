"""Shared plumbing for the CPU provider tests: run an installed provider like core does."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from wheelnext.core.detection import run_source
from wheelnext.core.discovery import discover
from wheelnext.core.providers import DetectContext
from wheelnext.core.supported import ProviderResult


def run_installed(
    namespace: str, sysroot: Path | None = None, environ: Mapping[str, str] | None = None
) -> ProviderResult:
    """Run the installed native provider of ``namespace`` through core's validation."""
    (source,) = [s for s in discover() if s.name == namespace and s.kind == "native"]
    context = DetectContext(environ=dict(environ or {}), sysroot=sysroot or Path("/"))
    return run_source(source, context)


def values(result: ProviderResult) -> dict[str, tuple[str, ...]]:
    """Feature name → supported values, from an ``ok`` result."""
    assert result.status == "ok", result.error
    return {f.name: f.values for f in result.features}


def on_features(result: ProviderResult, *skip: str) -> set[str]:
    """The names of the ``on`` features of a result (all features but ``skip``)."""
    found = values(result)
    assert all(found[name] == ("on",) for name in found if name not in skip)
    return {name for name in found if name not in skip}
