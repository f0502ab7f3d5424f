"""``name @ URL`` requirements: the named wheel is installed, checked like any other, or
refused with one line; never silently replaced by an index lookup.

A real server on 127.0.0.1 serves both an index (offering a higher version) and the
directly referenced wheels; every refusal leaves the environment byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import BIN, snapshot
from tests.installer.envs import write_profile
from tests.installer.index import Server
from tests.installer.wheels import build_wheel
from tests.security.test_cli_inputs import assert_one_error, run_wn


def _install(server: Server, venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    python = str(venv / "bin" / "python")
    return run_wn(
        "install", *args, "--index-url", server.url("pypi"), "--python", python, "--no-cache"
    )


def _refused(server: Server, venv: Path, args: list[str], *names: str) -> str:
    """``wn install ARGS`` is one error naming each of ``names``; the venv is untouched."""
    before = snapshot(venv)
    line = assert_one_error(_install(server, venv, *args), "wn install", *names)
    assert snapshot(venv) == before
    return line


def _imported(venv: Path, module: str) -> str:
    code = f"import {module}; print({module}.VERSION)"
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def _publish(server: Server, wheel: Path, name: str | None = None) -> str:
    """Serve ``wheel`` outside any index, at /direct/NAME; return its URL."""
    folder = server.root / "direct"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(wheel, folder / (name or wheel.name))
    return f"http://127.0.0.1:{server.port}/direct/{name or wheel.name}"


@pytest.fixture
def world(server: Server, built: Path) -> Server:
    """An index offering pkg 2.0 and helper 1.0; pkg 1.0 (needing helper) only off-index."""
    server.index("pypi").add(
        build_wheel(built / "index", "pkg", "2.0"), build_wheel(built / "index", "helper", "1.0")
    )
    return server


def test_the_named_wheel_wins_over_a_higher_index_version(
    world: Server, built: Path, venv: Path
) -> None:
    wheel = build_wheel(built, "pkg", "1.0", requires=["helper>=1"])
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    url = _publish(world, wheel)
    proc = _install(world, venv, f"pkg @ {url}#sha256={digest}")
    assert proc.returncode == 0, proc.stderr
    assert f"Installed pkg 1.0 from {url}" in proc.stdout
    assert _imported(venv, "pkg") == "1.0"
    assert _imported(venv, "helper") == "1.0"  # its dependencies resolve normally
    assert "/pypi/simple/pkg/" not in world.requests  # never looked up on the index
    assert "/direct/pkg-1.0-py3-none-any.whl" in world.requests


def test_other_hashlib_algorithms_are_verified(world: Server, built: Path, venv: Path) -> None:
    wheel = build_wheel(built, "pkg", "1.0")
    good = hashlib.sha512(wheel.read_bytes()).hexdigest()
    url = _publish(world, wheel)
    _refused(world, venv, [f"pkg @ {url}#sha512={'0' * 128}"], url, "sha512 mismatch")
    proc = _install(world, venv, f"pkg @ {url}#sha512={good}")
    assert proc.returncode == 0, proc.stderr
    assert _imported(venv, "pkg") == "1.0"


def test_a_hash_mismatch_refuses(world: Server, built: Path, venv: Path) -> None:
    url = _publish(world, build_wheel(built, "pkg", "1.0"))
    _refused(world, venv, [f"pkg @ {url}#sha256={'ab' * 32}"], f"pkg @ {url}", "sha256 mismatch")


@pytest.mark.parametrize(
    ("fragment", "says"),
    [
        ("sha256=abc", "64 hex digits"),
        ("md4=00", "unsupported URL fragment"),
        ("egg=pkg", "unsupported URL fragment"),
    ],
)
def test_a_bad_fragment_refuses(
    world: Server, built: Path, venv: Path, fragment: str, says: str
) -> None:
    url = _publish(world, build_wheel(built, "pkg", "1.0"))
    _refused(world, venv, [f"pkg @ {url}#{fragment}"], url, says)


def test_a_wheel_of_another_project_refuses(world: Server, built: Path, venv: Path) -> None:
    url = _publish(world, build_wheel(built, "other", "1.0"))
    _refused(world, venv, [f"pkg @ {url}"], f"pkg @ {url}", "other")


def test_a_wheel_whose_metadata_names_another_project_refuses(
    world: Server, built: Path, venv: Path
) -> None:
    """The filename says pkg; the archive inside is ``other``: refused before writing."""
    url = _publish(world, build_wheel(built, "other", "1.0"), "pkg-1.0-py3-none-any.whl")
    _refused(world, venv, [f"pkg @ {url}"], "pkg-1.0-py3-none-any.whl")


def test_a_file_url_from_a_requirements_file_is_honoured(
    world: Server, built: Path, venv: Path, tmp_path: Path
) -> None:
    wheel = build_wheel(built / "local", "pkg", "1.0")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"pkg @ {wheel.as_uri()}\n")
    before = snapshot(venv)
    dry = _install(world, venv, "-r", str(requirements), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"Would install pkg 1.0 from {wheel.as_uri()}" in dry.stdout
    assert snapshot(venv) == before  # --dry-run writes nothing into the environment
    proc = _install(world, venv, "-r", str(requirements))
    assert proc.returncode == 0, proc.stderr
    assert _imported(venv, "pkg") == "1.0"
    assert "/pypi/simple/pkg/" not in world.requests


def test_the_report_marks_the_direct_wheel(
    world: Server, built: Path, venv: Path, tmp_path: Path
) -> None:
    url = _publish(world, build_wheel(built, "pkg", "1.0", requires=["helper"]))
    report = tmp_path / "report.json"
    proc = _install(world, venv, f"pkg @ {url}", "--dry-run", "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    items = {i["metadata"]["name"]: i for i in json.loads(report.read_text())["install"]}
    assert items["pkg"]["is_direct"] is True
    assert items["pkg"]["download_info"]["url"] == url
    assert items["helper"]["is_direct"] is False


@pytest.mark.parametrize(
    ("requirement", "says"),
    [
        ("pkg @ {base}/direct/pkg-1.0.tar.gz", "only wheel URLs are supported"),
        ("pkg @ {base}/direct/pkg-1.0.zip", "only wheel URLs are supported"),
        ("pkg @ git+https://example.org/pkg.git@v1", "only wheel URLs are supported"),
        ("pkg @ {base}/direct/", "only wheel URLs are supported"),
        ("pkg @ ftp://example.org/pkg-1.0-py3-none-any.whl", "only http, https and file"),
        ("pkg @ {base}/direct/pkg-1.0-py3-none-any-%2F..%2Fx.whl", "not a wheel filename"),
        (
            "pkg @ {base}/direct/pkg-1.0-py3-none-win_arm64.whl",
            "its tags py3-none-win_arm64 do not fit this Python (best tag here: ",
        ),
        ("pkg @ file://elsewhere/share/pkg-1.0-py3-none-any.whl", "local path"),
        ("pkg @ file:///no/such/dir/pkg-1.0-py3-none-any.whl", "no such file"),
        ("pkg @ {base}/direct/missing/pkg-1.0-py3-none-any.whl", "HTTP 404"),
    ],
)
def test_what_is_not_a_usable_wheel_url_is_refused(
    world: Server, venv: Path, requirement: str, says: str
) -> None:
    text = requirement.format(base=f"http://127.0.0.1:{world.port}")
    line = _refused(world, venv, [text], "pkg @ ", says)
    assert "/pypi/simple/pkg/" not in world.requests  # no silent index lookup instead
    assert line.count("\n") == 0


def test_two_urls_for_one_project_refuse(world: Server, built: Path, venv: Path) -> None:
    one = _publish(world, build_wheel(built, "pkg", "1.0"))
    two = _publish(world, build_wheel(built / "b", "pkg", "1.1"))
    proc = _install(world, venv, f"pkg @ {one}", f"pkg @ {two}")
    assert_one_error(proc, "wn install", one, two)


def test_a_dependency_may_not_name_a_url(world: Server, built: Path, venv: Path) -> None:
    """Only the user's own requirements may point at URLs: a wheel's Requires-Dist
    ``x @ file:///...`` would let a package reach into the local disk or anywhere else."""
    target = _publish(world, build_wheel(built / "t", "helper", "9.0"))
    url = _publish(world, build_wheel(built, "pkg", "1.0", requires=[f"helper @ {target}"]))
    _refused(world, venv, [f"pkg @ {url}"], "helper @ ", "not followed")
    # the user naming the same URL is what makes it acceptable
    proc = _install(world, venv, f"pkg @ {url}", f"helper @ {target}")
    assert proc.returncode == 0, proc.stderr
    assert _imported(venv, "helper") == "9.0"


