"""Real environments and real clients for installer tests: fresh venvs, profiles, and
``wn``, pip and uv run as subprocesses the way users run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import BIN
from tests.installer.run import PROFILE

ISOLATED_PIP = {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def make_venv(path: Path) -> Path:
    """A fresh, empty virtual environment (no pip: whatever is in it came from the test)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


def site(venv: Path) -> Path:
    return next(venv.glob("lib/python*/site-packages"))


def write_profile(directory: Path, levels: list[str] | None) -> Path:
    """A profile with x86_64 levels ``levels`` best first (None: no provider at all)."""
    doc = json.loads(json.dumps(PROFILE))
    if levels is None:
        doc["providers"] = []
    else:
        doc["providers"][0]["features"][0]["values"] = levels
    path = directory / f"profile-{'-'.join(levels or ['none'])}.json"
    path.write_text(json.dumps(doc))
    return path


def wn(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "wn"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )


def install_from(venv: Path, wheels: Path, *reqs: str) -> subprocess.CompletedProcess[str]:
    """``wn install REQS`` (options may follow) from the wheels in directory ``wheels``
    only, into ``venv``."""
    python = str(venv / "bin" / "python")
    return wn(
        "install",
        *reqs,
        "--no-index",
        "--find-links",
        str(wheels),
        "--python",
        python,
        "--no-cache",
    )


@contextmanager
def proxy(*args: str, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Run ``wn proxy ARGS`` on a free port (``env``: its environment, default ours);
    yield its /simple URL; stop it after."""
    with (
        tempfile.TemporaryFile("w+") as errors,
        subprocess.Popen(
            [str(BIN / "wn"), "proxy", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
        ) as proc,
    ):
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("Serving "):
                proc.wait(timeout=30)
                errors.seek(0)
                raise AssertionError(f"proxy did not start: {line}{errors.read()}")
            yield line.split()[1].rstrip("/")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def client(tool: str, venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pip ARGS`` or ``uv pip ARGS`` aimed at ``venv``'s interpreter, without caches
    or user configuration."""
    python = str(venv / "bin" / "python")
    if tool == "pip":
        command = [sys.executable, "-m", "pip", "--python", python, *args]
        if args and args[0] == "install":
            command.append("--no-cache-dir")
    else:
        command = [str(BIN / "uv"), "pip", *args, "--python", python]
        if args and args[0] == "install":
            command.append("--no-cache")
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **ISOLATED_PIP, "UV_NO_CONFIG": "1"},
    )
