"""Resolution details: backtracking, Requires-Python from METADATA, markers, pre-releases,
and the ``wn install`` index options wired end to end."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.helpers import BIN
from tests.installer.index import Server
from tests.installer.run import groups, resolve_with
from tests.installer.wheels import build_wheel
from wheelnext.installer.indexes import IndexConfig


def one_index(server: Server) -> IndexConfig:
    return IndexConfig(groups(("default", [("pypi", server.url("pypi"))])))


def test_backtracks_to_an_older_version(server: Server, built: Path) -> None:
    server.index("pypi").add(
        build_wheel(built, "top", "2.0", requires=["lib<1"]),  # no lib<1 exists
        build_wheel(built, "top", "1.0", requires=["lib>=1"]),
        build_wheel(built, "lib", "1.5"),
    )
    chosen = resolve_with(one_index(server), ["top"]).chosen
    assert (str(chosen["top"].version), str(chosen["lib"].version)) == ("1.0", "1.5")


def test_requires_python_in_metadata_skips_the_version(server: Server, built: Path) -> None:
    server.index("pypi", core_metadata=False).add(
        build_wheel(built, "modern", "2.0", requires_python=">=4"),
        build_wheel(built, "modern", "1.0", requires_python=">=3.8"),
    )
    assert str(resolve_with(one_index(server), ["modern"]).chosen["modern"].version) == "1.0"


def test_requires_python_on_the_index_page(server: Server, built: Path) -> None:
    index = server.index("pypi", requires_python={"py-2.0-py3-none-any.whl": ">=4"})
    index.add(build_wheel(built, "py", "2.0"), build_wheel(built, "py", "1.0"))
    assert str(resolve_with(one_index(server), ["py"]).chosen["py"].version) == "1.0"


def test_markers_and_prereleases(server: Server, built: Path) -> None:
    server.index("pypi").add(
        build_wheel(built, "m", "1.0", requires=['never; sys_platform == "nonexistent"', "pre"]),
        build_wheel(built, "pre", "1.0"),
        build_wheel(built, "pre", "2.0rc1"),
    )
    chosen = resolve_with(one_index(server), ["m"]).chosen
    assert "never" not in chosen
    assert str(chosen["pre"].version) == "1.0"
    assert str(resolve_with(one_index(server), ["pre>=2.0rc1"]).chosen["pre"].version) == "2.0rc1"


def test_a_pin_may_name_a_whole_group(tmp_path: Path, server: Server, built: Path) -> None:
    server.index("a").add(build_wheel(built / "a", "x", "1.0"))
    server.index("b").add(build_wheel(built / "b", "x", "1.1"))
    server.index("pypi").add(build_wheel(built / "p", "x", "9.0"))
    proc = subprocess.run(
        [
            str(BIN / "wn"), "install", "x", "--dry-run", "--no-cache",
            "--index-url", server.url("pypi"),
            "--index-group", f"corp={server.url('a')},{server.url('b')}",
            "--explicit-index", "corp",
            "--pin", "x=corp", "--target", str(tmp_path / "t"),
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["Would install x 1.1 from corp[1]"]


def test_cli_groups_pins_and_explicit_indexes(tmp_path: Path, server: Server, built: Path) -> None:
    server.index("corp").add(build_wheel(built / "c", "internal", "1.0"))
    server.index("torch").add(build_wheel(built / "t", "torch", "2.13.0"))
    server.index("pypi").add(
        build_wheel(built / "p", "internal", "99.0"),
        build_wheel(built / "p", "torch", "2.14.0"),
        build_wheel(built / "p", "six", "1.0"),
    )
    proc = subprocess.run(
        [
            str(BIN / "wn"), "install", "internal", "torch", "six", "--dry-run", "--no-cache",
            "--index-group", f"corp={server.url('corp')}",
            "--index", f"torch={server.url('torch')}", "--explicit-index", "torch",
            "--pin", "torch=torch",
            "--index-url", server.url("pypi"), "--target", str(tmp_path / "t"),
        ],
        capture_output=True, text=True, check=False, env=os.environ.copy(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Would install internal 1.0 from corp",
        f"Would install six 1.0 from {server.url('pypi')}",
        "Would install torch 2.13.0 from torch",
    ]
