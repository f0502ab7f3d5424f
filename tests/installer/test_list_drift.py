"""``wn list`` and variant drift: the variant recorded at install time, judged again for
this machine (here: a profile) offline; ``wn install`` naming drift and
``--reinstall-variants`` switching it."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.installer.envs import make_venv, site, wn, write_profile
from tests.installer.index import Server, StaticIndex
from tests.installer.test_lock import install, lock
from tests.installer.wheels import LEVELS, build_wheel, level_release


@pytest.fixture
def demo(server: Server, built: Path) -> StaticIndex:
    index = server.index("pypi")
    index.add(
        *level_release(built, "demo", "2.0", ["helper"]),
        build_wheel(built, "helper", "1.5"),
    )
    return index


def listing(venv: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return wn("list", "--python", str(venv / "bin" / "python"), "--properties", str(profile), *args)


def test_list_shows_variants_and_marks_drift_from_a_lock_install(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    v4 = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    lock_file = tmp_path / "pylock.toml"
    done = lock(server, lock_file, "demo", "--properties", str(v3))
    assert done.returncode == 0, done.stderr
    venv = make_venv(tmp_path / "venv")
    done = install(venv, lock_file, v3)
    assert done.returncode == 0, done.stderr
    record = json.loads((site(venv) / "demo-2.0.dist-info" / "WHEELNEXT_VARIANT.json").read_text())
    assert record["label"] == "v3"
    assert record["available"] == sorted(
        [
            "demo-2.0-py3-none-any-v3.whl",
            "demo-2.0-py3-none-any-v4.whl",
            "demo-2.0-py3-none-any.whl",
        ]
    )
    # the record is listed in RECORD like any installed file
    assert "WHEELNEXT_VARIANT.json" in (site(venv) / "demo-2.0.dist-info" / "RECORD").read_text()

    # on the machine it was chosen for: no drift
    same = listing(venv, v3)
    assert same.returncode == 0, same.stderr
    assert same.stdout.splitlines() == [
        "demo 2.0 [variant v3] x86_64 :: level :: v3",
        "helper 1.5",
    ]
    # the environment moved to a v4 machine: drift, with the fix named
    moved = listing(venv, v4)
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.splitlines()[0] == (
        "demo 2.0 [variant v3] x86_64 :: level :: v3  <- drift: variant v4 is best for the "
        f"profile {v4} (wn install --reinstall-variants --properties {v4} demo)"
    )
    doc = json.loads(listing(venv, v4, "--json").stdout)
    assert doc[0] == {
        "name": "demo",
        "version": "2.0",
        "variant": "v3",
        "properties": ["x86_64 :: level :: v3"],
        "best-here": "v4",
        "drifted": True,
    }
    assert json.loads(listing(venv, v4, "--json", "--drifted").stdout) == [doc[0]]
    # no provider at all: the non-variant wheel would be chosen now
    bare = listing(venv, write_profile(tmp_path, None), "--drifted")
    assert "the non-variant wheel is best" in bare.stdout


def test_list_works_offline_on_a_wheel_with_only_its_variant_json(
    server: Server, built: Path, tmp_path: Path
) -> None:
    """A variant wheel installed by another tool: label and properties from its own
    variant.json; drift cannot be judged (no record of what was on offer)."""
    wheel = build_wheel(built, "other", "1.0", label="v3", properties=LEVELS["v3"])
    venv = make_venv(tmp_path / "venv")
    # unpacked as any installer would (pip cannot read a variant file name)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site(venv))
    done = listing(venv, write_profile(tmp_path, ["v4", "v3", "v2", "v1"]), "--json")
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)
    assert entry["variant"] == "v3"
    assert entry["best-here"] is None
    assert entry["drifted"] is False


def test_wn_install_names_drift_and_reinstall_variants_switches(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    venv = make_venv(tmp_path / "venv")
    python = str(venv / "bin" / "python")

    def install(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return wn(
            "install", "demo", "--index-url", server.url("pypi"), "--no-cache",
            "--python", python, "--properties", str(profile), *args,
        )  # fmt: skip

    v4 = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    assert install(v3).returncode == 0
    assert listing(venv, v3, "--drifted").stdout == ""  # recorded by a resolving install too
    assert f"drift: variant v4 is best for the profile {v4}" in listing(venv, v4).stdout

    kept = install(v4)  # same version, other machine: said, not changed
    assert kept.returncode == 0, kept.stderr
    assert "Kept demo 2.0 [variant v3] (installed)" in kept.stdout
    assert kept.stderr == (
        f"wn install: demo 2.0: installed as variant v3, the profile {v4} now selects variant "
        "v4; --reinstall-variants switches it\n"
    )
    module = site(venv) / "demo" / "__init__.py"
    assert "VARIANT = 'v3'" in module.read_text()

    switched = install(v4, "--reinstall-variants")
    assert switched.returncode == 0, switched.stderr
    assert (
        f"Installed demo 2.0 [v4: x86_64 :: level :: v4] from {server.url('pypi')}"
        in switched.stdout
    )
    assert "Already installed helper 1.5" in switched.stdout  # only the drifted one
    assert "VARIANT = 'v4'" in module.read_text()
    assert listing(venv, v4, "--drifted").stdout == ""
