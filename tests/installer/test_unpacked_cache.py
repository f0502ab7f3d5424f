"""The cache of unpacked wheels: a warm install links verified files instead of
unpacking again, and gives the same tree; files that differ per environment are written,
never linked; a damaged, half-built or edited cache entry is found and built again."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import BIN, snapshot
from tests.installer.envs import wn
from tests.installer.index import Server
from tests.installer.test_one_pass_install import rich_wheel, wn_install
from tests.installer.wheels import build_wheel
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.staging import member_name
from wheelnext.installer.unpacked_cache import FORMAT, MANIFEST, TREE

# written per environment: RECORD, INSTALLER, the variant record, scripts with a shebang
GENERATED = (
    "demo-1.0.dist-info/RECORD",
    "demo-1.0.dist-info/INSTALLER",
    "demo-1.0.dist-info/WHEELNEXT_VARIANT.json",
    "bin/demo-cli",
    "bin/tool",
)


def install(built: Path, target: Path, cache: Path, *extra: str) -> None:
    proc = wn(
        "install", "demo", "--no-index", "--find-links", str(built), "--no-deps",
        "--target", str(target), "--cache-dir", str(cache), *extra,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def entry(cache: Path) -> Path:
    (found,) = [p for p in (cache / "unpacked").iterdir() if not p.name.startswith(".")]
    return found


def cached_files(cache: Path) -> dict[str, Path]:
    """Member name -> the cache entry's file for it."""
    where = entry(cache)
    rows = json.loads((where / MANIFEST).read_bytes())["files"]
    return {row[0]: Path(member_name(where / TREE, i)) for i, row in enumerate(rows)}


@pytest.fixture
def wheel_dir(built: Path) -> Path:
    rich_wheel(built)
    return built


