"""The provider contract suite: what every provider must do, as a reusable test class.

A provider package runs it from its own tests with one class::

    from wheelnext.core.testing import ProviderContract

    class TestContract(ProviderContract):
        namespace = "acme_fpga"
        absent_environments = [{"ACME_FPGA_FORCE": "none"}]   # hardware "missing"
        present_environments = [{"ACME_FPGA_FORCE": "agilex7"}]  # hardware "there"

pytest collects the subclass (its name starts with ``Test``); the base class is not
collected. Each check runs the installed provider exactly as core does (entry point,
validation, ``run_source``) and, for the plugin-API object, as other variant tools do.
See ``spec/writing-a-provider.md``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import ClassVar

import pytest

from wheelnext.core.detection import _plugin_manager, call_provider, provider_object, run_source
from wheelnext.core.discovery import STANDARD_GROUP, ProviderSource, discover, load_object
from wheelnext.core.profile_model import Profile
from wheelnext.core.properties import VariantProperty
from wheelnext.core.providers import DetectContext, ProviderDescription
from wheelnext.core.supported import ProviderResult, SupportedProperties

NAME = re.compile(r"[a-z0-9_]+")
VALUE = re.compile(r"[a-z0-9_.]+")


def installed_source(namespace: str) -> ProviderSource:
    """The installed native entry point of ``namespace`` (exactly one)."""
    found = [s for s in discover() if s.name == namespace and s.kind == "native"]
    assert len(found) == 1, (
        f"expected one entry point {namespace!r} in group 'wheelnext.providers', found {len(found)}"
    )
    return found[0]


def run_installed(
    namespace: str, environ: Mapping[str, str] | None = None, sysroot: Path | None = None
) -> ProviderResult:
    """Run the installed provider of ``namespace`` as core does (validation included),
    with exactly ``environ`` as its environment and ``sysroot`` as its root."""
    context = DetectContext(environ=dict(environ or {}), sysroot=sysroot or Path("/"))
    return run_source(installed_source(namespace), context)


class ProviderContract:
    """Subclass as ``Test...`` and set ``namespace``; the other attributes are optional.

    ``present_environments``: environments (overrides) under which the provider must
    answer ``ok``; ``absent_environments``: ones under which it must answer ``absent``
    (not fail). ``absent_sysroots``: pass ``True`` in ``absent_on_empty_sysroot`` when an
    empty ``/proc`` and ``/sys`` tree means "no hardware" to this provider.
    """

    namespace: ClassVar[str]
    present_environments: ClassVar[Sequence[Mapping[str, str]]] = ()
    absent_environments: ClassVar[Sequence[Mapping[str, str]]] = ()
    absent_on_empty_sysroot: ClassVar[bool] = True
    plugin_api_attribute: ClassVar[str] = "plugin_api"
    import_budget_s: ClassVar[float] = 1.0
    detect_budget_s: ClassVar[float] = 2.0

    # -- plumbing -------------------------------------------------------------------

    def source(self) -> ProviderSource:
        return installed_source(self.namespace)

    def describe(self) -> ProviderDescription:
        description, _ = call_provider(
            provider_object(self.source()), self.namespace, DetectContext(environ={})
        )
        return description

    def run(self, environ: Mapping[str, str], sysroot: Path | None = None) -> ProviderResult:
        return run_installed(self.namespace, environ, sysroot)

    def environments(self) -> list[Mapping[str, str]]:
        """Every environment the checks run under: live, present and absent ones."""
        return [{}, *self.present_environments, *self.absent_environments]

    # -- the contract ---------------------------------------------------------------

    def test_declarations_follow_the_schema(self) -> None:
        description = self.describe()
        assert description.namespace == self.namespace
        assert NAME.fullmatch(description.namespace)
        assert description.features, "a provider declares at least one feature"
        for feature in description.features:
            assert NAME.fullmatch(feature.name), feature.name
            assert feature.values, f"{feature.name} declares no value"
            assert all(VALUE.fullmatch(v) for v in feature.values), feature.values
            assert len(set(feature.values)) == len(feature.values)

    def test_detection_returns_only_declared_values_best_first(self) -> None:
        description = self.describe()
        for environ in self.environments():
            result = self.run(environ)
            assert result.status in {"ok", "absent"}, f"{dict(environ)}: {result.error}"
            for feature in result.features:
                declared = description.feature(feature.name)
                assert declared is not None, f"undeclared feature {feature.name}"
                assert set(feature.values) <= set(declared.values)
                assert len(set(feature.values)) == len(feature.values)
                if not declared.multi_value:  # single values: in the declared preference order
                    order = [declared.values.index(v) for v in feature.values]
                    assert order == sorted(order), f"{feature.name} not best first"
            # the profile format other tools read back (wn-detect --json)
            Profile.model_validate(SupportedProperties((result,)).to_json())

    def test_detection_is_deterministic(self) -> None:
        for environ in self.environments():
            first, second = self.run(environ), self.run(environ)
            assert first == second, f"{dict(environ)}: two calls answered differently"

    def test_present_environments_answer_ok(self) -> None:
        if not self.present_environments:
            pytest.skip("no present_environments given")
        for environ in self.present_environments:
            result = self.run(environ)
            assert result.status == "ok", f"{dict(environ)}: {result.status} {result.error}"
            assert result.features

    def test_missing_hardware_is_absent_not_failed(self, tmp_path: Path) -> None:
        cases: list[tuple[Mapping[str, str], Path | None]] = [
            (environ, None) for environ in self.absent_environments
        ]
        if self.absent_on_empty_sysroot:
            cases.append(({}, tmp_path))
        if not cases:
            pytest.skip("no way to make the hardware missing was given")
        for environ, sysroot in cases:
            result = self.run(environ, sysroot)
            assert result.status == "absent", f"{dict(environ)} {sysroot}: {result.error}"
            assert result.error, "say why the provider is absent"

    def test_describe_answers_for_every_declared_property(self) -> None:
        source = self.source()
        pm = _plugin_manager(provider_object(source), source.name)
        if not pm.hook.wheelnext_describe.get_hookimpls():
            pytest.skip("wheelnext_describe is optional and not implemented")
        for feature in self.describe().features:
            for value in feature.values:
                prop = VariantProperty(self.namespace, feature.name, value)
                text = pm.hook.wheelnext_describe(prop=prop)
                assert isinstance(text, str), f"no description for {prop}"
                assert text.strip(), f"no description for {prop}"
                assert "\n" not in text.strip(), f"{prop}: describe in one line"

    def test_plugin_api_object_gives_the_same_answers(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        source = self.source()
        reference = f"{source.ref}:{self.plugin_api_attribute}"
        standard = entry_points(group=STANDARD_GROUP, name=self.namespace)
        assert [ep.value for ep in standard] in ([], [reference]), (
            f"the {STANDARD_GROUP!r} entry point should name {reference!r}"
        )
        plugin = load_object(reference)
        assert getattr(plugin, "namespace", None) == self.namespace
        declared = {f.name: list(f.values) for f in self.describe().features}
        assert _configs(plugin, "get_all_configs") == declared
        for environ in self.environments():
            for key, value in environ.items():
                monkeypatch.setenv(key, value)
            # the plugin object reads the process environment, so core is given the same
            ours = self.run({**os.environ, **environ})
            assert _configs(plugin, "get_supported_configs") == {
                f.name: list(f.values) for f in ours.features
            }, dict(environ)
            for key in environ:
                monkeypatch.delenv(key)

    def test_import_and_detection_stay_within_budget(self) -> None:
        module = self.source().ref.partition(":")[0]
        probe = (
            "import time, json\n"
            "t = time.perf_counter()\n"
            f"import {module}\n"
            "imported = time.perf_counter() - t\n"
            "from wheelnext.core.detection import run_source\n"
            "from wheelnext.core.discovery import discover\n"
            "from wheelnext.core.providers import DetectContext\n"
            f"(s,) = [s for s in discover() if s.name == {self.namespace!r}"
            " and s.kind == 'native']\n"
            "t = time.perf_counter()\n"
            "run_source(s, DetectContext())\n"
            "print(json.dumps([imported, time.perf_counter() - t]))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
        )
        imported, detected = json.loads(proc.stdout.splitlines()[-1])
        assert imported < self.import_budget_s, f"import took {imported:.2f}s"
        assert detected < self.detect_budget_s, f"detection took {detected:.2f}s"


def _configs(plugin: object, method: str) -> dict[str, list[str]]:
    """A plugin-API object's configs as {feature: values}."""
    return {c.name: list(c.values) for c in getattr(plugin, method)()}