def test_markers_choose_among_direct_references(world: Server, built: Path, venv: Path) -> None:
    """A URL for another platform, behind a marker that does not apply, is not used (nor
    does it conflict with the URL that does apply)."""
    windows = _publish(world, build_wheel(built / "w", "pkg", "1.0", tag="py3-none-win_amd64"))
    here = _publish(world, build_wheel(built, "pkg", "1.0"))
    proc = _install(
        world,
        venv,
        f'pkg @ {windows} ; sys_platform == "win32"',
        f'pkg @ {here} ; sys_platform != "win32"',
    )
    assert proc.returncode == 0, proc.stderr
    assert _imported(venv, "pkg") == "1.0"
    assert "/direct/pkg-1.0-py3-none-win_amd64.whl" not in world.requests


def test_a_conflict_with_the_named_wheel_is_one_line(
    world: Server, built: Path, venv: Path
) -> None:
    """The URL's wheel is the only pkg there is: a dependency wanting pkg>=2 cannot be
    met from the index behind the user's back."""
    url = _publish(world, build_wheel(built, "pkg", "1.0"))
    world.index("pypi").add(build_wheel(built / "index", "needy", "1.0", requires=["pkg>=2"]))
    _refused(
        world,
        venv,
        [f"pkg @ {url}", "needy"],
        "pkg>=2",
        "not satisfied by the wheel you named",
        url,
    )


