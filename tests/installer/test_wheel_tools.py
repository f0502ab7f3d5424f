"""``wn wheel recompress`` (zstd members) and ``wn wheel dedupe`` (PEP 778 links): the
rewritten wheels, how real pip and uv treat them, and installing them with ``wn``."""

from __future__ import annotations

import os
import stat
import sys
import zipfile
from pathlib import Path

import pytest

from tests.installer.envs import client, install_from, make_venv, site, wn
from tests.installer.wheels import build_wheel
from wheelnext.installer.archive import ZSTANDARD, check_archive, open_zip
from wheelnext.installer.finder import Chosen

LIB = b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 2048  # 512 KiB
LIBS = {
    "pkg/lib/libfoo.so": LIB,
    "pkg/lib/libfoo.so.1": LIB,
    "pkg/lib/libfoo.so.1.2.3": LIB,
    "pkg/lib/libbar.so.2": LIB + b"bar 2",  # one library, different contents: both kept
    "pkg/lib/libbar.so": LIB + b"bar dev",
    "pkg/other.so": LIB,  # not a version of libfoo: kept as a file
}


def members(wheel: Path) -> dict[str, bytes]:
    with open_zip(wheel) as archive:
        return {i.filename: archive.read(i) for i in archive.infolist()}


@pytest.fixture
def libwheel(tmp_path: Path) -> Path:
    return build_wheel(tmp_path / "dist", "pkg", "1.0", files=LIBS)


# ---------------------------------------------------------------- zstd


def test_recompress_to_zstd_and_back(tmp_path: Path, libwheel: Path) -> None:
    before = members(libwheel)
    out = tmp_path / "z"
    proc = wn("wheel", "recompress", str(libwheel), "--zstd", "--level", "19", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    zwheel = out / libwheel.name
    plain_file = out / "touched"
    plain_file.touch()  # the rewritten wheel gets the mode any new file gets, not 0600
    assert stat.S_IMODE(zwheel.stat().st_mode) == stat.S_IMODE(plain_file.stat().st_mode)
    with open_zip(zwheel) as archive:
        assert {i.compress_type for i in archive.infolist()} == {ZSTANDARD}
    assert members(zwheel) == before  # same bytes, same RECORD
    assert zwheel.stat().st_size < libwheel.stat().st_size
    assert ZSTANDARD in check_archive(zwheel).methods
    back = tmp_path / "d"
    assert wn("wheel", "recompress", str(zwheel), "--deflate", "-o", str(back)).returncode == 0
    with zipfile.ZipFile(back / libwheel.name) as archive:  # the stdlib reads it again
        assert {i.filename: archive.read(i) for i in archive.infolist()} == before
    bad = wn("wheel", "recompress", str(libwheel), "--zstd", "--level", "99")
    assert bad.returncode == 1
    assert "--level 99 is not a zstd level" in bad.stderr


def test_zstd_wheel_installs_with_wn(tmp_path: Path, libwheel: Path) -> None:
    out = tmp_path / "z"
    assert wn("wheel", "recompress", str(libwheel), "--zstd", "-o", str(out)).returncode == 0
    venv = make_venv(tmp_path / "venv")
    proc = install_from(venv, out, "pkg")
    assert proc.returncode == 0, proc.stderr
    assert (site(venv) / "pkg" / "lib" / "libfoo.so.1.2.3").read_bytes() == LIB


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="3.14's zipfile reads zstd")
def test_pip_before_3_14_cannot_read_zstd_members(tmp_path: Path, libwheel: Path) -> None:
    """Why recompressed wheels are not for the public index yet (spec/wheel-tools.md)."""
    out = tmp_path / "z"
    assert wn("wheel", "recompress", str(libwheel), "--zstd", "-o", str(out)).returncode == 0
    venv = make_venv(tmp_path / "venv")
    proc = client("pip", venv, "install", "--no-index", str(out / libwheel.name))
    assert proc.returncode != 0
    assert "compression method is not supported" in proc.stdout + proc.stderr


# ---------------------------------------------------------------- links


