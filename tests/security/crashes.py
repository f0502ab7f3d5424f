"""Helpers for the crash, kill and concurrency tests: a big wheel in two versions, exact
snapshots of a directory tree, and ``wn install`` run with a test crash point."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.helpers import BIN, Tree
from tests.helpers import snapshot as tree_snapshot
from tests.installer.wheels import build_wheel

CRASH_AT = "WHEELNEXT_TEST_CRASH_AT"  # journal.CRASH_ENV: signal wn itself at step N
CRASH_SIGNAL = "WHEELNEXT_TEST_CRASH_SIGNAL"  # journal.CRASH_SIGNAL_ENV: KILL, TERM, INT, STOP
FILES = 2000

Snapshot = Tree


def build_big(directory: Path, name: str, version: str, spread: int) -> Path:
    """``name`` with ``FILES`` modules spread over ``spread`` directories (so versions
    with different spreads add and drop directories), one file only this version has,
    and (from 2.0) a console script, which lands outside site-packages."""
    files = {
        f"{name}/sub{i % spread}/m{i}.py": f"X = {i}  # {version}\n".encode() for i in range(FILES)
    }
    files[f"{name}/only_{version.replace('.', '_')}/x.py"] = version.encode()
    scripts = {f"{name}-cli": f"{name}:main"} if version != "1.0" else None
    return build_wheel(directory, name, version, files=files, scripts=scripts)


def snapshot(root: Path) -> Snapshot:
    """Every path under ``root`` (bytecode caches aside): mode and bytes or target."""
    return tree_snapshot(root, ignore="__pycache__")


def restore(saved: Path, venv: Path) -> None:
    """Put the environment saved in ``saved`` back at ``venv`` (same path, same bytes)."""
    shutil.rmtree(venv, ignore_errors=True)
    shutil.copytree(saved, venv, symlinks=True)


def wn_env(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``wn ARGS`` with extra environment variables (a crash point, a signal)."""
    clean = {k: v for k, v in os.environ.items() if k not in (CRASH_AT, CRASH_SIGNAL)}
    return subprocess.run(
        [str(BIN / "wn"), *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=300,
        check=False,
    )


def start_wn(*args: str, stderr: Path, **env: str) -> subprocess.Popen[str]:
    """``wn ARGS`` started in the background, its stderr going to the file ``stderr``."""
    clean = {k: v for k, v in os.environ.items() if k not in (CRASH_AT, CRASH_SIGNAL)}
    with stderr.open("w") as err:
        return subprocess.Popen(
            [str(BIN / "wn"), *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
            env={**clean, **env},
        )
