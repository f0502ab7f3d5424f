"""Variant drift and resolution: ``wn install`` without ``--reinstall-variants`` keeps a
release installed as another variant, so the dependencies it resolves must be the kept
variant's, never those only the newly selected variant declares; ``--dry-run`` shows the
same decision, and ``--reinstall-variants`` switches variant and dependencies together."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import snapshot
from tests.installer.envs import make_venv, site, wn, write_profile
from tests.installer.index import Server, StaticIndex
from tests.installer.wheels import fastpath_release


@pytest.fixture
def demo(server: Server, built: Path) -> StaticIndex:
    index = server.index("pypi")
    index.add(*fastpath_release(built))
    return index


def install(
    server: Server, venv: Path, profile: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return wn(
        "install", "demo", "--index-url", server.url("pypi"), "--no-cache",
        "--python", str(venv / "bin" / "python"), "--properties", str(profile), *args,
    )  # fmt: skip


def said(stdout: str) -> list[str]:
    """The lines ``wn install`` printed (its progress display may leave a blank one)."""
    return [line for line in stdout.splitlines() if line.strip()]


def dry_said(stdout: str) -> list[str]:
    """The dry run's lines, a variant shown as ``(LABEL)`` whatever else the bracket says."""
    return [re.sub(r" \[(?:variant )?(\w+)[^\]]*\]", r" (\1)", line) for line in said(stdout)]


def installed_names(venv: Path) -> set[str]:
    return {p.name.split("-", 1)[0] for p in site(venv).glob("*.dist-info")}


def variant_of(venv: Path) -> str:
    return (site(venv) / "demo" / "__init__.py").read_text().splitlines()[1]


def drift_line(installed: str, selects: str, profile: Path) -> str:
    return (
        f"wn install: demo 2.0: installed as variant {installed}, the profile {profile} now "
        f"selects variant {selects}; --reinstall-variants switches it\n"
    )


def test_kept_variant_resolves_its_own_dependencies(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    """Installed as v3, now on a v4 machine: the v3 wheel (still offered, still supported)
    is chosen, so fastpath, which only v4 turns on, is not installed."""
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    v4 = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    venv = make_venv(tmp_path / "venv")
    first = install(server, venv, v3)
    assert first.returncode == 0, first.stderr
    assert installed_names(venv) == {"demo", "helper"}

    dry = install(server, venv, v4, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry_said(dry.stdout) == [
        "Would keep demo 2.0 (v3) (installed)",
        "Already installed helper 1.5",
    ]
    assert dry.stderr == drift_line("v3", "v4", v4)

    kept = install(server, venv, v4)
    assert kept.returncode == 0, kept.stderr
    assert dry_said(kept.stdout) == [
        "Kept demo 2.0 (v3) (installed)",
        "Already installed helper 1.5",
    ]
    assert kept.stderr == drift_line("v3", "v4", v4)
    assert variant_of(venv) == "VARIANT = 'v3'"
    assert installed_names(venv) == {"demo", "helper"}

    switched = install(server, venv, v4, "--reinstall-variants")
    assert switched.returncode == 0, switched.stderr
    assert [line.split(" [")[0].split(" from ")[0] for line in said(switched.stdout)] == [
        "Installed demo 2.0",
        "Installed fastpath 1.0",
        "Already installed helper 1.5",
    ]
    assert switched.stderr == ""
    assert variant_of(venv) == "VARIANT = 'v4'"
    assert installed_names(venv) == {"demo", "helper", "fastpath"}


def test_unsupported_kept_variant_resolves_from_installed_metadata(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    """Installed as v3, now on a machine that supports only v4: the v3 wheel cannot be
    chosen, the install is kept all the same, and its dependencies come from its installed
    METADATA under its own variant (fastpath stays off), in the dry run as in the real one."""
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    only_v4 = write_profile(tmp_path, ["v4"])
    venv = make_venv(tmp_path / "venv")
    assert install(server, venv, v3).returncode == 0

    dry = install(server, venv, only_v4, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry_said(dry.stdout) == [
        "Would keep demo 2.0 (v3) (installed)",
        "Already installed helper 1.5",
    ]
    assert dry.stderr == drift_line("v3", "v4", only_v4)

    kept = install(server, venv, only_v4)
    assert kept.returncode == 0, kept.stderr
    # v3 is not supported here: never "Already installed", and the same words as the dry run
    assert said(kept.stdout) == [
        "Kept demo 2.0 [variant v3] (installed)",
        "Already installed helper 1.5",
    ]
    assert said(kept.stdout) == [line.replace("Would keep", "Kept", 1) for line in said(dry.stdout)]
    assert kept.stderr == drift_line("v3", "v4", only_v4)
    assert variant_of(venv) == "VARIANT = 'v3'"
    assert installed_names(venv) == {"demo", "helper"}


def test_kept_variant_keeps_the_dependencies_only_it_declares(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    """Installed as v4 (with fastpath), now on a v3 machine: v4 is not supported here, yet
    the kept v4 install still needs fastpath, read from its own METADATA and variant."""
    v4 = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    venv = make_venv(tmp_path / "venv")
    assert install(server, venv, v4).returncode == 0
    assert installed_names(venv) == {"demo", "helper", "fastpath"}

    kept = install(server, venv, v3)
    assert kept.returncode == 0, kept.stderr
    assert said(kept.stdout) == [
        "Kept demo 2.0 [variant v4] (installed)",
        "Already installed fastpath 1.0",
        "Already installed helper 1.5",
    ]
    assert kept.stderr == drift_line("v4", "v3", v3)
    assert variant_of(venv) == "VARIANT = 'v4'"


def test_unreadable_kept_variant_is_refused_in_one_line(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    """The kept install's own variant.json must be read to resolve its dependencies: a
    broken one stops the install with one line naming it, nothing written; switching
    variants (which reads nothing of the old install) still works."""
    venv = make_venv(tmp_path / "venv")
    assert install(server, venv, write_profile(tmp_path, ["v3", "v2", "v1"])).returncode == 0
    (site(venv) / "demo-2.0.dist-info" / "variant.json").write_text('{"variants": [')
    before = snapshot(venv, ignore="__pycache__")

    only_v4 = write_profile(tmp_path, ["v4"])
    refused = install(server, venv, only_v4)
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.startswith("wn install: error: demo 2.0 (installed): unreadable ")
    assert "variant.json" in refused.stderr
    assert refused.stderr.endswith("; --reinstall-variants replaces it\n")
    assert refused.stderr.count("\n") == 1
    assert snapshot(venv, ignore="__pycache__") == before

    switched = install(server, venv, only_v4, "--reinstall-variants")
    assert switched.returncode == 0, switched.stderr
    assert variant_of(venv) == "VARIANT = 'v4'"
