"""Adapters both ways between our hooks and the standard plugin-API objects."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import InstallProvider
from tests.helpers import FICTIONAL
from wheelnext.core.detection import call_provider
from wheelnext.core.errors import ProviderError
from wheelnext.core.plugin_api import FeatureConfig, as_plugin_api, load_plugin_api
from wheelnext.core.providers import DetectContext

STD = """
    from types import SimpleNamespace as C
    namespace = "std_hw"
    def get_all_configs():
        return [C(name="level", values=["b", "a"], multi_value=False)]
    def get_supported_configs():
        return [C(name="level", values=["a"], multi_value=False)]
"""


@pytest.fixture
def fictional(install_provider: InstallProvider, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FICTIONAL_HW_GEN", "gen2")
    return install_provider("fictional_provider", FICTIONAL)


def test_our_provider_as_standard_object(fictional: Path) -> None:
    from fictional_provider import plugin_api  # type: ignore[import-not-found]

    assert plugin_api.namespace == "fictional_hw"
    assert plugin_api.all_properties_compatible is False
    assert plugin_api.get_all_configs() == [
        FeatureConfig("arch", ["gen3", "gen2", "gen1"], True),
        FeatureConfig("mode", ["fast", "safe"], False),
    ]
    assert plugin_api.get_supported_configs() == [
        FeatureConfig("arch", ["gen2", "gen1"], True),
        FeatureConfig("mode", ["safe"], False),
    ]


def test_absent_hardware_supports_nothing(fictional: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FICTIONAL_HW_GEN")
    from fictional_provider import plugin_api

    assert plugin_api.get_supported_configs() == []


def test_published_variantlib_loads_our_provider_by_plugin_api(fictional: Path) -> None:
    from variantlib.plugins.loader import DictPluginLoader

    with DictPluginLoader({"fictional_hw": "fictional_provider:plugin_api"}) as loader:
        supported = loader.get_supported_configs()
        everything = loader.get_all_configs()
    configs = {c.name: (c.values, c.multi_value) for c in supported["fictional_hw"].configs}
    assert configs == {"arch": (["gen2", "gen1"], True), "mode": (["safe"], False)}
    assert {c.name: c.values for c in everything["fictional_hw"].configs} == {
        "arch": ["gen3", "gen2", "gen1"],
        "mode": ["fast", "safe"],
    }


def test_lying_provider_cannot_leak_through_the_adapter(
    install_provider: InstallProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FICTIONAL_HW_GEN", "gen1")
    install_provider(
        "liar",
        FICTIONAL.replace(
            'return [DetectedFeature("arch", supported), DetectedFeature("mode", ("safe",))]',
            'return [DetectedFeature("arch", ("gen9",))]',
        ),
    )
    import liar  # type: ignore[import-not-found]

    with pytest.raises(ProviderError, match="undeclared value 'fictional_hw :: arch :: gen9'"):
        as_plugin_api(liar).get_supported_configs()


def test_core_loads_a_standard_object_by_plugin_api_string(
    install_provider: InstallProvider,
) -> None:
    install_provider("std_mod", STD)
    provider = load_plugin_api("std_mod", "std_hw")
    description, answer = call_provider(provider, "std", DetectContext(environ={}))
    assert description.namespace == "std_hw"
    assert [(f.name, f.values) for f in description.features] == [("level", ("b", "a"))]
    assert [(f.name, f.values) for f in answer] == [("level", ("a",))]  # type: ignore[union-attr]


def test_standard_object_errors(install_provider: InstallProvider) -> None:
    install_provider("std_mod", STD)
    with pytest.raises(ProviderError, match="plugin says namespace 'std_hw', loaded for 'other'"):
        load_plugin_api("std_mod", "other")
    with pytest.raises(ProviderError, match="not a plugin-API object"):
        load_plugin_api("os.path", "x")
    install_provider("std_bad", "def get_supported_configs():\n    return 'nope'\n")
    provider = load_plugin_api("std_bad", "bad")
    with pytest.raises(ProviderError, match=r"get_supported_configs\(\) returned str"):
        call_provider(provider, "bad", DetectContext(environ={}))


def test_variantlib_is_the_published_release() -> None:
    from importlib.metadata import version

    assert version("variantlib") == "0.2.2"
    assert "variantlib" not in sys.modules or sys.modules["variantlib"].__file__
