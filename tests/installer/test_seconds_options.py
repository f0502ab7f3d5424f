"""A wrong number of seconds (``--timeout``, ``--ttl``, ``--lock-timeout``) is bad input
for every installer command: one ``wn CMD: error: OPTION: ...`` line and exit 1 (issue 16),
as ``wn-detect --timeout``, not argparse's usage text and exit 2."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.helpers import BIN

# (command line before the option, the option); proxy gets --port 0 so that a value
# that were wrongly accepted would not bind a fixed port
OPTIONS = [
    (["install", "pkg", "--dry-run", "--no-index"], "--timeout"),
    (["install", "pkg", "--dry-run", "--no-index"], "--lock-timeout"),
    (["install", "-r", "pylock.toml", "--dry-run"], "--timeout"),
    (["lock", "pkg", "--no-index", "-o", "-"], "--timeout"),
    (["list", "--json"], "--lock-timeout"),
    (["proxy", "--port", "0"], "--ttl"),
    (["proxy", "--port", "0"], "--timeout"),
]


def wn(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "wn"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "WHEELNEXT_CONFIG": os.devnull, "NO_COLOR": "1"},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("before", "option"), OPTIONS, ids=str)
@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_a_wrong_value_is_one_line_and_exit_1(before: list[str], option: str, value: str) -> None:
    done = wn(*before, option, value)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"wn {before[0]}: error: {option}: expected "), line
    assert repr(value) in line


@pytest.mark.parametrize("option", ["--timeout", "--ttl"])
def test_zero_and_more_than_a_day_are_refused_where_a_wait_must_end(option: str) -> None:
    for value in ("0", "86401", "1e400"):
        done = wn("proxy", "--port", "0", f"{option}={value}")
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith(f"wn proxy: error: {option}: "), done.stderr


def test_a_right_value_is_taken() -> None:
    """``--timeout 86400`` and ``--lock-timeout 0`` pass parsing: the run goes on to the
    next problem (no index lists the project)."""
    done = wn("install", "pkg", "--no-index", "--dry-run", "--timeout", "86400", "--lock-timeout=0")
    assert done.returncode == 1
    assert "--timeout" not in done.stderr
    assert "--lock-timeout" not in done.stderr
    assert "pkg" in done.stderr.splitlines()[-1]