def _install_in(
    cwd: Path, server: Server, venv: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """``wn install ARGS`` run from ``cwd`` (relative wheel paths are read from there)."""
    python = str(venv / "bin" / "python")
    command = ["install", *args, "--index-url", server.url("pypi"), "--python", python]
    env = {**os.environ, "WHEELNEXT_CONFIG": os.devnull, "NO_COLOR": "1"}
    return subprocess.run(
        [str(BIN / "wn"), *command, "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_a_path_to_a_wheel_installs_it_as_pip_users_write_it(
    world: Server, built: Path, venv: Path, tmp_path: Path
) -> None:
    """``wn install ./dist/pkg-1.0-py3-none-any.whl``: the name comes from the filename,
    the file wins over the index's pkg 2.0, its dependencies resolve from the index."""
    dist = tmp_path / "dist"
    wheel = build_wheel(dist, "pkg", "1.0", requires=["helper>=1"])
    proc = _install_in(tmp_path, world, venv, f"./dist/{wheel.name}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == [
        "Installed helper 1.0 from " + world.url("pypi"),
        f"Installed pkg 1.0 from {wheel.as_uri()}",
    ]
    assert _imported(venv, "pkg") == "1.0"
    assert _imported(venv, "helper") == "1.0"
    assert "/pypi/simple/pkg/" not in world.requests


def test_a_wheel_path_in_a_requirements_file_is_relative_to_that_file(
    world: Server, built: Path, venv: Path, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path / "project" / "wheels", "pkg", "1.0")
    requirements = tmp_path / "project" / "requirements.txt"
    requirements.write_text(f"wheels/{wheel.name}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _install_in(elsewhere, world, venv, "-r", str(requirements))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"Installed pkg 1.0 from {wheel.as_uri()}"]
    assert _imported(venv, "pkg") == "1.0"


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("pkg @ ./dist/pkg-1.0-py3-none-any.whl", "use a path without 'name @', or a file: URL"),
        ("./dist/missing-1.0-py3-none-any.whl", "no such file"),
        ("./dist/pkg-1.0.whl", "invalid wheel filename"),
        # the filename says pkg, the archive is ``other``: checked like any direct reference
        ("./dist/pkg-1.1-py3-none-any.whl", "pkg-1.1-py3-none-any.whl"),
    ],
)
def test_a_wheel_path_that_cannot_be_used_is_refused(  # noqa: PLR0917
    world: Server, built: Path, venv: Path, tmp_path: Path, written: str, says: str
) -> None:
    dist = tmp_path / "dist"
    build_wheel(dist, "pkg", "1.0")
    shutil.copyfile(build_wheel(built / "o", "other", "1.1"), dist / "pkg-1.1-py3-none-any.whl")
    shutil.copyfile(dist / "pkg-1.0-py3-none-any.whl", dist / "pkg-1.0.whl")
    before = snapshot(venv), snapshot(tmp_path)
    proc = _install_in(tmp_path, world, venv, written)
    assert_one_error(proc, "wn install", says)
    assert (snapshot(venv), snapshot(tmp_path)) == before


def test_a_named_variant_this_machine_cannot_run_says_why(
    world: Server, built: Path, venv: Path, tmp_path: Path
) -> None:
    """A v4 wheel named on a v3 machine: the refusal names the variant and its hardware,
    and how to select for another machine; nothing is installed."""
    v4 = {"x86_64": {"level": ["v4"]}}
    url = _publish(world, build_wheel(built, "pkg", "1.0", label="v4", properties=v4))
    profile = write_profile(tmp_path, ["v3", "v2", "v1"])
    _refused(
        world,
        venv,
        [f"pkg @ {url}", "--properties", str(profile)],
        f"pkg @ {url}: variant v4 (x86_64 :: level :: v4) is not supported on this machine "
        "(wn-detect; --properties FILE selects for another)",
    )
    # the same wheel for a v4 profile installs
    proc = _install(
        world, venv, f"pkg @ {url}", "--properties", str(write_profile(tmp_path, ["v4"]))
    )
    assert proc.returncode == 0, proc.stderr
    assert _imported(venv, "pkg") == "1.0"
