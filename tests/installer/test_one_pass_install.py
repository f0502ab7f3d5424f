"""Installing in one pass: each member decompressed, checked against RECORD and written
once into a staging directory inside the environment, then renamed into place.

The installed tree is what pip installs from the same wheel (the files a wheel ships,
byte for byte and mode for mode) and what the ``installer`` library's own ``install()``
writes (every file, RECORD and scripts included); a member that does not match RECORD is
refused with nothing left behind; the wheel given is never changed."""

from __future__ import annotations

import json
import re
import signal
import sys
import zipfile
from pathlib import Path

import pytest
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile
from packaging.version import Version

from installer import install as library_install
from tests.helpers import Tree, snapshot
from tests.installer.envs import client, make_venv, site, wn
from tests.installer.wheels import build_wheel
from tests.security.crashes import CRASH_AT, wn_env
from wheelnext.installer.archive import inspect_archive
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.journal import JOURNAL, STAGING, JournalError, recover
from wheelnext.installer.staging import PER_DIR, unpack
from wheelnext.installer.target import Target
from wheelnext.installer.transaction import check_plan, install_all, transaction

# files wn and pip write differently by design: who installed it, how it was requested,
# the variant record, and RECORD itself (which lists them)
PER_INSTALLER = {"INSTALLER", "RECORD", "REQUESTED", "direct_url.json", "WHEELNEXT_VARIANT.json"}


def rich_wheel(directory: Path, version: str = "1.0") -> Path:
    """A wheel using every part of the layout: packages, binary data, an executable, an
    entry point, and ``.data`` scripts (``#!python``), data and headers."""
    wheel = build_wheel(
        directory,
        "demo",
        version,
        files={
            "demo/blob.bin": bytes(range(256)) * 4096,  # 1 MiB: more than one chunk
            "demo/sub/mod.py": f"X = {version!r}\n".encode(),
            "demo/empty.txt": b"",
            f"demo-{version}.data/scripts/tool": b"#!python\nprint('tool')\n",
            f"demo-{version}.data/scripts/plain.sh": b"#!/bin/sh\necho plain\n",
            f"demo-{version}.data/data/share/demo/readme.txt": b"readme\n",
            f"demo-{version}.data/headers/demo.h": b"int demo;\n",
        },
        scripts={"demo-cli": "demo:main"},
    )
    # executable bits, as real wheels carry them in the central directory
    rebuilt = directory / "rebuilt.whl"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            executable = info.filename.endswith(("/tool", "/plain.sh", "blob.bin"))
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            out.writestr(info, data)
    rebuilt.replace(wheel)
    return wheel


def tampered(wheel: Path, member: str, data: bytes) -> Path:
    """A copy of ``wheel`` whose ``member`` holds ``data`` (RECORD left as it was)."""
    out = wheel.with_name("tampered") / wheel.name
    out.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, data if info.filename == member else src.read(info))
    return out


def target_at(root: Path) -> Target:
    """A --target style environment at ``root`` with this interpreter's facts."""
    scheme = {
        "purelib": str(root / "lib"),
        "platlib": str(root / "lib"),
        "headers": str(root / "include"),
        "scripts": str(root / "bin"),
        "data": str(root),
    }
    return Target(sys.executable, scheme, (), {}, str(root))


class _Plan:
    """The two fields of a ``Chosen`` that installing a local wheel looks at."""

    def __init__(self, wheel: Path) -> None:
        name, version = wheel.name.split("-")[:2]
        self.filename = wheel.name
        self.name = name
        self.version = Version(version)
        self.variant_metadata = None


def wn_install(wheel: Path, root: Path, cache: Path | None = None) -> None:
    plan = [_Plan(wheel)]
    install_all(plan, {wheel.name: wheel}, target_at(root), cache=cache)  # type: ignore[arg-type]


def without_per_installer(tree: Tree, home: Path) -> Tree:
    """``tree`` without the per-installer dist-info files and with ``home`` (the
    environment's path, in shebangs) written as ``HOME``."""
    out: Tree = {}
    for key, (mode, content) in tree.items():
        if Path(key).name in PER_INSTALLER:
            continue
        if isinstance(content, bytes):
            out[key] = (mode, content.replace(str(home).encode(), b"HOME"))
        else:
            out[key] = (mode, content)
    return out


