"""``wn install -r pylock.toml`` and the caches, as ``wn install`` uses them: a locked
``path`` wheel is read where it lies (never copied, never changed), a locked ``url`` wheel
is downloaded once into the cache, and the files come from the unpacked-wheel cache by
``--link-mode`` (hard links by default)."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import snapshot
from tests.installer.envs import wn, write_profile
from tests.installer.index import Server
from tests.installer.wheels import build_wheel
from tests.security.test_hostile_lock import package, wheel_entry, write_lock
from wheelnext.installer.cli_common import machine_selector
from wheelnext.installer.http import HttpClient
from wheelnext.installer.lock.install import LockInstaller
from wheelnext.installer.lock.read import read_lock
from wheelnext.installer.target import probe

MODULE = "pkg/__init__.py"
BODY = b"VALUE = 41\n"


@pytest.fixture
def lock_dir(tmp_path: Path) -> Path:
    """A lock beside pkg 1.0's wheel, listed by ``path``."""
    where = tmp_path / "lock"
    where.mkdir()
    wheel = build_wheel(where, "pkg", "1.0", files={MODULE: BODY})
    write_lock(where, package("pkg", "1.0", wheel_entry(wheel)))
    return where


def install(lock: Path, target: Path, *more: str) -> subprocess.CompletedProcess[str]:
    profile = write_profile(target.parent, ["v3", "v2", "v1"])
    done = wn(
        "install", "-r", str(lock), "--target", str(target), "--properties", str(profile),
        *more, WHEELNEXT_CONFIG=os.devnull,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def read_only(folder: Path) -> None:
    """``folder`` and its files unwritable: copying, moving or deleting there would fail."""
    for path in folder.iterdir():
        path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)


def test_a_locked_path_wheel_is_handed_over_where_it_lies(lock_dir: Path, tmp_path: Path) -> None:
    """What the installer reads is the user's own file, and nothing lands in the work
    directory or in the download cache."""
    lock = read_lock(lock_dir / "pylock.toml")
    target = probe(sys.executable, tmp_path / "t")
    selector = machine_selector(write_profile(tmp_path, ["v3"]), target)
    work = tmp_path / "work"
    work.mkdir()
    http = HttpClient(tmp_path / "cache", timeout=15)
    try:
        installer = LockInstaller(lock, lock_dir, selector, target, http)
        [picked] = installer.plan()
        found = installer.fetch(picked, work)
    finally:
        http.close()
    assert found.samefile(lock_dir / "pkg-1.0-py3-none-any.whl")
    assert [p for p in work.rglob("*") if p.is_file()] == []
    assert not (tmp_path / "cache").exists()


def test_a_lock_install_leaves_the_locked_wheel_untouched(lock_dir: Path, tmp_path: Path) -> None:
    """In a read-only lock directory, cold and warm, hard links and copies: the wheel keeps
    its bytes, mode and mtime, and no other file appears beside it."""
    read_only(lock_dir)
    before = snapshot(lock_dir)
    times = {p.name: p.stat().st_mtime_ns for p in lock_dir.iterdir()}
    lock = lock_dir / "pylock.toml"
    cache = tmp_path / "cache"
    try:
        install(lock, tmp_path / "cold", "--cache-dir", str(cache))
        install(lock, tmp_path / "warm", "--cache-dir", str(cache))
        install(lock, tmp_path / "copy", "--cache-dir", str(cache), "--link-mode", "copy")
        install(lock, tmp_path / "none", "--no-cache")
        assert snapshot(lock_dir) == before
        assert {p.name: p.stat().st_mtime_ns for p in lock_dir.iterdir()} == times
    finally:
        lock_dir.chmod(0o755)
    assert not (cache / "wheels").exists()  # a local wheel is not copied into the cache
    for name in ("cold", "warm", "copy", "none"):
        assert (tmp_path / name / MODULE).read_bytes() == BODY


