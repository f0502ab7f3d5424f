"""Wheels unpacked into the cache while the rest of a plan downloads (``prestage``): the
entries are whole and the install links them; a bad wheel leaves nothing for the install
to trust and is reported by the install, as without prestaging; stopping leaves no
half-built tree."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from tests.installer.envs import wn
from tests.installer.test_one_pass_install import rich_wheel, tampered
from tests.installer.wheels import build_wheel
from wheelnext.installer.archive import inspect_archive
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.file_identity import identity
from wheelnext.installer.prestage import Prestager
from wheelnext.installer.staging import PER_DIR, Stopped, expected_members
from wheelnext.installer.unpacked_cache import MANIFEST, UnpackedCache, wheel_sha256


def entries(cache: Path) -> list[str]:
    """The cache's entries (by sha256); temporary builds and locks start with a dot."""
    found = cache.iterdir() if cache.exists() else ()
    return sorted(p.name for p in found if not p.name.startswith("."))


def leftovers(cache: Path) -> list[str]:
    """Temporary builds left in the cache."""
    found = cache.iterdir() if cache.exists() else ()
    return sorted(p.name for p in found if p.name.startswith(".build-"))


def many_member_wheels(built: Path, count: int, members: int) -> list[Path]:
    """``count`` wheels ``big0``... of ``members`` small modules each (slow to unpack)."""
    modules = [f"m{j}.py" for j in range(members)]
    return [
        build_wheel(built, f"big{i}", "1.0", files={f"big{i}/{m}": b"N\n" for m in modules})
        for i in range(count)
    ]


def test_wheels_added_are_whole_cache_entries_after_finish(built: Path, tmp_path: Path) -> None:
    wheels = [
        build_wheel(built, f"part{i}", "1.0", files={f"part{i}/m{j}.py": b"x\n" for j in range(9)})
        for i in range(5)
    ]
    cache = tmp_path / "cache"
    with Prestager(cache) as prestage:
        for wheel in wheels:
            prestage.add(wheel)
    assert entries(cache) == sorted(wheel_sha256(w) for w in wheels)
    assert leftovers(cache) == []
    again = UnpackedCache(cache)  # a later run finds them whole: nothing is built again
    for wheel in wheels:
        info = inspect_archive(wheel)
        assert (cache / wheel_sha256(wheel) / MANIFEST).is_file()
        assert again.info(wheel) == info
        tree = again.get(wheel, info, expected_members(info))
        assert tree is not None
        assert tree.cached


def test_a_tampered_wheel_gets_no_entry_and_the_install_reports_it(
    built: Path, tmp_path: Path
) -> None:
    """Prestaging says nothing about a bad wheel; the install meets it again and reports
    it as it always did (one line, exit 1, nothing installed), and the cache holds
    only the good wheel."""
    good = build_wheel(built, "good", "1.0", files={"good/__init__.py": b"x = 1\n"})
    wheel = rich_wheel(built)
    bad = tampered(wheel, "demo/sub/mod.py", b"X = 'evil'\n")
    wheel.unlink()
    bad.replace(wheel)
    cache = tmp_path / "cache"
    proc = wn(
        "install", "demo", "good", "--no-index", "--find-links", str(built),
        "--target", str(tmp_path / "env"), "--cache-dir", str(cache),
    )  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        "wn install: error: demo-1.0-py3-none-any.whl: member 'demo/sub/mod.py' does not "
        "match its RECORD hash or size"
    ]
    assert not (tmp_path / "env").exists() or not any((tmp_path / "env").iterdir())
    assert entries(cache / "unpacked") == [wheel_sha256(good)]
    assert leftovers(cache / "unpacked") == []


