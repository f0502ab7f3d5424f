"""Reading ahead during resolution (``Finder.prefetch``): every requirement's page and the
PEP 658 file of its newest usable wheel are read while resolution works on another
project, each once; a file that fails its checks when read ahead is read again and
reported as it always was."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from subprocess import CompletedProcess

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
