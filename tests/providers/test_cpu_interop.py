"""Both CPU providers as other tools meet them: variantlib by plugin-api string, wn-detect."""

from __future__ import annotations

import json
import platform
import subprocess

import pytest

from tests.helpers import BIN
from tests.providers.cpu import run_installed
from wheelnext.core.detection import call_provider, provider_object
from wheelnext.core.discovery import discover
from wheelnext.core.providers import DetectContext

REFS = {
    "x86_64": "wheelnext.providers.x86.plugin:plugin_api",
    "aarch64": "wheelnext.providers.arm.plugin:plugin_api",
}
X86_HOST = platform.machine().lower() in {"x86_64", "amd64"}


def variantlib_configs(namespace: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(supported, all) configs of our provider as the published variantlib loads it."""
    from variantlib.plugins import loader as variantlib_loader
    from variantlib.plugins.loader import DictPluginLoader

    # variantlib caches answers per process, keyed without the environment: start afresh
    variantlib_loader.VARIANT_PROVIDER_CACHE_TABLE.clear()
    with DictPluginLoader({namespace: REFS[namespace]}) as loader:
        supported = loader.get_supported_configs()
        everything = loader.get_all_configs()
    found = supported.get(namespace)
    return (
        {c.name: list(c.values) for c in found.configs} if found else {},
        {c.name: list(c.values) for c in everything[namespace].configs},
    )


@pytest.mark.parametrize(
    ("namespace", "pin"),
    [
        ("x86_64", None),  # live
        ("x86_64", "v2,sha_ni"),
        ("aarch64", "9.0a,sve,bf16"),
    ],
)
def test_variantlib_loads_each_provider_by_plugin_api_with_the_same_values(
    monkeypatch: pytest.MonkeyPatch, namespace: str, pin: str | None
) -> None:
    if pin is None and not X86_HOST:
        pytest.skip("live x86 detection needs an x86-64 host")
    environ = {}
    if pin is not None:
        environ[f"WHEELNEXT_{namespace.upper()}_PIN"] = pin
        monkeypatch.setenv(f"WHEELNEXT_{namespace.upper()}_PIN", pin)
    ours = run_installed(namespace, environ=environ)
    assert ours.status == "ok"
    supported, everything = variantlib_configs(namespace)
    assert supported == {f.name: list(f.values) for f in ours.features}
    # declarations: variantlib sees exactly what core validates against
    (source,) = [s for s in discover() if s.name == namespace and s.kind == "native"]
    declared, _ = call_provider(provider_object(source), namespace, DetectContext(environ={}))
    assert everything == {f.name: list(f.values) for f in declared.features}


def test_wn_detect_with_both_installed() -> None:
    proc = subprocess.run(
        [BIN / "wn-detect", "--json", "--namespace", "x86_64", "--namespace", "aarch64"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": str(BIN)},
    )
    providers = {p["namespace"]: p for p in json.loads(proc.stdout)["providers"]}
    assert set(providers) == {"x86_64", "aarch64"}
    if X86_HOST:
        x86 = providers["x86_64"]
        assert x86["status"] == "ok"
        assert x86["distribution"] == "wheelnext-provider-x86"
        level = next(f for f in x86["features"] if f["name"] == "level")
        assert level["values"][0] == run_installed("x86_64").features[0].values[0]
        assert providers["aarch64"]["status"] == "absent"
    else:
        assert providers["x86_64"]["status"] == "absent"
