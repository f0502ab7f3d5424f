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

from tests.installer.envs import client, make_venv, site, wn, write_profile
from tests.installer.index import Server, StaticIndex
from tests.installer.test_lock import snapshot
from tests.installer.wheels import build_wheel, variants_json

LEVELS = {"v4": {"x86_64": {"level": ["v4"]}}, "v3": {"x86_64": {"level": ["v3"]}}}


@pytest.fixture
def demo(server: Server, built: Path) -> StaticIndex:
    index = server.index("pypi")
    index.add(
        *(
            build_wheel(built, "demo", "2.0", label=label, properties=p, requires=["helper>=1"])
            for label, p in LEVELS.items()
        ),
        build_wheel(built, "demo", "2.0", requires=["helper>=1"]),
        variants_json(built, "demo", "2.0", LEVELS, ["x86_64"]),
        build_wheel(built, "helper", "1.5"),
    )
    return index


def make_lock(server: Server, tmp_path: Path, mode: str) -> Path:
    out = tmp_path / mode.strip("-") / "pylock.toml"
    out.parent.mkdir()
    profile = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    done = wn(
        "lock", "demo", "--index-url", server.url("pypi"), "--no-cache", "-o", str(out),
        "--properties", str(profile), mode,
    )  # fmt: skip
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
