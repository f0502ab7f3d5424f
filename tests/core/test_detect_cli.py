"""``wn-detect`` start-up (issue 13) and wrong values (issue 16), as users run it: what a
cached run imports, the quick and the full command-line parsers agreeing, a provider
installed or removed seen at once despite the detection cache, and ``--timeout``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import InstallProvider
from tests.core.test_fast_metadata import _imported
from tests.helpers import FICTIONAL, wn_detect

# what a cached run must not import: each costs milliseconds of every install's start
SLOW = {
    "argparse",  # and, through its formatter, shutil and locale
    "dataclasses",  # and inspect, ast, dis, tokenize
    "typing",
    "pathlib",
    "inspect",
    "importlib.metadata",  # the entry-point scan: the cache never needs it
    "pluggy",
    "pydantic",
    "rich",
    "wheelnext.core.detection",
    "wheelnext.core.discovery",
}


@pytest.mark.parametrize("flag", ["--json", "--profile-url"])
def test_a_cached_run_imports_only_what_it_needs(flag: str, tmp_path: Path) -> None:
    assert wn_detect(flag).returncode == 0  # the first run fills the detection cache
    modules = _imported(["wn-detect", flag], tmp_path)
    assert "wheelnext.core.detect_cache" in modules  # the probe sees the command's imports
    assert modules & SLOW == set()


@pytest.mark.parametrize(
    ("quick", "full"),
    [
        (["--json"], ["--json", "--timeout", "5"]),
        (["--profile-url"], ["--profile-url", "--isolation", "process"]),
        (["--all", "--no-cache"], ["--all", "--no-cache", "--timeout=5"]),
        ([], ["--isolation=process"]),
    ],
)
def test_quick_and_full_parsers_agree(quick: list[str], full: list[str]) -> None:
    """The common forms skip argparse; what they print is what argparse's parse prints."""
    env = {"COLUMNS": "200"}
    first, second = wn_detect(*quick, env=env), wn_detect(*full, env=env)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout
    assert first.stdout.strip()


def test_help_still_comes_from_argparse() -> None:
    proc = wn_detect("--help")
    assert proc.returncode == 0
    assert "--profile-url" in proc.stdout
    assert "(default: detect this machine)" in proc.stdout


def test_an_installed_or_removed_provider_is_seen_at_once(
    install_provider: InstallProvider,
) -> None:
    """The detection cache is keyed on what is installed: no stale answer after a change."""
    env = {"FICTIONAL_HW_GEN": "gen2"}

    def namespaces() -> dict[str, str]:
        proc = wn_detect("--json", env=env)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        return {p["namespace"]: f"{p['distribution']} {p['version']}" for p in doc["providers"]}

    before = namespaces()
    assert namespaces() == before  # answered from the cache
    assert "fictional_hw" not in before
    site = install_provider(
        "fictional_provider", FICTIONAL, dist="fictional-hw-provider", version="2.1"
    )
    assert namespaces()["fictional_hw"] == "fictional-hw-provider 2.1"
    shutil.rmtree(site / "fictional_hw_provider-2.1.dist-info")
    assert namespaces() == before


@pytest.mark.parametrize("value", ["0", "-1", "-0.5", "nan", "NaN", "inf", "-inf", "soon", ""])
def test_timeout_must_be_positive_seconds(value: str) -> None:
    """A wrong --timeout is a one-line error and status 1 (issue 16), like other wrong values."""
    proc = wn_detect(f"--timeout={value}", "--json")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        f"wn-detect: error: --timeout {value}: expected a number of seconds, more than 0 "
        "and less than 86400\n"
    )


def test_timeout_accepts_positive_seconds() -> None:
    proc = wn_detect("--timeout", "2.5", "--json", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert "providers" in json.loads(proc.stdout)