def test_a_warm_install_links_the_cached_files_and_gives_the_same_tree(
    wheel_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    install(wheel_dir, tmp_path / "cold", cache, "--no-cache")
    install(wheel_dir, tmp_path / "first", cache)
    install(wheel_dir, tmp_path / "warm", cache)
    tree = snapshot(tmp_path / "warm")
    assert tree == snapshot(tmp_path / "first") == snapshot(tmp_path / "cold")
    files = cached_files(cache)
    blob = tmp_path / "warm" / "demo" / "blob.bin"
    assert blob.stat().st_ino == files["demo/blob.bin"].stat().st_ino
    assert blob.stat().st_nlink == 3  # the cache's, the first install's, the warm one's
    assert (tmp_path / "cold" / "demo" / "blob.bin").stat().st_nlink == 1
    for name in GENERATED:
        assert (tmp_path / "warm" / name).stat().st_nlink == 1, name


def test_copy_mode_gives_every_environment_its_own_bytes(wheel_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    install(wheel_dir, tmp_path / "linked", cache)
    install(wheel_dir, tmp_path / "copied", cache, "--link-mode", "copy")
    install(wheel_dir, tmp_path / "cloned", cache, "--link-mode", "reflink")  # or copied
    assert snapshot(tmp_path / "copied") == snapshot(tmp_path / "linked")
    assert snapshot(tmp_path / "cloned") == snapshot(tmp_path / "linked")
    for where in ("copied", "cloned"):
        assert (tmp_path / where / "demo" / "blob.bin").stat().st_nlink == 1


def test_an_installed_file_edited_in_place_does_not_reach_the_next_install(
    wheel_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    install(wheel_dir, tmp_path / "first", cache)
    good = snapshot(tmp_path / "first")
    edited = tmp_path / "first" / "demo" / "sub" / "mod.py"
    with edited.open("r+b") as stream:  # in place: the cache's inode too
        stream.write(b"Y")
    install(wheel_dir, tmp_path / "second", cache)
    assert snapshot(tmp_path / "second") == good
    assert cached_files(cache)["demo/sub/mod.py"].read_bytes() == b"X = '1.0'\n"


@pytest.mark.parametrize("damage", ["no-manifest", "truncated", "missing-file", "bad-json"])
def test_a_damaged_or_half_built_entry_is_built_again(
    wheel_dir: Path, tmp_path: Path, damage: str
) -> None:
    cache = tmp_path / "cache"
    install(wheel_dir, tmp_path / "first", cache)
    good = snapshot(tmp_path / "first")
    where = entry(cache)
    blob = cached_files(cache)["demo/blob.bin"]
    if damage == "no-manifest":  # as a build killed before its last step would leave it
        (where / MANIFEST).unlink()
    elif damage == "truncated":
        stat = blob.stat()
        os.truncate(blob, 10)
        os.utime(blob, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # mtime put back
    elif damage == "missing-file":
        blob.unlink()
    else:
        (where / MANIFEST).write_text("{")
    install(wheel_dir, tmp_path / "second", cache)
    assert snapshot(tmp_path / "second") == good
    rebuilt = cached_files(cache)["demo/blob.bin"]
    assert rebuilt.read_bytes() == bytes(range(256)) * 4096
    assert rebuilt.stat().st_ino == (tmp_path / "second/demo/blob.bin").stat().st_ino


def test_a_stale_temporary_build_is_ignored_and_swept(wheel_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    leftover = cache / "unpacked" / ".build-killed"
    (leftover / TREE).mkdir(parents=True)
    (leftover / TREE / "0").write_bytes(b"half")
    os.utime(leftover, (0, 0))
    install(wheel_dir, tmp_path / "env", cache)
    assert not leftover.exists()
    assert (tmp_path / "env" / "demo" / "blob.bin").stat().st_nlink == 2


def test_a_warm_install_takes_the_archive_findings_from_the_entry(
    wheel_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    install(wheel_dir, tmp_path / "first", cache)
    info = json.loads((entry(cache) / MANIFEST).read_bytes())["info"]
    assert info["filename"] == "demo-1.0-py3-none-any.whl"
    assert info["dist_info"] == "demo-1.0.dist-info"
    assert ["scripts", "tool"] in info["installs"]
    install(wheel_dir, tmp_path / "warm", cache)
    assert snapshot(tmp_path / "warm") == snapshot(tmp_path / "first")


def test_the_checks_against_the_target_still_run_on_a_warm_install(
    wheel_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    install(wheel_dir, tmp_path / "first", cache)
    target = tmp_path / "taken"
    (target / "demo" / "sub").mkdir(parents=True)
    (target / "demo" / "sub" / "mod.py").write_bytes(b"someone else's\n")
    before = snapshot(target)
    proc = wn(
        "install", "demo", "--no-index", "--find-links", str(wheel_dir), "--no-deps",
        "--target", str(target), "--cache-dir", str(cache),
    )  # fmt: skip
    assert proc.returncode != 0
    assert "demo/sub/mod.py: already exists and belongs to another distribution" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(target) == before


def test_the_same_bytes_under_another_name_are_checked_again(
    wheel_dir: Path, tmp_path: Path
) -> None:
    """The findings are kept with the filename they were made for: the checks compare
    the name with the metadata, so the same bytes under another name are inspected."""
    cache = tmp_path / "cache"
    wheel = wheel_dir / "demo-1.0-py3-none-any.whl"
    wn_install(wheel, tmp_path / "first", cache / "unpacked")
    renamed = tmp_path / "renamed" / "other-1.0-py3-none-any.whl"
    renamed.parent.mkdir()
    renamed.write_bytes(wheel.read_bytes())
    with pytest.raises(InstallerError, match=r"^other-1\.0-py3-none-any\.whl: "):
        wn_install(renamed, tmp_path / "env", cache / "unpacked")
    assert not (tmp_path / "env" / "lib" / "demo").exists()


@pytest.mark.parametrize(
    "change",
    [{"members": 5}, {"record": {"x": ["sha256=", "1"]}}, {"filename": "demo-1.0-other.whl"}],
)
def test_malformed_or_foreign_findings_are_ignored_and_the_wheel_inspected(
    wheel_dir: Path, tmp_path: Path, change: dict[str, object]
) -> None:
    cache = tmp_path / "cache"
    install(wheel_dir, tmp_path / "first", cache)
    manifest = entry(cache) / MANIFEST
    doc = json.loads(manifest.read_bytes())
    doc["info"].update(change)
    manifest.write_text(json.dumps(doc))
    install(wheel_dir, tmp_path / "second", cache)
    assert snapshot(tmp_path / "second") == snapshot(tmp_path / "first")


def test_the_wheels_metadata_is_kept_and_still_compared_with_the_index(
    server: Server, built: Path, tmp_path: Path
) -> None:
    """The METADATA read from a verified wheel is kept by its sha256 and filename: a warm
    run compares that with the index's PEP 658 file instead of opening the zip."""
    server.index("pypi").add(build_wheel(built, "demo", "1.0"))
    cache = tmp_path / "cache"

    def run(where: str) -> subprocess.CompletedProcess[str]:
        return wn(
            "install", "demo", "--index-url", server.url("pypi"), "--cache-dir", str(cache),
            "--target", str(tmp_path / where),
        )  # fmt: skip

    assert run("first").returncode == 0
    (memo,) = cache.glob("**/wheel-metadata/*/*")
    name, _, kept = memo.read_bytes().partition(b"\n")
    assert name == b"demo-1.0-py3-none-any.whl"
    assert b"Name: demo" in kept
    unlike = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: other\n"
    memo.write_bytes(name + b"\n" + unlike)  # a damaged cache is caught, not believed
    proc = run("second")
    assert proc.returncode != 0
    assert "differs from the index's" in proc.stderr
    assert not (tmp_path / "second" / "demo").exists()
    memo.write_bytes(b"other-1.0-py3-none-any.whl\n" + unlike)  # kept for another name
    assert run("third").returncode == 0
    assert memo.read_bytes() == name + b"\n" + kept  # read from the wheel, kept again


def install_proc(built: Path, target: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return wn(
        "install", "demo", "--no-index", "--find-links", str(built), "--no-deps",
        "--target", str(target), "--cache-dir", str(cache),
    )  # fmt: skip


def test_concurrent_installs_into_two_environments_share_the_cache_safely(
    built: Path, tmp_path: Path
) -> None:
    files = {f"demo/m{i}.py": f"X = {i}\n".encode() for i in range(1500)}
    build_wheel(built, "demo", "1.0", files=files)
    for run in range(3):
        cache, envs = tmp_path / f"cache{run}", [tmp_path / f"a{run}", tmp_path / f"b{run}"]
        procs = []
        for env in envs:
            args = ["install", "demo", "--no-index", "--find-links", str(built), "--no-deps",
                    "--target", str(env), "--cache-dir", str(cache)]  # fmt: skip
            procs.append(
                subprocess.Popen(
                    [str(BIN / "wn"), *args],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
            assert "Traceback" not in err
        for env in envs:
            assert len(list((env / "demo").glob("m*.py"))) == 1500
            assert (env / "demo" / "m1499.py").read_bytes() == b"X = 1499\n"
        assert snapshot(envs[0]) == snapshot(envs[1])
        assert len([p for p in (cache / "unpacked").iterdir() if not p.name.startswith(".")]) == 1


def test_a_cached_file_others_can_write_is_not_used(wheel_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    install(wheel_dir, tmp_path / "first", cache)
    good = snapshot(tmp_path / "first")
    shared = cached_files(cache)["demo/sub/mod.py"]
    shared.chmod(0o666)  # world-writable: anyone could have changed it, size and mtime kept
    old = shared.stat().st_ino
    proc = install_proc(wheel_dir, tmp_path / "second", cache)
    assert proc.returncode == 0, proc.stderr
    assert "demo-1.0-py3-none-any.whl: cache entry changed since it was made" in proc.stderr
    assert proc.stderr.count("changed since it was made") == 1  # said once, not per look
    installed = tmp_path / "second" / "demo" / "sub" / "mod.py"
    assert installed.stat().st_ino != old  # the entry was built again: a new file
    assert installed.stat().st_ino == cached_files(cache)["demo/sub/mod.py"].stat().st_ino
    assert not installed.stat().st_mode & 0o002
    assert snapshot(tmp_path / "second") == good  # modes as first given, bytes as shipped


def test_a_symlinked_directory_inside_a_cache_entry_is_not_used(
    wheel_dir: Path, tmp_path: Path
) -> None:
    """The tree's numbered directories are checked as the tree is: one reached through a
    link (even to the very same files) makes the entry be built again."""
    cache = tmp_path / "cache"
    install(wheel_dir, tmp_path / "first", cache)
    group = entry(cache) / TREE / "0"
    elsewhere = tmp_path / "elsewhere"
    group.rename(elsewhere)
    group.symlink_to(elsewhere)
    proc = install_proc(wheel_dir, tmp_path / "second", cache)
    assert proc.returncode == 0, proc.stderr
    assert "cache entry changed since it was made" in proc.stderr
    assert not group.is_symlink()
    assert snapshot(tmp_path / "second") == snapshot(tmp_path / "first")


def test_a_symlinked_cache_entry_is_not_used(wheel_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    install(wheel_dir, tmp_path / "first", cache)
    where = entry(cache)
    elsewhere = tmp_path / "elsewhere"
    where.rename(elsewhere)  # whole and unchanged, but reached through a link
    where.symlink_to(elsewhere)
    install(wheel_dir, tmp_path / "second", cache)
    assert not where.is_symlink()
    assert snapshot(tmp_path / "second") == snapshot(tmp_path / "first")
    blob = tmp_path / "second" / "demo" / "blob.bin"
    assert blob.stat().st_ino == cached_files(cache)["demo/blob.bin"].stat().st_ino
    assert blob.stat().st_ino != (tmp_path / "first" / "demo" / "blob.bin").stat().st_ino


def test_an_entry_from_an_older_format_is_rebuilt_without_a_warning(
    wheel_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    install(wheel_dir, tmp_path / "first", cache)
    manifest = entry(cache) / MANIFEST
    doc = json.loads(manifest.read_bytes())
    doc["format"] = 1
    del doc["info"]
    manifest.write_text(json.dumps(doc))
    proc = install_proc(wheel_dir, tmp_path / "second", cache)
    assert proc.returncode == 0, proc.stderr
    assert "changed since" not in proc.stderr
    assert snapshot(tmp_path / "second") == snapshot(tmp_path / "first")
    assert json.loads(manifest.read_bytes())["format"] == FORMAT


def test_wheels_cached_side_by_side_among_stale_builds_all_reach_the_cache(
    built: Path, tmp_path: Path
) -> None:
    """Eight wheels unpacked into the cache by several threads, beside builds a killed wn
    left behind: every wheel gets its entry, the leftovers are swept, and no thread finds
    the cache "not usable" because another one's build moved under its sweep."""
    names = [f"part{i}" for i in range(8)]
    for name in names:
        build_wheel(built, name, "1.0", files={f"{name}/data{i}.py": b"x = 1\n" for i in range(40)})
    for attempt in range(3):
        cache = tmp_path / f"cache{attempt}"
        leftovers = [cache / "unpacked" / f".build-killed{i}" for i in range(20)]
        for leftover in leftovers:
            (leftover / TREE).mkdir(parents=True)
            os.utime(leftover, (0, 0))
        proc = wn(
            "install", *names, "--no-index", "--find-links", str(built),
            "--target", str(tmp_path / f"env{attempt}"), "--cache-dir", str(cache),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "not usable" not in proc.stderr
        assert not any(leftover.exists() for leftover in leftovers)
        entries = [p for p in (cache / "unpacked").iterdir() if not p.name.startswith(".")]
        assert len(entries) == len(names)


@pytest.mark.parametrize("mask", [0o002, 0o022, 0o077])
def test_entries_made_under_any_umask_are_used_again(
    wheel_dir: Path, tmp_path: Path, mask: int
) -> None:
    """Under a user's usual umask 002 the cache's directories are still not group-writable
    (the cache trusts no such directory), so a warm install links instead of rebuilding;
    an executable member gets every x bit on top of what the umask allows."""

    def install_under_umask(target: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "wn"), "install", "demo", "--no-index", "--find-links", str(wheel_dir),
             "--no-deps", "--target", str(target), "--cache-dir", str(tmp_path / "cache")],
            capture_output=True, text=True, check=False, timeout=300,
            preexec_fn=lambda: os.umask(mask),
        )  # fmt: skip

    first = install_under_umask(tmp_path / "first")
    assert first.returncode == 0, first.stderr
    second = install_under_umask(tmp_path / "second")
    assert second.returncode == 0, second.stderr
    assert "changed since it was made" not in second.stderr
    blob = tmp_path / "second" / "demo" / "blob.bin"
    assert blob.stat().st_ino == cached_files(tmp_path / "cache")["demo/blob.bin"].stat().st_ino
    assert blob.stat().st_mode & 0o777 == 0o777 & ~mask | 0o111  # shipped executable
    module = tmp_path / "second" / "demo" / "sub" / "mod.py"
    assert module.stat().st_mode & 0o777 == 0o666 & ~mask


def test_unpacking_never_changes_the_umask(
    wheel_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setting the process umask, even back at once, would race other threads' file
    creations (a file made meanwhile would be world-writable): it is never touched."""
    from wheelnext.installer.archive import inspect_archive
    from wheelnext.installer.staging import unpack

    def refuse(mask: int) -> int:
        raise AssertionError("os.umask called while unpacking")

    monkeypatch.setattr(os, "umask", refuse)
    (wheel,) = wheel_dir.glob("demo-*.whl")
    tree = unpack(wheel, inspect_archive(wheel), tmp_path / "tree")
    blob = tree.path(list(tree.files).index("demo/blob.bin"))
    assert blob.stat().st_mode & 0o111 == 0o111
