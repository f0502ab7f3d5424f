"""The ``wn install`` options users reach for first: ``--no-deps``, ``-c/--constraint``,
``--force-reinstall`` and ``-U``, end to end against an index on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.installer.envs import make_venv, site, wn
from tests.installer.index import Server, StaticIndex
from tests.installer.wheels import build_wheel


@pytest.fixture
def index(server: Server, built: Path) -> StaticIndex:
    found = server.index("pypi")
    found.add(
        build_wheel(built, "app", "1.0", requires=["lib>=1"]),
        build_wheel(built, "lib", "1.0"),
        build_wheel(built, "lib", "2.0"),
    )
    return found


def install(server: Server, venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    python = str(venv / "bin" / "python")
    return wn("install", *args, "--index-url", server.url("pypi"), "--python", python, "--no-cache")


def names(venv: Path) -> list[str]:
    return sorted(p.name for p in site(venv).glob("*.dist-info"))


def test_no_deps_installs_only_what_was_named(
    server: Server, index: StaticIndex, tmp_path: Path
) -> None:
    venv = make_venv(tmp_path / "venv")
    done = install(server, venv, "app", "--no-deps")
    assert done.returncode == 0, done.stderr
    assert names(venv) == ["app-1.0.dist-info"]


def test_constraint_limits_a_dependency_without_installing_anything_itself(
    server: Server, index: StaticIndex, tmp_path: Path
) -> None:
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("lib<2\nunrelated==9.9\n")
    venv = make_venv(tmp_path / "venv")
    done = install(server, venv, "app", "-c", str(constraints))
    assert done.returncode == 0, done.stderr
    assert names(venv) == ["app-1.0.dist-info", "lib-1.0.dist-info"]
    # a constraint no version satisfies: one line, nothing installed
    constraints.write_text("lib>5\n")
    other = make_venv(tmp_path / "other")
    done = install(server, other, "app", "-c", str(constraints))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "lib" in done.stderr
    assert names(other) == []


def test_constraint_with_extras_is_refused(
    server: Server, index: StaticIndex, tmp_path: Path
) -> None:
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("lib[fast]<2\n")
    done = install(server, make_venv(tmp_path / "venv"), "app", "-c", str(constraints))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "constraints take no extras" in done.stderr


def test_force_reinstall_and_upgrade(server: Server, index: StaticIndex, tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv")
    assert install(server, venv, "app").returncode == 0
    module = site(venv) / "lib" / "__init__.py"
    module.write_text("BROKEN = True\n")
    again = install(server, venv, "app", "-U")
    assert again.returncode == 0, again.stderr
    assert "Already installed lib 2.0" in again.stdout
    assert module.read_text() == "BROKEN = True\n"
    forced = install(server, venv, "app", "--force-reinstall")
    assert forced.returncode == 0, forced.stderr
    assert "Installed lib 2.0" in forced.stdout
    assert "VERSION = '2.0'" in module.read_text()


def test_a_project_with_only_sdists_is_named_in_one_line(
    server: Server, index: StaticIndex, tmp_path: Path
) -> None:
    """wn installs wheels only (pip's --only-binary :all:): the error says why."""
    sdist = index.files_dir / "srconly-1.0.tar.gz"
    sdist.write_bytes(b"not built here")
    page = index.root / index.prefix / "simple" / "srconly"
    page.mkdir(parents=True)
    entry = {
        "filename": sdist.name,
        "url": f"../../files/{sdist.name}",
        "hashes": {"sha256": hashlib.sha256(sdist.read_bytes()).hexdigest()},
    }
    doc = {"meta": {"api-version": "1.4"}, "name": "srconly", "files": [entry]}
    (page / "index.json").write_text(json.dumps(doc))
    venv = make_venv(tmp_path / "venv")
    done = install(server, venv, "srconly")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "offers only source distributions of srconly; wn installs wheels only" in done.stderr
    assert names(venv) == []
