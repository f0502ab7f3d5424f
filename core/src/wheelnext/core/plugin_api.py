"""Adapters between our hook contract and the standard plugin-API objects.

The standard (PEP 850 lineage; variantlib 0.2.x) names a provider by an object
reference (``plugin-api``) to something with ``get_supported_configs()`` and, for
building, ``get_all_configs()``, each returning configs with ``name``, ``values`` (best
first) and ``multi_value``. ``PluginApiProvider`` lets core call such an object through
our hooks; ``StandardPlugin`` lets other tools load one of ours by its ``plugin-api``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from wheelnext.core.errors import ProviderError
from wheelnext.core.hookspecs import hookimpl
from wheelnext.core.providers import (
    Absent,
    DetectContext,
    DetectedFeature,
    FeatureDeclaration,
    ProviderDescription,
)


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """A feature config in the standard's shape."""

    name: str
    values: list[str] = field(default_factory=list)
    multi_value: bool = False


def _configs(plugin: object, method: str, ref: str) -> list[tuple[str, list[str], bool]]:
    result = getattr(plugin, method)()
    if not isinstance(result, list | tuple):
        raise ProviderError(f"{ref}: {method}() returned {type(result).__name__}, expected a list")
    configs = []
    for config in result:
        name, values = getattr(config, "name", None), getattr(config, "values", None)
        multi = getattr(config, "multi_value", False)
        if (
            not isinstance(name, str)
            or not isinstance(values, list | tuple)
            or not all(isinstance(v, str) for v in values)
            or not isinstance(multi, bool)
        ):
            raise ProviderError(
                f"{ref}: {method}() returned {config!r}, expected configs with "
                "name, values and multi_value"
            )
        configs.append((name, list(values), multi))
    return configs


class PluginApiProvider:
    """Our hooks over a standard plugin-API object, for namespace ``namespace``.

    Declarations come from ``get_all_configs()``; a plugin without it declares what it
    reports as supported (nothing more can be checked). A ``namespace`` attribute, if the
    plugin has one, must agree with the namespace it is loaded for.
    """

    def __init__(self, plugin: object, namespace: str, ref: str) -> None:
        if not callable(getattr(plugin, "get_supported_configs", None)):
            raise ProviderError(f"{ref}: no get_supported_configs(): not a plugin-API object")
        own = getattr(plugin, "namespace", None)
        if own is not None and own != namespace:
            raise ProviderError(f"{ref}: plugin says namespace {own!r}, loaded for {namespace!r}")
        self.plugin, self.namespace, self.ref = plugin, namespace, ref

    @hookimpl
    def wheelnext_provider(self) -> ProviderDescription:
        method = (
            "get_all_configs"
            if hasattr(self.plugin, "get_all_configs")
            else "get_supported_configs"
        )
        configs = _configs(self.plugin, method, self.ref)
        return ProviderDescription(
            self.namespace,
            f"plugin-API object {self.ref}",
            tuple(FeatureDeclaration(n, tuple(vs), multi) for n, vs, multi in configs if vs),
        )

    @hookimpl
    def wheelnext_detect(self, context: DetectContext) -> list[DetectedFeature]:
        configs = _configs(self.plugin, "get_supported_configs", self.ref)
        return [DetectedFeature(n, tuple(vs)) for n, vs, _ in configs]


class StandardPlugin:
    """A standard plugin-API object over one of our providers.

    A provider package exposes one at module level, e.g. ``plugin_api =
    as_plugin_api(sys.modules[__name__])``, and names it in ``plugin-api`` and in the
    ``variant_plugins`` entry-point group. Answers pass through the same validation core
    applies, so a tool loading it gets only declared, well-formed configs.
    """

    all_properties_compatible = False

    def __init__(self, provider: object) -> None:
        self._provider = provider

    def _run(self) -> tuple[ProviderDescription, Sequence[DetectedFeature] | Absent | None]:
        from wheelnext.core.detection import call_provider

        return call_provider(self._provider, "standard-plugin", DetectContext())

    @property
    def namespace(self) -> str:
        return self._run()[0].namespace

    def get_all_configs(self) -> list[FeatureConfig]:
        description, _ = self._run()
        return [FeatureConfig(f.name, list(f.values), f.multi_value) for f in description.features]

    def get_supported_configs(self) -> list[FeatureConfig]:
        description, answer = self._run()
        if answer is None or isinstance(answer, Absent):
            return []
        multi = {f.name: f.multi_value for f in description.features}
        return [FeatureConfig(f.name, list(f.values), multi[f.name]) for f in answer if f.values]

    def __repr__(self) -> str:
        return f"<StandardPlugin over {self._provider!r}>"


def as_plugin_api(provider: object) -> StandardPlugin:
    """Wrap a provider (module or object with our hooks) as a standard plugin-API object."""
    return StandardPlugin(provider)


def load_plugin_api(ref: str, namespace: str) -> PluginApiProvider:
    """Load the plugin-API object named by ``ref`` (a ``plugin-api`` string) for ``namespace``."""
    from wheelnext.core.discovery import load_object

    return PluginApiProvider(load_object(ref), namespace, ref)
