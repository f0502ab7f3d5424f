"""README.md's "Using it" walkthrough, run verbatim: the demo release, ``wn-detect``, ``wn
select``, ``wn install``, ``wn proxy`` with unmodified pip, and the Python API snippet.

The bash block runs with ``bash -euo pipefail`` in a temporary directory where ``.venv`` is
the environment running the tests and ``examples`` is the repository's, so the README's
relative paths resolve as they do from the repository root, and nothing is written there.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import BIN, snapshot

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
MAKE_RELEASE = ROOT / "examples" / "demo" / "make_release.py"
BASH_MARKER = "<!-- walkthrough: "
PYTHON_MARKER = "<!-- walkthrough-python: "
LEVELS = ("v1", "v2", "v3", "v4")
PLAIN = "hellown-1.0-py3-none-any.whl"


def readme_block(marker: str, language: str) -> str:
    """The fenced ``language`` block that directly follows the line starting with ``marker``."""
    lines = README.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(marker)]
    assert len(starts) == 1, f"README.md: expected one {marker!r} line, found {len(starts)}"
    fence = starts[0] + 1
    assert lines[fence] == f"```{language}", f"README.md: no ```{language} block after {marker!r}"
    end = lines.index("```", fence + 1)
    return "\n".join(lines[fence + 1 : end]) + "\n"


def free_port() -> int:
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Python/venv overrides, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**env, **extra}


@functools.cache
def supported_levels() -> tuple[str, ...]:
    """This machine's x86-64 levels among v1..v4, best first, as ``wn-detect --json`` says
    (empty when the x86_64 provider is absent: not an x86-64 machine)."""
    proc = subprocess.run(
        [str(BIN / "wn-detect"), "--json"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
        check=True,
    )
    for provider in json.loads(proc.stdout)["providers"]:
        if provider["namespace"] == "x86_64" and provider["status"] == "ok":
            for feature in provider["features"]:
                if feature["name"] == "level":
                    return tuple(v for v in feature["values"] if v in LEVELS)
    return ()


@dataclass(frozen=True)
class Walkthrough:
    """What one run of the README's bash block left: its result, directory and ports."""

    proc: subprocess.CompletedProcess[str]
    demo: Path
    ports: tuple[int, int]
    env: dict[str, str]


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> Walkthrough:
    """Run the README's bash block once; its outputs, ports and demo directory."""
    assert (BIN / "wn").is_file(), f"{BIN}: the tests must run in the environment with wn"
    work = tmp_path_factory.mktemp("walkthrough")
    (work / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    (work / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    temp = work / "tmp"  # where the block's mktemp makes its demo folder
    temp.mkdir()
    port, index_port = free_port(), free_port()
    while index_port == port:
        index_port = free_port()
    env = clean_env(TMPDIR=str(temp), PORT=str(port), INDEX_PORT=str(index_port))
    args = ["bash", "-euo", "pipefail", "-c", readme_block(BASH_MARKER, "bash")]
    with subprocess.Popen(
        args,
        cwd=work,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # so that a hung run's servers can be ended with it
    ) as popen:
        try:
            out, err = popen.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            out, err = popen.communicate()
            err += "\n(the walkthrough hung: killed after 600 s)"
    proc = subprocess.CompletedProcess(args, popen.returncode, out, err)
    demos = sorted(temp.glob("wheelnext-demo.*"))
    assert len(demos) == 1, f"{demos}\nstderr:\n{err}"
    return Walkthrough(proc, demos[0], (port, index_port), env)


def expected_best() -> tuple[str, str]:
    """The label this machine should get and how ``python -m hellown`` words its properties."""
    levels = supported_levels()
    if not levels:
        return "null", "no properties"
    return f"x86_64_{levels[0]}", f"x86_64 :: level :: {levels[0]}"


def test_the_walkthrough_runs_and_every_installer_gets_the_best_variant(
    walkthrough: Walkthrough,
) -> None:
    proc, demo = walkthrough.proc, walkthrough.demo
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out, err = proc.stdout, proc.stderr
    label, props = expected_best()
    levels = supported_levels()

    # the release the demo script built with wn variant make / index
    assert sorted(p.name for p in (demo / "wheels").iterdir()) == sorted(
        [PLAIN, "hellown-1.0-variants.json"]
        + [f"hellown-1.0-py3-none-any-{x}.whl" for x in ("null", *(f"x86_64_{v}" for v in LEVELS))]
    )
    # wn-detect's table names the x86_64 provider (present or absent)
    assert "wheelnext-provider-x86" in out

    # wn select: supported levels best first, then null, then the plain wheel; the others
    # rejected with the reason
    ranked = [line for line in out.splitlines() if line.startswith("hellown-1.0-py3-none-any")]
    assert ranked == [
        *(f"hellown-1.0-py3-none-any-x86_64_{v}.whl" for v in levels),
        "hellown-1.0-py3-none-any-null.whl",
        PLAIN,
    ]
    for level in set(LEVELS) - set(levels):
        assert (
            f"rejected hellown-1.0-py3-none-any-x86_64_{level}.whl: variant 'x86_64_{level}': "
            in err
        )

    # wn install into the target directory, then the installed module itself
    assert f"Installed hellown 1.0 [{label}" in out + err
    lines = out.splitlines()
    assert f"hellown 1.0 at {demo / 'site' / 'hellown'}: variant {label} ({props})" in lines
    # unmodified pip through wn proxy got the same variant
    assert f"hellown 1.0 at {demo / 'pip-site' / 'hellown'}: variant {label} ({props})" in lines
    assert (demo / "pip-site" / "hellown-1.0.dist-info" / "variant.json").is_file()


def test_the_walkthrough_stops_its_servers(walkthrough: Walkthrough) -> None:
    ports = walkthrough.ports
    # step 6 kills them; the block's EXIT trap does too when a step fails
    assert [listening(port) for port in ports] == [False, False]


def test_the_python_snippet_selects_the_same_wheel(walkthrough: Walkthrough) -> None:
    demo, env = walkthrough.demo, walkthrough.env
    assert (demo / "wheels" / "hellown-1.0-variants.json").is_file(), "step 1 failed"
    snippet = subprocess.run(
        [str(BIN / "python"), "-c", readme_block(PYTHON_MARKER, "python")],
        capture_output=True,
        text=True,
        env={**env, "DEMO": str(demo)},  # as exported by the bash block before it
        timeout=300,
        check=False,
    )
    assert snippet.returncode == 0, snippet.stderr
    label, _ = expected_best()
    lines = snippet.stdout.splitlines()
    assert lines[0] == f"best: hellown-1.0-py3-none-any-{label}.whl"
    assert lines[-1].startswith("  rejected ") or supported_levels() == LEVELS[::-1]


def test_make_release_refuses_a_non_empty_outdir_and_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(MAKE_RELEASE), str(out)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr == f"make_release.py: {out}: exists and is not an empty directory\n"
    assert snapshot(tmp_path) == before


def test_make_release_without_outdir_prints_usage() -> None:
    proc = subprocess.run(
        [sys.executable, str(MAKE_RELEASE)], capture_output=True, text=True, check=False
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith("usage: make_release.py OUTDIR")
