"""Providers found through real entry points, each isolated from the others' failures."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import InstallProvider
from tests.helpers import FICTIONAL
from wheelnext.core.detection import describe_property, detect
from wheelnext.core.discovery import ProviderSource, discover, load_object, parse_object_reference
from wheelnext.core.errors import ProviderError
from wheelnext.core.properties import VariantProperty
from wheelnext.core.providers import DetectContext

BROKEN = """
    from wheelnext.core.hookspecs import hookimpl
    from wheelnext.core.providers import DetectedFeature, FeatureDeclaration, ProviderDescription
    import time

    @hookimpl
    def wheelnext_provider():
        return ProviderDescription("{ns}", "broken", (FeatureDeclaration("f", ("a", "b")),))

    @hookimpl
    def wheelnext_detect(context):
        {body}
"""

CASES = {
    "raising": ("raise RuntimeError('driver exploded')", "RuntimeError: driver exploded"),
    "lying": ("return [DetectedFeature('f', ('zzz',))]", "undeclared value 'lying :: f :: zzz'"),
    "undeclared": ("return [DetectedFeature('g', ('a',))]", "undeclared feature 'undeclared :: g'"),
    "wrongtype": ("return {'f': ['a']}", "returned dict, expected a list of DetectedFeature"),
    "twice": (
        "return [DetectedFeature('f', ('a',)), DetectedFeature('f', ('b',))]",
        "feature 'f' twice",
    ),
    "repeated": ("return [DetectedFeature('f', ('a', 'a'))]", "a value is repeated"),
    "hanging": ("time.sleep(30)", "timed out after 0.5s"),
}


def install_broken(install: InstallProvider, name: str) -> None:
    body = CASES[name][0]
    install(
        f"broken_{name}",
        BROKEN.replace("{ns}", name).replace("{body}", body),
        dist=f"broken-{name}",
    )


@pytest.fixture
def fictional(install_provider: InstallProvider) -> Path:
    return install_provider(
        "fictional_provider", FICTIONAL, dist="fictional-hw-provider", version="2.1"
    )


def test_discovers_real_entry_points(fictional: Path) -> None:
    sources = [s for s in discover() if s.distribution == "fictional-hw-provider"]
    assert sources == [
        ProviderSource(
            "fictional_provider", "fictional_provider", "native", "fictional-hw-provider", "2.1"
        )
    ]


def test_detects_from_recorded_sysfs_and_environment(fictional: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sys/class/fictional").mkdir(parents=True)
    (root / "sys/class/fictional/generation").write_text("gen2\n")
    sources = [s for s in discover() if s.distribution == "fictional-hw-provider"]
    result = detect(sources, context=DetectContext(environ={}, sysroot=root))
    (provider,) = result.providers
    assert provider.status == "ok"
    assert provider.version == "2.1"
    assert [(f.name, f.values, f.multi_value) for f in provider.features] == [
        ("arch", ("gen2", "gen1"), True),
        ("mode", ("safe",), False),
    ]
    absent = detect(sources, context=DetectContext(environ={}, sysroot=tmp_path / "empty"))
    assert absent.providers[0].status == "absent"
    assert absent.providers[0].error == "no fictional accelerator"
    forced = detect(
        sources, context=DetectContext(environ={"FICTIONAL_HW_GEN": "gen3"}, sysroot=root)
    )
    assert forced.providers[0].features[0].values == ("gen3", "gen2", "gen1")


@pytest.mark.parametrize("isolation", ["process", "subprocess", "thread"])
def test_each_failure_is_isolated(
    install_provider: InstallProvider, fictional: Path, isolation: str
) -> None:
    for name in CASES:
        install_broken(install_provider, name)
    start = time.monotonic()
    result = detect(
        discover(),
        context=DetectContext(environ={"FICTIONAL_HW_GEN": "gen1"}),
        timeout=0.5 if isolation == "thread" else 3.0,
        isolation=isolation,  # type: ignore[arg-type]
    )
    elapsed = time.monotonic() - start
    by_dist = {r.distribution: r for r in result.providers}
    assert by_dist["fictional-hw-provider"].status == "ok"
    assert by_dist["fictional-hw-provider"].features[0].values == ("gen1",)
    for name, (_, reason) in CASES.items():
        got = by_dist[f"broken-{name}"]
        assert got.status == "failed", name
        expected = reason
        if name == "hanging" and isolation != "thread":
            expected = "timed out after 3s (process killed)"
        assert expected in str(got.error), (name, got.error)
    assert elapsed < 10  # the hanging provider was abandoned, not waited for


def test_import_errors_and_bad_hooks_fail_cleanly(install_provider: InstallProvider) -> None:
    install_provider("explodes_on_import", "raise ImportError('libfoo.so missing')\n")
    install_provider(
        "bad_signature",
        """
        from wheelnext.core.hookspecs import hookimpl
        @hookimpl
        def wheelnext_detect(ctx):
            return None
        """,
    )
    install_provider("no_hooks", "x = 1\n")
    result = {
        r.distribution: r for r in detect(discover(), context=DetectContext(environ={})).providers
    }
    assert result["explodes-on-import"].status == "failed"
    assert "ImportError: libfoo.so missing" in str(result["explodes-on-import"].error)
    assert "hook signature does not match" in str(result["bad-signature"].error)
    assert "does not implement the required hook wheelnext_provider" in str(
        result["no-hooks"].error
    )


def test_two_providers_for_one_namespace_are_both_refused(
    install_provider: InstallProvider, fictional: Path
) -> None:
    install_provider("fictional_clone", "from fictional_provider import *\n", dist="clone-dist")
    result = detect(discover(), context=DetectContext(environ={"FICTIONAL_HW_GEN": "gen1"}))
    mine = [r for r in result.providers if r.namespace == "fictional_hw"]
    assert [r.status for r in mine] == ["failed", "failed"]
    assert "provided by both clone-dist and fictional-hw-provider" in str(mine[0].error)


def test_standard_plugin_objects_in_variant_plugins_group(
    install_provider: InstallProvider,
) -> None:
    install_provider(
        "std_plugin",
        """
        from dataclasses import dataclass
        @dataclass
        class Cfg:
            name: str
            values: list
            multi_value: bool = False
        class Plugin:
            @staticmethod
            def get_all_configs():
                return [Cfg("level", ["b", "a"]), Cfg("isa", ["x", "y"], True)]
            @staticmethod
            def get_supported_configs():
                return [Cfg("isa", ["y"], True), Cfg("level", ["a"])]
        """,
        entry="std_hw",
        ref="std_plugin:Plugin",
        group="variant_plugins",
    )
    (source,) = [s for s in discover() if s.distribution == "std-plugin"]
    assert source.kind == "plugin-api"
    (result,) = detect([source], context=DetectContext(environ={})).providers
    assert result.namespace == "std_hw"
    assert result.status == "ok"
    assert [(f.name, f.values, f.multi_value) for f in result.features] == [
        ("isa", ("y",), True),
        ("level", ("a",), False),
    ]


def test_native_entry_wins_over_same_distributions_variant_plugins(
    install_provider: InstallProvider,
) -> None:
    install_provider("fictional_provider", FICTIONAL, dist="fictional-hw-provider")
    install_provider(
        "fictional_provider",
        FICTIONAL,
        dist="fictional-hw-provider",
        entry="fictional_hw",
        ref="fictional_provider:plugin_api",
        group="variant_plugins",
    )
    mine = [s for s in discover() if s.distribution == "fictional-hw-provider"]
    assert [s.kind for s in mine] == ["native"]


def test_results_are_cached_per_process(fictional: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wheelnext.core import detection

    monkeypatch.setattr(detection, "_cache", {})
    first = detect()
    assert detect() is first


def test_describe_hook(fictional: Path) -> None:
    got = describe_property(VariantProperty("fictional_hw", "arch", "gen2"))
    assert got is not None
    assert got.source.distribution == "fictional-hw-provider"
    assert got.text == "gen2 of the fictional accelerator"
    assert describe_property(VariantProperty("nobody", "f", "v")) is None


def test_object_references() -> None:
    assert parse_object_reference("a.b : c.d") == ("a.b", ["c", "d"])
    assert parse_object_reference("a.b") == ("a.b", [])
    assert load_object("os.path:join") is __import__("os").path.join
    with pytest.raises(ProviderError, match="invalid object reference"):
        parse_object_reference("a b:c")
    with pytest.raises(ProviderError, match="cannot load 'no_such_module_xyz'"):
        load_object("no_such_module_xyz")


@pytest.mark.parametrize("xdg", [None, "/somewhere/cache", "relative/cache", " "])
def test_cache_dir_is_platformdirs_user_cache_dir(
    xdg: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platformdirs import user_cache_dir

    from wheelnext.core.detect_cache import cache_dir

    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert cache_dir() == Path(user_cache_dir("wheelnext")) / "detect"


def test_detect_caches_ok_answers_and_reruns_failed_ones(
    install_provider: InstallProvider,
    fictional: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from wheelnext.core import detection

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("FICTIONAL_HW_GEN", "gen2")
    install_broken(install_provider, "raising")
    monkeypatch.setattr(detection, "_cache", {})
    first = {r.distribution: r for r in detect().providers}
    (stored,) = (tmp_path / "cache" / "wheelnext" / "detect").glob("*.json")
    doc = json.loads(stored.read_text())
    kept = {e["source"][3]: e["result"] for e in doc["entries"]}
    assert kept["broken-raising"] is None  # failed: runs again next time
    assert kept["fictional-hw-provider"]["features"][0]["values"] == ["gen2", "gen1"]
    assert first["broken-raising"].status == "failed"
    monkeypatch.setattr(detection, "_cache", {})
    again = {r.distribution: r for r in detect().providers}
    assert again == first
    monkeypatch.setenv("WHEELNEXT_NO_DETECT_CACHE", "1")
    monkeypatch.setattr(detection, "_cache", {})
    stored.unlink()
    detect()
    assert not stored.exists()  # disabled: neither read nor written
