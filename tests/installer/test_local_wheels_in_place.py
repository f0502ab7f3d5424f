"""Local wheels (``--find-links``, ``file:`` URLs, paths) and cached downloads are read
where they lie: the path handed to the installer is the file itself, never a copy, and
nothing of the user's or of the cache is changed, moved or deleted by an install."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from tests.helpers import snapshot
from tests.installer.envs import install_from, wn
from tests.installer.index import Server
from tests.installer.run import groups, installer
from tests.installer.wheels import build_wheel
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.http import HttpClient
from wheelnext.installer.indexes import IndexConfig
from wheelnext.installer.requirements import Wanted
from wheelnext.installer.resolver import resolve


def _read_only(folder: Path) -> None:
    """Make ``folder`` and its files unwritable: an install that copied, moved, renamed or
    deleted anything there would fail."""
    for path in folder.iterdir():
        path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)


def test_find_links_wheels_are_handed_over_in_place(built: Path) -> None:
    wheel = build_wheel(built, "demo", "1.0", requires=["helper"])
    helper = build_wheel(built, "helper", "2.0")
    config = IndexConfig(groups(("links", [("links", str(built))])))
    with installer(config) as provider:
        resolution = resolve([Wanted.parse("demo")], provider)
        finder = provider.finder
        fetched = {name: finder.fetch(c.located) for name, c in resolution.chosen.items()}
        assert fetched["demo"].samefile(wheel)  # the user's own file: no copy
        assert fetched["helper"].samefile(helper)
        assert not [p for p in finder.work.rglob("*") if p.is_file()]  # nothing in temp


def test_install_from_find_links_leaves_the_users_wheels_untouched(
    tmp_path: Path, built: Path, venv: Path
) -> None:
    build_wheel(built, "demo", "1.0", requires=["helper"], files={"demo/x.py": b"X = 1\n"})
    build_wheel(built, "helper", "2.0")
    _read_only(built)
    before = snapshot(built)
    times = {p.name: p.stat().st_mtime_ns for p in built.iterdir()}
    try:
        result = install_from(venv, built, "demo", "--cache-dir", str(tmp_path / "cache"))
        assert result.returncode == 0, result.stderr
        assert snapshot(built) == before
        assert {p.name: p.stat().st_mtime_ns for p in built.iterdir()} == times
        assert not (tmp_path / "cache" / "wheels").exists()  # local files are not cached
    finally:
        built.chmod(0o755)


def test_a_wheel_path_is_read_in_place_and_never_deleted(tmp_path: Path, built: Path) -> None:
    wheel = build_wheel(built, "demo", "1.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    _read_only(built)
    before = snapshot(built)
    try:
        wrong = wn(
            "install",
            f"demo @ {wheel.as_uri()}#sha256={'0' * 64}",
            "--target",
            str(tmp_path / "t1"),
        )
        assert wrong.returncode != 0
        assert "sha256 mismatch (URL says" in wrong.stderr
        assert snapshot(built) == before  # a mismatch deletes nothing of the user's
        target = tmp_path / "t2"
        right = wn("install", f"demo @ {wheel.as_uri()}#sha256={digest}", "--target", str(target))
        assert right.returncode == 0, right.stderr
        assert (target / "demo-1.0.dist-info").is_dir()
        plain = wn("install", str(wheel), "--target", str(tmp_path / "t3"), "--no-index")
        assert plain.returncode == 0, plain.stderr
        assert snapshot(built) == before
    finally:
        built.chmod(0o755)


def served_wheel(server: Server, built: Path) -> tuple[Path, str, str]:
    """demo 1.0 built and served: the wheel, its download URL and its sha256."""
    wheel = build_wheel(built, "demo", "1.0")
    server.index("pypi").add(wheel)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return wheel, f"http://127.0.0.1:{server.port}/pypi/files/{wheel.name}", digest


def test_cached_downloads_are_reused_without_a_copy(
    tmp_path: Path, server: Server, built: Path
) -> None:
    wheel, url, digest = served_wheel(server, built)
    cache = tmp_path / "cache"
    first = HttpClient(cache).download(url, digest, tmp_path / "a" / wheel.name, in_place=True)
    assert first.is_relative_to(cache)
    assert first.name == wheel.name
    assert not (tmp_path / "a").exists()  # downloaded straight into the cache
    asked = len(server.requests)
    second = HttpClient(cache).download(url, digest, tmp_path / "b" / wheel.name, in_place=True)
    assert len(server.requests) == asked
    assert second.samefile(first)
    assert not (tmp_path / "b").exists()  # no copy
    # one copy of the wheel; beside its entry only the lock file of that entry
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert [p for p in files if p.suffix != ".lock"] == [first]
    assert [p.name for p in files if p.suffix == ".lock"] == [f"{digest}.lock"]
    # without in_place the caller gets its own file at the destination (as before)
    copy = HttpClient(cache).download(url, digest, tmp_path / "c" / wheel.name)
    assert copy == tmp_path / "c" / wheel.name
    assert copy.read_bytes() == wheel.read_bytes()
    assert len(server.requests) == asked


def test_a_damaged_cache_entry_is_fetched_again(
    tmp_path: Path, server: Server, built: Path
) -> None:
    wheel, url, digest = served_wheel(server, built)
    cached = HttpClient(tmp_path / "cache").download(
        url, digest, tmp_path / wheel.name, in_place=True
    )
    cached.write_bytes(b"not the wheel")
    again = HttpClient(tmp_path / "cache").download(
        url, digest, tmp_path / wheel.name, in_place=True
    )
    assert again.read_bytes() == wheel.read_bytes()
    assert len([p for p in server.requests if p.endswith(".whl")]) == 2


def test_a_local_file_larger_than_declared_is_refused(tmp_path: Path, built: Path) -> None:
    wheel = build_wheel(built, "demo", "1.0")
    with pytest.raises(InstallerError, match="larger than the 10 bytes declared"):
        HttpClient(None).download(wheel.as_uri(), None, tmp_path / "x.whl", expected_size=10)
    assert wheel.is_file()


def test_a_warm_install_reads_wheels_from_the_cache_in_place(
    tmp_path: Path, server: Server, built: Path
) -> None:
    server.index("pypi").add(build_wheel(built, "demo", "1.0"))
    args = ["--index-url", server.url("pypi"), "--cache-dir", str(tmp_path / "cache"), "-q"]
    assert wn("install", "demo", "--target", str(tmp_path / "one"), *args).returncode == 0
    (entry,) = (tmp_path / "cache" / "wheels").rglob("*.whl")
    before = (entry.stat().st_ino, entry.stat().st_mtime_ns, entry.read_bytes())
    second = wn("install", "demo", "--target", str(tmp_path / "two"), *args)
    assert second.returncode == 0, second.stderr
    assert (entry.stat().st_ino, entry.stat().st_mtime_ns, entry.read_bytes()) == before
    assert not [p for p in server.requests if p.endswith(".whl")][1:]  # downloaded once