def test_a_cache_that_cannot_be_written_is_said_once(built: Path, tmp_path: Path) -> None:
    for i in range(3):
        build_wheel(built, f"part{i}", "1.0", files={f"part{i}/a.py": b"x = 1\n"})
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "unpacked").write_bytes(b"not a directory")
    proc = wn(
        "install", "part0", "part1", "part2", "--no-index", "--find-links", str(built),
        "--target", str(tmp_path / "env"), "--cache-dir", str(cache),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, proc.stderr
    assert f"{cache / 'unpacked'}: cache not usable" in warnings[0]
    assert sorted(p.name for p in (tmp_path / "env").iterdir() if p.is_dir()) == [
        "part0",
        "part0-1.0.dist-info",
        "part1",
        "part1-1.0.dist-info",
        "part2",
        "part2-1.0.dist-info",
    ]


def test_a_stopped_build_leaves_neither_entry_nor_temporary_tree(
    built: Path, tmp_path: Path
) -> None:
    files = {f"many/m{i:04}.py": b"N = 1\n" for i in range(PER_DIR * 2)}
    wheel = build_wheel(built, "many", "1.0", files=files)
    info = inspect_archive(wheel)
    cache = UnpackedCache(tmp_path / "cache")
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        cache.get(wheel, info, expected_members(info), stop=stop)
    assert entries(tmp_path / "cache") == []
    assert leftovers(tmp_path / "cache") == []


def test_cancel_waits_for_running_builds_and_drops_queued_ones(built: Path, tmp_path: Path) -> None:
    """Whatever point each wheel had reached, after ``cancel`` every entry is whole (it
    was finished before the stop) or absent, and no temporary tree is left."""
    wheels = many_member_wheels(built, count=8, members=600)
    cache = tmp_path / "cache"
    prestage = Prestager(cache, workers=2)
    for wheel in wheels:
        prestage.add(wheel)
    prestage.cancel()
    prestage.add(wheels[0])  # after cancel: ignored
    assert leftovers(cache) == []
    for entry in entries(cache):
        assert (cache / entry / MANIFEST).is_file()
    assert len(entries(cache)) < len(wheels)  # the queued ones never began


def test_the_largest_queued_wheel_is_begun_next(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Downloads end smallest first; the large wheels that arrive last are unpacked
    before the small ones queued earlier, not after them."""
    sizes = [3, 40, 1, 200, 12]  # modules per wheel: the archive grows with them
    wheels = [
        build_wheel(built, f"w{n}", "1.0", files={f"w{n}/m{j}.py": b"N\n" * j for j in range(n)})
        for n in sizes
    ]
    begun: list[str] = []
    first, hold = threading.Event(), threading.Event()

    def get(self: UnpackedCache, wheel: Path, *args: object) -> None:
        begun.append(wheel.name.partition("-")[0])
        first.set()
        hold.wait(10)  # the first one waits until every wheel is queued

    monkeypatch.setattr(UnpackedCache, "get", get)
    with Prestager(tmp_path / "cache", workers=1) as prestage:
        prestage.add(wheels[0])
        assert first.wait(10)
        for wheel in wheels[1:]:
            prestage.add(wheel)
        hold.set()
    assert begun == ["w3", "w200", "w40", "w12", "w1"]  # the first, then largest first


@pytest.mark.parametrize("force", [False, True], ids=["kept", "forced"])
def test_a_wheel_installed_at_its_version_is_not_unpacked_unless_forced(
    built: Path, tmp_path: Path, force: bool
) -> None:
    """Nothing is unpacked for a project the environment already has at the chosen
    version (it is kept); ``--force-reinstall`` reinstalls it, from the cache."""
    wheel = build_wheel(built, "same", "1.0", files={"same/__init__.py": b"x = 1\n"})
    args = ["install", "same", "--no-index", "--find-links", str(built)]
    args += ["--target", str(tmp_path / "env")]
    first = wn(*args, "--cache-dir", str(tmp_path / "first"))
    assert first.returncode == 0, first.stderr
    again = wn(*args, "--cache-dir", str(tmp_path / "second"), *["--force-reinstall"] * force)
    assert again.returncode == 0, again.stderr
    unpacked = tmp_path / "second" / "unpacked"
    assert entries(unpacked) == ([wheel_sha256(wheel)] if force else [])
    assert ("Installed same 1.0" in again.stdout) is force


def test_an_interrupt_while_waiting_stops_every_build(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the install waits for the last wheels to unpack: the queued ones never
    begin, the running ones stop, and no thread is left to go on unpacking while the
    process exits."""
    import wheelnext.installer.prestage as prestage_module

    wheels = many_member_wheels(built, count=6, members=400)
    cache = tmp_path / "cache"
    prestage = Prestager(cache, workers=1)
    for wheel in wheels:
        prestage.add(wheel)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(prestage_module, "wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prestage.finish()
    assert [t for t in threading.enumerate() if t.name.startswith("wn-prestage")] == []
    assert leftovers(cache) == []
    assert len(entries(cache)) < len(wheels)


def test_a_cache_key_names_the_bytes_unpacked_under_it(built: Path, tmp_path: Path) -> None:
    """A wheel file replaced at the same path after its key was hashed (say while it
    was being unpacked in the background): unpacking under the old key is refused, and
    the new bytes get their own key, so no entry holds other bytes than its name says."""
    first = build_wheel(built / "a", "same", "1.0", files={"same/x.py": b"WHO = 'first'\n"})
    other = build_wheel(built / "b", "same", "1.0", files={"same/x.py": b"WHO = 'other'\n"})
    wheel = tmp_path / "links" / first.name
    wheel.parent.mkdir()
    shutil.copyfile(first, wheel)
    cache = UnpackedCache(tmp_path / "cache")
    before = identity(wheel)
    assert cache.info(wheel, before) is None  # no entry yet; its key is hashed
    shutil.copyfile(other, tmp_path / "swap")
    (tmp_path / "swap").replace(wheel)
    info = inspect_archive(wheel)
    with pytest.raises(InstallerError, match=r"same-1\.0-py3-none-any\.whl: changed while being"):
        cache.get(wheel, info, expected_members(info), before)
    tree = cache.get(wheel, info, expected_members(info), identity(wheel))
    assert tree is not None
    assert entries(tmp_path / "cache") == [wheel_sha256(other)]
    assert tree.path(list(tree.files).index("same/x.py")).read_bytes() == b"WHO = 'other'\n"


def test_a_local_wheel_without_hashes_is_installed_as_it_was_taken(
    built: Path, tmp_path: Path
) -> None:
    """A ``--find-links`` file is remembered as it was when taken, hash or not: replaced
    before it is unpacked, it is refused, not installed in its new form."""
    from wheelnext.installer.http import VERIFIED, HttpClient

    wheel = build_wheel(built, "same", "1.0", files={"same/x.py": b"x = 1\n"})
    got = HttpClient(None).download(wheel.as_uri(), None, tmp_path / "unused", in_place=True)
    assert got == wheel
    assert VERIFIED[wheel] == identity(wheel)
