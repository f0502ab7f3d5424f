"""Reading ahead during resolution (``Finder.prefetch``): every requirement's page and the
PEP 658 file of its newest usable wheel are read while resolution works on another
project, each once; a file that fails its checks when read ahead is read again and
reported as it always was."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from subprocess import CompletedProcess

from tests.helpers import BIN
from tests.installer.envs import wn
from tests.installer.index import Server
from tests.installer.wheels import build_wheel

NAMES = ("alpha", "beta", "gamma")


def metadata_path(name: str) -> str:
    return f"/pypi/files/{name}-1.0-py3-none-any.whl.metadata"


def test_requirements_are_read_while_the_first_one_waits(
    tmp_path: Path, server: Server, built: Path
) -> None:
    """alpha is resolved first and its metadata is held back by the server: meanwhile the
    pages and metadata of beta and gamma are asked for, and after the release none of
    them is asked for again."""
    server.index("pypi").add(
        *(build_wheel(built, name, "1.0", requires=["delta"] * (name == "beta")) for name in NAMES),
        build_wheel(built, "delta", "1.0"),
    )
    server.held[metadata_path("alpha").rsplit("/", 1)[1]] = release = threading.Event()
    done: list[CompletedProcess[str]] = []
    args = ["--index-url", server.url("pypi"), "--target", str(tmp_path / "t"), "--no-cache"]
    thread = threading.Thread(target=lambda: done.append(wn("install", *NAMES, *args, "-q")))
    thread.start()
    wanted = {"/pypi/simple/beta/", "/pypi/simple/gamma/", metadata_path("beta")}
    wanted.add(metadata_path("gamma"))
    try:
        deadline = time.monotonic() + 60
        while not wanted <= set(server.requests) and time.monotonic() < deadline:
            time.sleep(0.05)
        asked_meanwhile = set(server.requests)
    finally:
        release.set()
        thread.join(120)
    assert wanted <= asked_meanwhile
    assert "/pypi/simple/delta/" not in asked_meanwhile  # beta's dependency: not yet known
    assert done[0].returncode == 0, done[0].stderr
    assert {p.name for p in (tmp_path / "t").glob("*.dist-info")} == {
        f"{name}-1.0.dist-info" for name in (*NAMES, "delta")
    }
    metadata = [r for r in server.requests if r.endswith(".metadata")]
    assert (
        sorted(metadata) == sorted(set(metadata)) == sorted(map(metadata_path, [*NAMES, "delta"]))
    )


def test_a_metadata_file_unlike_its_hash_is_reported_as_without_reading_ahead(
    tmp_path: Path, server: Server, built: Path
) -> None:
    index = server.index("pypi")
    index.add(*(build_wheel(built, name, "1.0") for name in NAMES))
    (index.files_dir / "beta-1.0-py3-none-any.whl.metadata").write_text(
        "Metadata-Version: 2.4\nName: beta\nVersion: 1.0\nRequires-Dist: evil\n"
    )
    args = ["--index-url", server.url("pypi"), "--target", str(tmp_path / "t"), "--no-cache"]
    proc = wn("install", *NAMES, *args)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("wn install: error: ")
    assert "beta-1.0-py3-none-any.whl.metadata" in lines[0]
    assert "sha256" in lines[0]
    assert not (tmp_path / "t").exists() or not any((tmp_path / "t").iterdir())
    assert "/pypi/simple/evil/" not in server.requests


def test_files_read_ahead_for_nothing_hold_back_neither_pages_nor_the_exit(
    tmp_path: Path, server: Server, built: Path
) -> None:
    """Nine projects each offer a second usable wheel (py3-none-any) that is not chosen,
    and the server never answers for its PEP 658 file. Those reads ahead take no thread
    a page needs (p0's dependency is still read), and the install ends as soon as it is
    done: reads nobody waits for are dropped, not waited for up to ``--timeout``."""
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}-none-any"  # the one chosen
    names = [f"p{i}" for i in range(9)]
    index = server.index("pypi")
    release = threading.Event()
    for name in names:
        index.add(
            build_wheel(built, name, "1.0", tag=tag, requires=["dep"] * (name == "p0")),
            build_wheel(built, name, "1.0"),
        )
        server.held[f"{name}-1.0-py3-none-any.whl.metadata"] = release
    index.add(build_wheel(built, "dep", "1.0"))
    args = ["--index-url", server.url("pypi"), "--target", str(tmp_path / "t"), "--no-cache"]
    try:  # --timeout 120: waiting for the held files would outlast the 60 s given here
        proc = subprocess.run(
            [str(BIN / "wn"), "install", *names, *args, "--timeout", "120", "-q"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        release.set()
    assert proc.returncode == 0, proc.stderr
    assert "dep-1.0.dist-info" in {p.name for p in (tmp_path / "t").glob("*.dist-info")}
    assert any(r.endswith("-py3-none-any.whl.metadata") for r in server.requests)  # held


def test_files_are_read_ahead_once_per_project(tmp_path: Path, server: Server, built: Path) -> None:
    """A project asked for with many specifiers (each with another newest version) is
    read ahead once, for the first: no request (or memory) grows with the specifiers."""
    index = server.index("pypi")
    index.add(*(build_wheel(built, "b", f"{v}.0") for v in range(1, 9)))
    index.add(build_wheel(built, "a", "1.0", requires=[f"b<{v}" for v in range(2, 10)]))
    args = ["--index-url", server.url("pypi"), "--target", str(tmp_path / "t"), "--no-cache"]
    proc = wn("install", "a", *args, "-q")
    assert proc.returncode == 0, proc.stderr
    assert [r for r in server.requests if r.startswith("/pypi/files/b-")] == [
        "/pypi/files/b-1.0-py3-none-any.whl.metadata",
        "/pypi/files/b-1.0-py3-none-any.whl",
    ]


def test_a_large_metadata_file_is_left_to_resolution(
    tmp_path: Path, server: Server, built: Path
) -> None:
    """A PEP 658 file over ``AHEAD_BYTES`` (a long description) is not kept by a read
    ahead; resolution reads it itself, and the install is as without reading ahead."""
    from wheelnext.installer.finder import AHEAD_BYTES

    index = server.index("pypi")
    index.add(build_wheel(built, "asmall", "1.0"), build_wheel(built, "zbig", "1.0"))
    path = "/pypi/files/zbig-1.0-py3-none-any.whl.metadata"
    metadata = index.files_dir / path.rsplit("/", 1)[1]
    metadata.write_bytes(metadata.read_bytes() + b"\n" + b"x" * (2 * AHEAD_BYTES))
    index.publish()  # the page hashes the long file
    # asmall (resolved first: the first requirement) is held back until zbig's file has
    # been read ahead
    server.held["asmall-1.0-py3-none-any.whl.metadata"] = release = threading.Event()
    done: list[CompletedProcess[str]] = []
    args = ["--index-url", server.url("pypi"), "--target", str(tmp_path / "t"), "--no-cache"]
    thread = threading.Thread(target=lambda: done.append(wn("install", "asmall", "zbig", *args)))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while path not in server.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        release.set()
        thread.join(120)
    assert done[0].returncode == 0, done[0].stderr
    assert {p.name for p in (tmp_path / "t").glob("*.dist-info")} == {
        "asmall-1.0.dist-info",
        "zbig-1.0.dist-info",
    }
    assert server.requests.count(path) == 2  # the read ahead stopped at its limit
