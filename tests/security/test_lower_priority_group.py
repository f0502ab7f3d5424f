"""A lower-priority index group is an attacker too: through the page of a project it
owns, it must not deliver another project's wheel or metadata, and the METADATA a wheel
carries must be the PEP 658 file the resolver used.

The trusted group is the honest test index (``corp``, owning ``bar``); the lower group is
a raw hostile server. Everything goes through the real ``wn install``; every refusal
leaves the environment and the test directory byte-identical.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import snapshot
from tests.installer.envs import site, write_profile
from tests.installer.index import Server
from tests.installer.wheels import build_wheel
from tests.security.hostile import Hostile, hostile
from tests.security.test_hostile_index import refused, run_wn


@pytest.fixture(autouse=True)
def prepared(tmp_path: Path) -> None:
    """The profile and the temporary folder ``wn`` runs with, made before any snapshot."""
    write_profile(tmp_path, ["v1"]).rename(tmp_path / "profile.json")
    (tmp_path / "tmp").mkdir()


@pytest.fixture
def low() -> Iterator[Hostile]:
    with hostile() as server:
        yield server


@pytest.fixture
def trusted(server: Server, built: Path) -> str:
    """The high-priority group: it owns bar (1.0)."""
    server.index("corp").add(build_wheel(built / "corp", "bar", "1.0"))
    return server.url("corp")


def install(tmp_path: Path, venv: Path, trusted: str, low: Hostile, *args: str) -> Any:
    profile = tmp_path / "profile.json"
    return run_wn(
        tmp_path,
        "install",
        *args,
        "--index-group",
        f"trusted={trusted}",
        "--index-group",
        f"low={low.index}",
        "--python",
        str(venv / "bin" / "python"),
        "--no-cache",
        "--properties",
        str(profile),
    )


def installed(venv: Path) -> list[str]:
    return sorted(p.name for p in site(venv).glob("*.dist-info"))


def test_other_projects_files_on_a_lower_groups_page_are_ignored(
    low: Hostile, trusted: str, tmp_path: Path, venv: Path, built: Path
) -> None:
    """low's page of foo also lists bar 9.0 (wheel and variants file): bar stays the
    trusted group's, and low is never asked for, nor serves, anything of bar's."""
    foo = low.add_file(build_wheel(built / "low", "foo", "1.0"))
    bar = low.add_file(build_wheel(built / "low", "bar", "9.0", module="bar"))
    low.page("foo", [foo, bar, {**bar, "filename": "bar-9.0-variants.json"}])
    result = install(tmp_path, venv, trusted, low, "foo", "bar", "-v")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == ["bar-1.0.dist-info", "foo-1.0.dist-info"]
    assert "ignoring bar-9.0-py3-none-any.whl, which is not a file of foo" in result.stderr
    assert not [r for r in low.requests if "bar" in r]
    before = snapshot(tmp_path)
    refused(install(tmp_path, venv, trusted, low, "foo", "bar>=9"), "bar")
    assert snapshot(tmp_path) == before


def test_a_wheel_that_installs_as_another_project_is_refused(
    low: Hostile, trusted: str, tmp_path: Path, venv: Path, built: Path
) -> None:
    """low serves, as foo 1.0 with honest-looking PEP 658 metadata, bar's wheel (its
    bar-1.0.dist-info and its module): it would replace what the trusted group owns."""
    bar = build_wheel(built / "low", "bar", "1.0")
    disguised = bar.rename(bar.with_name("foo-1.0-py3-none-any.whl"))
    low.page("foo", [low.add_file(disguised, b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n")])
    before = snapshot(tmp_path)
    line = refused(install(tmp_path, venv, trusted, low, "foo"), "foo-1.0-py3-none-any.whl")
    assert "bar-1.0.dist-info" in line
    assert snapshot(tmp_path) == before


HONEST = "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nRequires-Python: >=3.8\n"


@pytest.mark.parametrize(
    ("served", "problem"),
    [
        (HONEST.replace("Name: foo", "Name: bar"), "METADATA says bar 1.0, not foo 1.0"),
        (HONEST.replace("Version: 1.0", "Version: 2.0"), "METADATA says foo 2.0, not foo 1.0"),
        (HONEST, "differs from the index's foo-1.0-py3-none-any.whl.metadata (Requires-Dist)"),
        (
            HONEST.replace("Requires-Python: >=3.8\n", "") + "Requires-Dist: bar\n",
            "(Requires-Python)",
        ),
    ],
)
def test_pep658_metadata_must_match_the_wheel(  # noqa: PLR0917
    low: Hostile, trusted: str, tmp_path: Path, venv: Path, built: Path, served: str, problem: str
) -> None:
    """The wheel requires bar and Python >= 3.8; the served metadata says otherwise."""
    wheel = build_wheel(built / "low", "foo", "1.0", requires=["bar"], requires_python=">=3.8")
    low.page("foo", [low.add_file(wheel, served.encode())])
    before = snapshot(tmp_path)
    refused(install(tmp_path, venv, trusted, low, "foo"), problem)
    assert snapshot(tmp_path) == before


def test_matching_metadata_installs(
    low: Hostile, trusted: str, tmp_path: Path, venv: Path, built: Path
) -> None:
    """The control: the same wheel with its own METADATA served installs, bar from corp."""
    wheel = build_wheel(built / "low", "foo", "1.0", requires=["bar"], requires_python=">=3.8")
    served = HONEST + "Requires-Dist: bar\n"
    low.page("foo", [low.add_file(wheel, served.encode())])
    result = install(tmp_path, venv, trusted, low, "foo")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == ["bar-1.0.dist-info", "foo-1.0.dist-info"]
