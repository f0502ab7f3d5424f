"""Both CPU providers as other tools meet them: variantlib by plugin-api string, wn-detect."""

from __future__ import annotations

import json
import platform
import subprocess

import pytest

from tests.helpers import BIN
from tests.providers.running import as_configs, run_installed, variantlib_configs
from wheelnext.core.detection import call_provider, provider_object
from wheelnext.core.providers import DetectContext
from wheelnext.core.testing import installed_source

X86_HOST = platform.machine().lower() in {"x86_64", "amd64"}


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
    environ = {} if pin is None else {f"WHEELNEXT_{namespace.upper()}_PIN": pin}
    ours = run_installed(namespace, environ=environ)
    assert ours.status == "ok"
    supported, everything = variantlib_configs(namespace, monkeypatch, environ)
    assert supported == as_configs(ours)
    # declarations: variantlib sees exactly what core validates against
    source = installed_source(namespace)
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
