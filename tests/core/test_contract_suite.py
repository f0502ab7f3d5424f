"""The contract suite itself: it passes a good provider and catches each kind of bad one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import InstallProvider
from tests.helpers import FICTIONAL
from wheelnext.core.testing import ProviderContract


class FictionalContract(ProviderContract):
    namespace = "fictional_hw"
    present_environments = ({"FICTIONAL_HW_GEN": "gen2"},)


GOOD_CHECKS = [name for name in dir(ProviderContract) if name.startswith("test_")]


def run_check(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    check = getattr(FictionalContract(), name)
    arguments = {"tmp_path": tmp_path, "monkeypatch": monkeypatch}
    wanted = check.__code__.co_varnames[1 : check.__code__.co_argcount]
    check(**{key: arguments[key] for key in wanted})


@pytest.mark.parametrize("name", GOOD_CHECKS)
def test_a_good_provider_passes_every_check(
    install_provider: InstallProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    install_provider("fictional_provider", FICTIONAL, entry="fictional_hw")
    run_check(name, tmp_path, monkeypatch)


BAD = {
    # answers worst first for a single-value feature
    "test_detection_returns_only_declared_values_best_first": (
        'DetectedFeature("mode", ("safe",))',
        'DetectedFeature("mode", ("safe", "fast"))',
        "not best first",
    ),
    # raises instead of answering Absent when the hardware is missing
    "test_missing_hardware_is_absent_not_failed": (
        'return Absent("no fictional accelerator")',
        'raise RuntimeError("no device")',
        "RuntimeError: no device",
    ),
    # describes nothing for one declared property
    "test_describe_answers_for_every_declared_property": (
        'return f"{prop.value} of the fictional accelerator"',
        'return None if prop.value == "safe" else f"{prop.value}"',
        "no description for fictional_hw :: mode :: safe",
    ),
    # different on every call
    "test_detection_is_deterministic": (
        "supported = GENERATIONS[GENERATIONS.index(gen):]",
        "CALLS.append(gen); supported = GENERATIONS[GENERATIONS.index(gen) + len(CALLS) % 2:]",
        "two calls answered differently",
    ),
    # slow to import
    "test_import_and_detection_stay_within_budget": (
        "import sys",
        "import sys, time; time.sleep(1.2)",
        "import took",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_check_catches_its_fault(
    install_provider: InstallProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    old, new, message = BAD[name]
    assert old in FICTIONAL
    source = FICTIONAL.replace(old, new) + "\n    CALLS = []\n"
    install_provider("fictional_provider", source, entry="fictional_hw")
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_check(name, tmp_path, monkeypatch)