def test_installed_files_are_what_pip_installs(built: Path, tmp_path: Path) -> None:
    wheel = rich_wheel(built)
    by_pip, by_wn = make_venv(tmp_path / "pip" / "env"), make_venv(tmp_path / "wn" / "env")
    proc = client("pip", by_pip, "install", "--no-deps", "--no-compile", str(wheel))
    assert proc.returncode == 0, proc.stderr
    proc = wn(
        "install", "demo", "--no-index", "--find-links", str(built),
        "--python", str(by_wn / "bin" / "python"), "--no-cache", "--no-deps",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    pip_tree = without_per_installer(snapshot(by_pip, ignore="__pycache__"), by_pip)
    wn_tree = without_per_installer(snapshot(by_wn, ignore="__pycache__"), by_wn)
    # the entry-point launcher is each installer's own template: same place and mode
    assert pip_tree.pop("bin/demo-cli")[0] == wn_tree.pop("bin/demo-cli")[0]
    assert wn_tree == pip_tree
    assert wn_tree["bin/tool"][1] == b"#!HOME/bin/python\nprint('tool')\n"
    assert wn_tree["bin/tool"][0] & 0o111
    assert not list(site(by_wn).glob(".wn-*"))


@pytest.mark.parametrize("cached", [False, True], ids=["staging", "cache"])
def test_tree_equals_the_installer_librarys_byte_for_byte(
    built: Path, tmp_path: Path, cached: bool
) -> None:
    wheel = rich_wheel(built)
    reference = tmp_path / "reference"
    target = target_at(reference)
    with WheelFile.open(wheel) as source:
        destination = SchemeDictionaryDestination(
            {**target.scheme, "headers": str(reference / "include" / "demo")},
            interpreter=sys.executable,
            script_kind="posix",
        )
        library_install(source, destination, {"INSTALLER": b"wheelnext\n"})
    ours = tmp_path / "ours"
    wn_install(wheel, ours, tmp_path / "cache" if cached else None)
    assert snapshot(ours) == snapshot(reference)


def test_a_member_unlike_its_record_is_refused_and_nothing_is_left(
    built: Path, tmp_path: Path
) -> None:
    root = tmp_path / "env"
    wn_install(build_wheel(built / "old", "demo", "0.9"), root)
    before = snapshot(root)
    bad = tampered(rich_wheel(built), "demo/sub/mod.py", b"X = 'evil'\n")
    cache = tmp_path / "cache"
    plan = [_Plan(bad)]
    check_plan(plan, {bad.name: bad}, target_at(root), contents=False)  # type: ignore[arg-type]
    with pytest.raises(InstallerError, match=r"demo/sub/mod\.py' does not match its RECORD"):
        install_all(plan, {bad.name: bad}, target_at(root), cache=cache)  # type: ignore[arg-type]
    assert snapshot(root) == before  # the old version, untouched; no staging, no journal
    # no entry: only the build (removed) and the per-entry lock files
    assert not [p for p in cache.iterdir() if not p.name.startswith((".build-", ".locks"))]
    assert not list(cache.glob(".build-*/MANIFEST"))


def test_a_failed_first_install_leaves_no_target_directory(built: Path, tmp_path: Path) -> None:
    """``--target`` directories made for the install are removed again when it fails:
    the refusal says nothing was changed, and nothing was."""
    wheel = rich_wheel(built)
    tampered(wheel, "demo/sub/mod.py", b"X = 'evil'\n").replace(wheel)
    target = tmp_path / "new" / "deeper" / "env"
    proc = wn(
        "install", "demo", "--no-index", "--find-links", str(built), "--target", str(target),
        "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert proc.returncode == 1
    assert "does not match its RECORD hash or size" in proc.stderr
    assert not (tmp_path / "new").exists()


def test_a_truncated_member_is_refused(built: Path, tmp_path: Path) -> None:
    wheel = rich_wheel(built)
    bad = tampered(wheel, "demo/blob.bin", (bytes(range(256)) * 4096)[:-1])
    with pytest.raises(InstallerError, match="does not match its RECORD hash or size"):
        wn_install(bad, tmp_path / "env")
    assert not (tmp_path / "env" / "lib" / "demo").exists()


def test_the_wheel_given_is_only_read(built: Path, tmp_path: Path) -> None:
    wheel = rich_wheel(built)
    wheel.chmod(0o444)
    before = (wheel.read_bytes(), wheel.stat().st_mtime_ns, wheel.stat().st_ino)
    wn_install(wheel, tmp_path / "a")
    wn_install(wheel, tmp_path / "b", tmp_path / "cache")
    wn_install(wheel, tmp_path / "c", tmp_path / "cache")
    assert (wheel.read_bytes(), wheel.stat().st_mtime_ns, wheel.stat().st_ino) == before
    assert wheel.stat().st_mode & 0o777 == 0o444
    assert sorted(p.name for p in built.iterdir()) == [wheel.name]


def test_staging_is_inside_the_environment_and_gone_after(built: Path, tmp_path: Path) -> None:
    """Staged files are renamed, so the staging directory is on the environment's file
    system; once installed, nothing of it is left."""
    root = tmp_path / "env"
    seen: list[int] = []
    wheel = rich_wheel(built)
    plan = [_Plan(wheel)]

    def look(_: object) -> None:
        seen.append(len(list((root / "lib" / STAGING).rglob("*"))))

    install_all(plan, {wheel.name: wheel}, target_at(root), on_install=look)  # type: ignore[arg-type]
    assert seen[0] > 0  # the staged tree, still there until the commit
    assert not (root / "lib" / STAGING).exists()
    with transaction(target_at(root)):
        pass  # a later transaction finds nothing to repair


def test_a_kill_after_staging_is_repaired_by_the_next_run(built: Path, tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv")
    rich_wheel(built)
    args = [
        "--no-index", "--find-links", str(built), "--python", str(venv / "bin" / "python"),
        "--no-cache", "--no-deps",
    ]  # fmt: skip
    before = snapshot(venv)
    killed = wn_env("install", "demo", *args, **{CRASH_AT: "staged"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (site(venv) / STAGING).is_dir()  # unpacked, verified, not yet in place
    proc = wn_env("install", "--dry-run", "demo", *args)
    assert proc.returncode == 0, proc.stderr
    assert "rolled back an interrupted install" in proc.stderr
    assert snapshot(venv) == before


@pytest.mark.parametrize("bad", [None, "first", "last"], ids=["good", "first-bad", "last-bad"])
def test_members_unpacked_by_several_threads_are_all_checked(
    built: Path, tmp_path: Path, bad: str | None
) -> None:
    """A wheel of several directories' worth of members (``PER_DIR`` each, one thread per
    directory, the largest first) is checked member by member all the same: a tampered
    member in any directory is refused by name, and a good wheel's members all land
    where ``Unpacked.path`` says, with their bytes."""
    files = {f"many/m{i:04}.py": f"N = {i}\n".encode() for i in range(PER_DIR * 3 + 5)}
    files["many/big.bin"] = bytes(range(256)) * 8192  # 2 MiB: the costliest directory
    wheel = build_wheel(built, "many", "1.0", files=files)
    names = sorted(files)
    victim = {"first": names[0], "last": names[-1]}.get(bad or "")
    if victim is not None:
        wheel = tampered(wheel, victim, b"tampered = True\n")
    info = inspect_archive(wheel)
    if victim is not None:
        with pytest.raises(InstallerError, match=f"'{re.escape(victim)}' does not match"):
            unpack(wheel, info, tmp_path / "tree", workers=3)
        return
    tree = unpack(wheel, info, tmp_path / "tree", workers=3)
    members = list(tree.files)
    assert sorted(p.name for p in (tmp_path / "tree").iterdir()) == ["0", "1", "2", "3"]
    for name, data in files.items():
        assert tree.path(members.index(name)).read_bytes() == data


def test_a_batch_create_record_is_replayed_children_first(tmp_path: Path) -> None:
    """One ``create`` record may list a wheel's directories and files; a kill after some of
    them were made leaves those removed by the repair, the others simply absent."""
    target = target_at(tmp_path / "env")
    lib = tmp_path / "env" / "lib"
    (lib / "pkg" / "sub").mkdir(parents=True)
    (lib / "pkg" / "a.py").write_bytes(b"a")
    (lib / "keep.py").write_bytes(b"not ours")
    paths = [lib / "pkg", lib / "pkg" / "sub", lib / "pkg" / "a.py", lib / "pkg" / "sub" / "b.py"]
    record = json.dumps(["create", *map(str, paths)])
    (lib / JOURNAL).write_text(f'["begin", "1"]\n{record}\n')
    message = recover(target)
    assert message is not None
    assert "rolled back an interrupted install" in message
    assert "4 new paths removed" in message
    assert sorted(p.name for p in lib.iterdir()) == ["keep.py"]


def test_a_batch_create_record_naming_an_outside_path_is_refused(tmp_path: Path) -> None:
    target = target_at(tmp_path / "env")
    lib = tmp_path / "env" / "lib"
    lib.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    record = json.dumps(["create", str(lib / "ok.py"), str(victim)])
    (lib / JOURNAL).write_text(f'["begin", "1"]\n{record}\n')
    with pytest.raises(JournalError, match="names a path outside the environment"):
        recover(target)
    assert victim.read_bytes() == b"precious"
