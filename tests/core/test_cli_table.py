"""``wn-detect``'s table as users see it: on a terminal of 80 and 200 columns (a real
pseudo-terminal) and written to a pipe, every line fits and no word is split: long
reasons and value lists wrap at spaces, names stay whole, nothing is cut short."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest

from tests.conftest import InstallProvider
from tests.helpers import BIN, FICTIONAL, on_pty

WORDY = """
    from wheelnext.core.hookspecs import hookimpl
    from wheelnext.core.providers import Absent, FeatureDeclaration, ProviderDescription

    @hookimpl
    def wheelnext_provider():
        return ProviderDescription("wordy_gpu", "w", (FeatureDeclaration("arch", ("a",)),))

    @hookimpl
    def wheelnext_detect(context):
        return Absent(
            "no wordy GPU driver: /sys/class/kfd/kfd/topology/nodes/0/properties does not "
            "exist, and neither does /dev/dri/renderD128 nor /opt/wordy/lib/libwordy.so.1"
        )
"""
MANY_FLAGS = """
    from wheelnext.core.hookspecs import hookimpl
    from wheelnext.core.providers import DetectedFeature, FeatureDeclaration, ProviderDescription

    FLAGS = tuple(f"{'x' * (n % 9)}flag_{n:02}" for n in range(40))
    LEVELS = tuple(f"level_{n}" for n in range(12, 0, -1))

    @hookimpl
    def wheelnext_provider():
        return ProviderDescription(
            "many_flags",
            "m",
            (
                FeatureDeclaration("level", LEVELS),
                *(FeatureDeclaration(flag, ("on",)) for flag in FLAGS),
            ),
        )

    @hookimpl
    def wheelnext_detect(context):
        return [DetectedFeature("level", LEVELS), *(DetectedFeature(f, ("on",)) for f in FLAGS)]
"""
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@pytest.fixture
def wordy(install_provider: InstallProvider) -> None:
    install_provider("fictional_provider", FICTIONAL, dist="fictional-hw-provider", version="2.1")
    install_provider("wordy_provider", WORDY, dist="wordy-provider", version="0.9")
    install_provider("many_flags_provider", MANY_FLAGS, dist="many-flags-provider", version="1.0")


def on_terminal(*args: str, columns: int) -> str:
    """What ``wn-detect ARGS`` shows on a pseudo-terminal COLUMNS wide, escapes removed."""
    env = {**os.environ, "COLUMNS": str(columns), "FICTIONAL_HW_GEN": "gen2", "TERM": "xterm"}
    shown = on_pty([str(BIN / "wn-detect"), *args], env)
    return ESCAPES.sub("", shown.decode()).replace("\r\n", "\n")


def piped(*args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(BIN / "wn-detect"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "FICTIONAL_HW_GEN": "gen2", **(env or {})},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def expected_words(doc: dict[str, Any], show_all: bool) -> set[str]:
    """Every word the table must show whole: names, statuses, reasons, shown values."""
    words: set[str] = set()
    for provider in doc["providers"]:
        words |= {provider["namespace"], provider["status"], provider["distribution"]}
        words |= {word.rstrip(",") for word in (provider["error"] or "").split()}
        for feature in provider["features"]:
            if not show_all and feature["values"] == ["on"]:
                words.add(feature["name"])  # folded into the 'N flags on' row
            else:
                words.add(feature["name"])
                shown = feature["values"] if show_all else feature["values"][:8]
                words |= set(shown)
    return words - {""}


def shown_words(table: str) -> set[str]:
    return {word.rstrip(",") for word in re.split(r"[\s│┃]+", table)}


@pytest.mark.usefixtures("wordy")
@pytest.mark.parametrize("columns", [80, 200])
@pytest.mark.parametrize("show_all", [False, True])
def test_terminal_table_fits_and_splits_no_word(columns: int, show_all: bool) -> None:
    args = ["--all"] if show_all else []
    table = on_terminal(*args, columns=columns)
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= columns, table
    words = expected_words(json.loads(piped("--json")), show_all)
    assert {"wordy_gpu", "/sys/class/kfd/kfd/topology/nodes/0/properties", "xxxflag_39"} <= words
    missing = words - shown_words(table)
    assert not missing, f"split or missing: {sorted(missing)}\n{table}"
    # the reason has lines of its own, beside the namespace and status word, not in them
    wordy = next(i for i, line in enumerate(lines) if "wordy_gpu" in line)
    assert re.match(r"│ wordy_gpu\s+│ absent │ wordy-provider 0\.9\s+│$", lines[wordy])
    assert "no wordy GPU driver:" in lines[wordy + 1]


@pytest.mark.usefixtures("wordy")
def test_terminal_table_wraps_values_at_separators() -> None:
    """The 40 folded flags wrap onto many lines, each break after a ``,``."""
    table = on_terminal(columns=80)
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if "40 flags on" in line)
    cells = []
    for line in lines[start:]:
        if line.startswith(("├", "└")):
            break
        cells.append(line.split("│")[3].rstrip())
    assert len(cells) > 3
    assert all(cell.endswith(",") for cell in cells[:-1])
    flags = ", ".join(f"{'x' * (n % 9)}flag_{n:02}" for n in range(40))
    assert " ".join(" ".join(cells).split()) == f"40 flags on {flags}"


@pytest.mark.usefixtures("wordy")
def test_piped_table_keeps_every_word_and_name_whole() -> None:
    """Off a terminal nothing is cut short: the table widens until every word fits."""
    for env in ({}, {"COLUMNS": "40"}):
        table = piped(env=env)
        words = expected_words(json.loads(piped("--json")), show_all=False)
        assert not words - shown_words(table), table
        cut = [word for word in shown_words(table) if word.endswith("…") and word != "…"]
        assert not cut  # the lone '…' is the '… (+N more)' of a long value list