def test_dedupe_writes_links_and_wheel_version_2(tmp_path: Path, libwheel: Path) -> None:
    out = tmp_path / "d"
    proc = wn("wheel", "dedupe", str(libwheel), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"2 links, {2 * len(LIB)} bytes no longer stored" in proc.stdout
    deduped = members(out / libwheel.name)
    assert "pkg/lib/libfoo.so" not in deduped
    assert "pkg/lib/libfoo.so.1" not in deduped
    assert deduped["pkg/lib/libfoo.so.1.2.3"] == LIB
    assert deduped["pkg/other.so"] == LIB
    assert "pkg/lib/libbar.so" in deduped
    assert deduped["pkg-1.0.dist-info/LINKS"].decode() == (
        "pkg/lib/libfoo.so,pkg/lib/libfoo.so.1\npkg/lib/libfoo.so.1,pkg/lib/libfoo.so.1.2.3\n"
    )
    assert deduped["pkg-1.0.dist-info/WHEEL"].startswith(b"Wheel-Version: 2.0\n")
    assert b"\nWheel-Version: 2.0\n" in deduped["pkg-1.0.dist-info/METADATA"]
    info = check_archive(out / libwheel.name)
    assert info.wheel_version == (2, 0)
    assert len(info.links) == 2
    assert (out / libwheel.name).stat().st_size < libwheel.stat().st_size
    again = wn("wheel", "dedupe", str(out / libwheel.name))
    assert again.returncode == 1
    assert "already has pkg-1.0.dist-info/LINKS" in again.stderr
    plain = build_wheel(tmp_path / "plain", "plain", "1.0")
    original = plain.read_bytes()
    nothing = wn("wheel", "dedupe", str(plain))
    assert "no duplicate shared libraries; unchanged" in nothing.stdout
    assert plain.read_bytes() == original


def deduped(tmp_path: Path, libwheel: Path) -> Path:
    """``libwheel`` after ``wn wheel dedupe``, in its own directory (a find-links dir)."""
    assert wn("wheel", "dedupe", str(libwheel), "-o", str(tmp_path / "d")).returncode == 0
    return tmp_path / "d" / libwheel.name


def test_old_installers_refuse_linked_wheels(tmp_path: Path, libwheel: Path) -> None:
    """Wheel-Version 2.0 makes pip and uv stop instead of installing without the links."""
    wheel = str(deduped(tmp_path, libwheel))
    venv = make_venv(tmp_path / "venv")
    pip = client("pip", venv, "install", "--no-index", wheel)
    assert pip.returncode != 0
    assert "Wheel-Version (2.0) is not compatible" in pip.stderr
    uv = client("uv", venv, "install", "--no-index", wheel)
    assert uv.returncode != 0
    assert "Unsupported wheel major version" in uv.stderr
    assert not list(site(venv).glob("pkg*"))


def test_wn_installs_relative_links_and_records_them(tmp_path: Path, libwheel: Path) -> None:
    wheel = deduped(tmp_path, libwheel)
    venv = make_venv(tmp_path / "venv")
    proc = install_from(venv, wheel.parent, "pkg")
    assert proc.returncode == 0, proc.stderr
    assert f"Created 2 links, saving {2 * len(LIB)} bytes" in proc.stdout
    lib = site(venv) / "pkg" / "lib"
    assert str((lib / "libfoo.so").readlink()) == "libfoo.so.1"  # relative, in the package
    assert str((lib / "libfoo.so.1").readlink()) == "libfoo.so.1.2.3"
    assert (lib / "libfoo.so").read_bytes() == LIB
    record = (site(venv) / "pkg-1.0.dist-info" / "RECORD").read_text()
    assert "pkg/lib/libfoo.so,,\n" in record
    assert "pkg/lib/libfoo.so.1,,\n" in record
    # an upgrade moves the old links themselves aside, never their targets' contents
    build_wheel(wheel.parent, "pkg", "2.0", files={"pkg/lib/libfoo.so.2": LIB})
    up = install_from(venv, wheel.parent, "pkg==2.0")
    assert up.returncode == 0, up.stderr
    assert sorted(p.name for p in lib.iterdir()) == ["libfoo.so.2"]


def test_deduped_install_reads_like_the_original(tmp_path: Path, libwheel: Path) -> None:
    """Every path of the original wheel reads the same bytes after a deduped install."""
    original = make_venv(tmp_path / "original")
    assert install_from(original, libwheel.parent, "pkg").returncode == 0
    linked = make_venv(tmp_path / "linked")
    assert install_from(linked, deduped(tmp_path, libwheel).parent, "pkg").returncode == 0
    package = site(original) / "pkg"
    for path in sorted(p for p in package.rglob("*") if p.is_file()):
        twin = site(linked) / "pkg" / path.relative_to(package)
        assert twin.read_bytes() == path.read_bytes(), twin
    on_disk = sum(
        p.stat().st_size
        for p in (site(linked) / "pkg").rglob("*")
        if p.is_file() and not p.is_symlink()
    )
    assert on_disk == sum(p.stat().st_size for p in package.rglob("*") if p.is_file()) - 2 * len(
        LIB
    )


def test_pip_uninstall_removes_links_not_targets(tmp_path: Path, libwheel: Path) -> None:
    venv = make_venv(tmp_path / "venv")
    assert install_from(venv, deduped(tmp_path, libwheel).parent, "pkg").returncode == 0
    outside = tmp_path / "kept.so"
    outside.write_bytes(LIB)
    pip = client("pip", venv, "uninstall", "-y", "pkg")
    assert pip.returncode == 0, pip.stderr
    assert not (site(venv) / "pkg").exists()
    assert not list(site(venv).glob("pkg-*"))
    assert outside.read_bytes() == LIB


def test_without_symlinks_error_or_copy(
    tmp_path: Path, libwheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filesystem that refuses symlinks (simulated: os.symlink fails with EPERM, as on
    FAT or Windows without the privilege): an error by default, copies when asked."""
    from wheelnext.installer.errors import InstallerError
    from wheelnext.installer.target import probe
    from wheelnext.installer.transaction import install_all

    wheel = deduped(tmp_path, libwheel)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "symlink", refuse)
    chosen = _chosen(wheel)
    target = probe(None, tmp_path / "t1")
    with pytest.raises(InstallerError, match=r"cannot create symlink .* use --link-fallback=copy"):
        install_all([chosen], {wheel.name: wheel}, target)
    assert not [p for p in (tmp_path / "t1").rglob("*") if p.is_file()]
    target = probe(None, tmp_path / "t2")
    outcome = install_all([chosen], {wheel.name: wheel}, target, link_fallback="copy")
    assert (outcome.links.links, outcome.links.copies) == (0, 2)
    lib = tmp_path / "t2" / "pkg" / "lib"
    assert not (lib / "libfoo.so").is_symlink()
    assert (lib / "libfoo.so").read_bytes() == LIB


def _chosen(wheel: Path) -> Chosen:
    from packaging.version import Version

    from wheelnext.core.filenames import WheelFilename
    from wheelnext.core.markers import VariantEnvironment
    from wheelnext.installer.indexes import Index, Located
    from wheelnext.installer.simple_api import FileEntry

    located = Located(FileEntry(wheel.name, wheel.as_uri()), Index("local", str(wheel.parent)), "g")
    return Chosen(
        "pkg", Version("1.0"), located, WheelFilename.parse(wheel.name), "", VariantEnvironment()
    )