def test_a_warm_lock_install_links_from_the_unpacked_cache(lock_dir: Path, tmp_path: Path) -> None:
    lock = lock_dir / "pylock.toml"
    cache = tmp_path / "cache"
    install(lock, tmp_path / "first", "--cache-dir", str(cache))
    assert (cache / "unpacked").is_dir()
    done = install(lock, tmp_path / "warm", "--cache-dir", str(cache), "--link-mode", "hardlink")
    assert done.stdout.startswith("Installed pkg 1.0 from "), done.stdout
    warm = tmp_path / "warm" / MODULE
    assert warm.stat().st_nlink > 1  # the cache's inode, shared
    assert warm.samefile(tmp_path / "first" / MODULE)
    assert warm.read_bytes() == BODY


def test_link_mode_copy_with_a_lock_gives_separate_files(lock_dir: Path, tmp_path: Path) -> None:
    lock = lock_dir / "pylock.toml"
    cache = tmp_path / "cache"
    install(lock, tmp_path / "first", "--cache-dir", str(cache))
    install(lock, tmp_path / "copied", "--cache-dir", str(cache), "--link-mode", "copy")
    copied = tmp_path / "copied" / MODULE
    assert copied.stat().st_nlink == 1
    assert not copied.samefile(tmp_path / "first" / MODULE)
    assert copied.read_bytes() == BODY


def test_no_cache_with_a_lock_writes_no_cache(lock_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    install(lock_dir / "pylock.toml", tmp_path / "t", "--cache-dir", str(cache), "--no-cache")
    assert not cache.exists()
    assert (tmp_path / "t" / MODULE).stat().st_nlink == 1


def url_lock(server: Server, built: Path, tmp_path: Path) -> tuple[Path, Path]:
    """pkg 1.0 served, and a lock in ``tmp_path/lock`` naming it by URL: (wheel, lock)."""
    wheel = build_wheel(built, "pkg", "1.0", files={MODULE: BODY})
    server.index("pypi").add(wheel)
    url = f"http://127.0.0.1:{server.port}/pypi/files/{wheel.name}"
    lock_dir = tmp_path / "lock"
    lock_dir.mkdir()
    lock = write_lock(lock_dir, package("pkg", "1.0", wheel_entry(wheel, path=None, url=url)))
    return wheel, lock


def test_a_locked_url_wheel_is_downloaded_once_into_the_cache(
    server: Server, built: Path, tmp_path: Path
) -> None:
    wheel, lock = url_lock(server, built, tmp_path)
    cache = tmp_path / "cache"
    install(lock, tmp_path / "first", "--cache-dir", str(cache))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert (cache / "wheels" / digest[:2] / digest / wheel.name).read_bytes() == (
        wheel.read_bytes()
    )
    assert server.requests.count(f"/pypi/files/{wheel.name}") == 1
    install(lock, tmp_path / "again", "--cache-dir", str(cache))
    assert server.requests.count(f"/pypi/files/{wheel.name}") == 1  # from the cache
    assert (tmp_path / "again" / MODULE).samefile(tmp_path / "first" / MODULE)


def test_a_tampered_cached_download_is_fetched_again(
    server: Server, built: Path, tmp_path: Path
) -> None:
    """The cache is only a disk: a cached wheel whose bytes no longer match the lock is
    downloaded again, and the install gets the right bytes."""
    wheel, lock = url_lock(server, built, tmp_path)
    cache = tmp_path / "cache"
    install(lock, tmp_path / "first", "--cache-dir", str(cache), "--link-mode", "copy")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    cached = cache / "wheels" / digest[:2] / digest / wheel.name
    cached.write_bytes(b"not the wheel")
    install(lock, tmp_path / "again", "--cache-dir", str(cache), "--no-cache")
    assert cached.read_bytes() == b"not the wheel"  # --no-cache: the cache is not read
    install(lock, tmp_path / "third", "--cache-dir", str(cache))
    assert server.requests.count(f"/pypi/files/{wheel.name}") == 3
    assert cached.read_bytes() == wheel.read_bytes()
    assert (tmp_path / "third" / MODULE).read_bytes() == BODY


def test_a_cache_dir_that_is_a_file_is_refused_with_a_lock(lock_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    profile = write_profile(tmp_path, ["v3"])
    done = wn(
        "install", "-r", str(lock_dir / "pylock.toml"), "--target", str(tmp_path / "t"),
        "--properties", str(profile), "--cache-dir", str(tmp_path / "file"),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"wn install: error: --cache-dir {tmp_path / 'file'}")
    assert not (tmp_path / "t").exists()
