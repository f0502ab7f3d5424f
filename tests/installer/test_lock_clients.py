"""Unmodified pip and uv on the lock files ``wn lock`` writes: neither knows variant
wheels, and neither may install a variant wheel silently (spec/lock.md, "Other clients").

Observed with pip 26.3 and uv 0.13.9: pip refuses the whole lock (a variant filename is
not a valid wheel name to it) and installs nothing; uv ignores the variant wheels and
installs the non-variant wheel when the lock lists one, and refuses the package when it
lists only variant wheels."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import snapshot
from tests.installer.envs import client, make_venv, site, write_profile
from tests.installer.index import Server, StaticIndex
from tests.installer.test_lock import lock
from tests.installer.wheels import build_wheel, level_release


@pytest.fixture
def demo(server: Server, built: Path) -> StaticIndex:
    index = server.index("pypi")
    index.add(
        *level_release(built, "demo", "2.0", ["helper>=1"]),
        build_wheel(built, "helper", "1.5"),
    )
    return index


def make_lock(server: Server, tmp_path: Path, mode: str) -> Path:
    out = tmp_path / mode.strip("-") / "pylock.toml"
    out.parent.mkdir()
    profile = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    done = lock(server, out, "demo", "--properties", str(profile), mode)
    assert done.returncode == 0, done.stderr
    return out


def variant_of(venv: Path) -> str | None:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import demo; print(repr(demo.VARIANT))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return None if out == "None" else out.strip("'")


@pytest.mark.parametrize("mode", ["--all-variants", "--only-selected"])
def test_pip_refuses_our_lock_and_installs_nothing(
    server: Server, demo: StaticIndex, tmp_path: Path, mode: str
) -> None:
    lock = make_lock(server, tmp_path, mode)
    venv = make_venv(tmp_path / "venv")
    before = snapshot(venv)
    done = client("pip", venv, "install", "-r", str(lock))
    assert done.returncode != 0
    assert "Invalid wheel filename 'demo-2.0-py3-none-any-v" in done.stderr
    assert snapshot(venv) == before


def test_uv_installs_the_non_variant_wheel_never_a_variant(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    lock = make_lock(server, tmp_path, "--all-variants")
    venv = make_venv(tmp_path / "venv")
    done = client("uv", venv, "install", "-r", str(lock))
    assert done.returncode == 0, done.stderr
    assert variant_of(venv) is None  # the plain wheel, not v4 or v3


def test_uv_refuses_a_lock_of_variant_wheels_only(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    lock = make_lock(server, tmp_path, "--only-selected")
    venv = make_venv(tmp_path / "venv")
    before = snapshot(site(venv))  # uv leaves its own .lock in the venv root
    done = client("uv", venv, "install", "-r", str(lock))
    assert done.returncode != 0
    assert "demo" in done.stderr
    assert snapshot(site(venv)) == before
