"""Shared plumbing for provider tests: run an installed provider as core and variantlib do."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from wheelnext.core.supported import ProviderResult
from wheelnext.core.testing import installed_source, run_installed

__all__ = ["as_configs", "on_features", "run_installed", "values", "variantlib_configs"]


def values(result: ProviderResult) -> dict[str, tuple[str, ...]]:
    """Feature name → supported values, from an ``ok`` result."""
    assert result.status == "ok", result.error
    return {f.name: f.values for f in result.features}


def on_features(result: ProviderResult, *skip: str) -> set[str]:
    """The names of the ``on`` features of a result (all features but ``skip``)."""
    found = values(result)
    assert all(found[name] == ("on",) for name in found if name not in skip)
    return {name for name in found if name not in skip}


def variantlib_configs(
    namespace: str, monkeypatch: pytest.MonkeyPatch, environ: Mapping[str, str]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(supported, all) configs of our installed provider as the published variantlib loads
    it, through its ``plugin-api`` string (``<module>:plugin_api``), in a subprocess that
    inherits ``environ``."""
    from variantlib.plugins import loader as variantlib_loader

    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    from variantlib.plugins.loader import DictPluginLoader

    source = installed_source(namespace)
    # variantlib caches answers per process, keyed without the environment: start afresh
    variantlib_loader.VARIANT_PROVIDER_CACHE_TABLE.clear()
    with DictPluginLoader({namespace: f"{source.ref}:plugin_api"}) as loader:
        supported = loader.get_supported_configs()
        everything = loader.get_all_configs()
    found = supported.get(namespace)
    return (
        {c.name: list(c.values) for c in found.configs} if found else {},
        {c.name: list(c.values) for c in everything[namespace].configs},
    )


def as_configs(result: ProviderResult) -> dict[str, list[str]]:
    """A core result in the shape ``variantlib_configs`` returns."""
    return {f.name: list(f.values) for f in result.features}
