"""spec/package-authors.md, run from its own text: its ``pyproject.toml`` is built with a real
backend (flit_core, the dev group's, without build isolation so no network is needed),
its commands make and index the variant release, and ``wn install`` into fresh venvs
installs, per machine, the variant and the marker-selected dependencies its table says."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import BIN
from tests.installer.envs import make_venv, site, wn, write_profile
from tests.installer.wheels import build_wheel

ACTIVE = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}  # venv active
DOC = Path(__file__).parents[2] / "spec" / "package-authors.md"
MACHINES = {  # the table's first column -> the profile it stands for
    "x86-64-v4": ["v4", "v3", "v2", "v1"],
    "x86-64-v3": ["v3", "v2", "v1"],
    "no x86-64 level known (e.g. another CPU family)": None,
}


def block(marker: str, language: str) -> str:
    """The fenced ``language`` block right after the ``<!-- package-authors: MARKER -->``."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"<!-- package-authors: {marker} -->") + 1
    assert lines[start] == f"```{language}", f"no ```{language} block after {marker}"
    return "\n".join(lines[start + 1 : lines.index("```", start + 1)]) + "\n"


def table() -> dict[str, tuple[str, set[str]]]:
    """The "what each machine gets" table: machine -> (label, dependency names)."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0] in MACHINES:
            rows[cells[0]] = (cells[1].strip("`"), set(re.findall(r"`([^`]+)`", cells[2])))
    return rows


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The doc's project, built and turned into a variant release by the doc's commands,
    with the dependencies beside it."""
    project = tmp_path_factory.mktemp("fastmath")
    (project / "pyproject.toml").write_text(block("pyproject.toml", "toml"))
    (project / "fastmath").mkdir()
    (project / "fastmath" / "__init__.py").write_text('"""Vector maths."""\n')
    script = block("build", "sh")
    assert "python -m build --wheel " in script
    script = script.replace("python -m build --wheel ", "python -m build --wheel --no-isolation ")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=project,
        capture_output=True,
        text=True,
        env=ACTIVE,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "property:   x86_64 :: level :: v4" in done.stdout  # wn variant show
    out = project / "release"
    assert sorted(p.name for p in out.iterdir()) == [
        "fastmath-1.0-py3-none-any-null.whl",
        "fastmath-1.0-py3-none-any-v3.whl",
        "fastmath-1.0-py3-none-any-v4.whl",
        "fastmath-1.0-variants.json",
    ]
    doc = json.loads((out / "fastmath-1.0-variants.json").read_text())
    assert doc["variants"] == {
        "null": {},
        "v3": {"x86_64": {"level": ["v3"]}},
        "v4": {"x86_64": {"level": ["v4"]}},
    }
    for name in ("fastmath-core", "fastmath-x86", "fastmath-avx512", "fastmath-portable"):
        build_wheel(out, name, "1.0")
    return out


def test_the_backend_kept_the_variant_markers(release: Path) -> None:
    import zipfile

    with zipfile.ZipFile(release / "fastmath-1.0-py3-none-any-v4.whl") as archive:
        metadata = archive.read("fastmath-1.0.dist-info/METADATA").decode()
    assert "Requires-Dist: fastmath-avx512; 'x86_64 :: level :: v4' in variant_properties" in (
        metadata
    )


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_each_machine_gets_what_the_table_says(release: Path, tmp_path: Path, machine: str) -> None:
    label, dependencies = table()[machine]
    venv = make_venv(tmp_path / "venv")
    profile = write_profile(tmp_path, MACHINES[machine])
    done = wn(
        "install", "fastmath", "--no-index", "--find-links", str(release), "--no-cache",
        "--python", str(venv / "bin" / "python"), "--properties", str(profile),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith(f"Installed fastmath 1.0 [{label}: ")
    infos = {p.name for p in site(venv).glob("*.dist-info")}
    installed = {
        name.removesuffix(".dist-info").rsplit("-", 1)[0].replace("_", "-") for name in infos
    }
    assert installed == {"fastmath", *dependencies}
    variant = json.loads((site(venv) / "fastmath-1.0.dist-info" / "variant.json").read_text())
    assert list(variant["variants"]) == [label]


def test_the_hand_written_profile_selects_v4(release: Path) -> None:
    """Step 3's example profile loads, and the doc's command selects ``v4`` with it."""
    (release.parent / "avx512-box.json").write_text(block("profile", "json"))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block("check", "sh")],
        cwd=release.parent,
        capture_output=True,
        text=True,
        env={**ACTIVE, "XDG_CACHE_HOME": str(release.parent / "cache")},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Would install fastmath 1.0 [v4: x86_64 :: level :: v4] "), (
        done.stdout
    )
