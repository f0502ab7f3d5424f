"""``wn wheel recompress`` (zstd members) and ``wn wheel dedupe`` (PEP 778 links): the
rewritten wheels, how real pip and uv treat them, and installing them with ``wn``."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import BIN
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


def wn(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "wn"), *args], capture_output=True, text=True, timeout=300, check=False
    )


def fresh_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


def site(venv: Path) -> Path:
    return next(venv.glob("lib/python*/site-packages"))


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
    venv = fresh_venv(tmp_path / "venv")
    proc = wn(
        "install",
        "pkg",
        "--no-index",
        "--find-links",
        str(out),
        "--python",
        str(venv / "bin" / "python"),
        "--no-cache",
    )
    assert proc.returncode == 0, proc.stderr
    assert (site(venv) / "pkg" / "lib" / "libfoo.so.1.2.3").read_bytes() == LIB


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="3.14's zipfile reads zstd")
def test_pip_before_3_14_cannot_read_zstd_members(tmp_path: Path, libwheel: Path) -> None:
    """Why recompressed wheels are not for the public index yet (spec/wheel-tools.md)."""
    out = tmp_path / "z"
    assert wn("wheel", "recompress", str(libwheel), "--zstd", "-o", str(out)).returncode == 0
    venv = fresh_venv(tmp_path / "venv")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-index",
            str(out / libwheel.name),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
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


def test_old_installers_refuse_linked_wheels(tmp_path: Path, libwheel: Path) -> None:
    """Wheel-Version 2.0 makes pip and uv stop instead of installing without the links."""
    assert wn("wheel", "dedupe", str(libwheel), "-o", str(tmp_path / "d")).returncode == 0
    wheel = str(tmp_path / "d" / libwheel.name)
    venv = fresh_venv(tmp_path / "venv")
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-index",
            wheel,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    assert pip.returncode != 0
    assert "Wheel-Version (2.0) is not compatible" in pip.stderr
    uv = subprocess.run(
        [
            str(BIN / "uv"),
            "pip",
            "install",
            "--python",
            str(venv / "bin" / "python"),
            "--no-index",
            "--no-cache",
            wheel,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert uv.returncode != 0
    assert "Unsupported wheel major version" in uv.stderr
    assert not list(site(venv).glob("pkg*"))


def test_wn_installs_links_and_uninstall_keeps_targets(tmp_path: Path, libwheel: Path) -> None:
    assert wn("wheel", "dedupe", str(libwheel), "-o", str(tmp_path / "d")).returncode == 0
    venv = fresh_venv(tmp_path / "venv")
    proc = wn(
        "install",
        "pkg",
        "--no-index",
        "--find-links",
        str(tmp_path / "d"),
        "--python",
        str(venv / "bin" / "python"),
        "--no-cache",
    )
    assert proc.returncode == 0, proc.stderr
    assert f"Created 2 links, saving {2 * len(LIB)} bytes" in proc.stdout
    lib = site(venv) / "pkg" / "lib"
    assert str((lib / "libfoo.so").readlink()) == "libfoo.so.1"  # relative, inside the package
    assert str((lib / "libfoo.so.1").readlink()) == "libfoo.so.1.2.3"
    assert (lib / "libfoo.so").read_bytes() == LIB
    record = (site(venv) / "pkg-1.0.dist-info" / "RECORD").read_text()
    assert "pkg/lib/libfoo.so,,\n" in record
    assert "pkg/lib/libfoo.so.1,,\n" in record
    # upgrading moves the old links themselves aside, never their targets' contents
    build_wheel(tmp_path / "d", "pkg", "2.0", files={"pkg/lib/libfoo.so.2": LIB})
    up = wn(
        "install",
        "pkg==2.0",
        "--no-index",
        "--find-links",
        str(tmp_path / "d"),
        "--python",
        str(venv / "bin" / "python"),
        "--no-cache",
    )
    assert up.returncode == 0, up.stderr
    assert sorted(p.name for p in lib.iterdir()) == ["libfoo.so.2"]
    # real pip uninstalls what wn installed (links included) and touches nothing else
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "uninstall",
            "-y",
            "pkg",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    assert pip.returncode == 0, pip.stderr
    assert not (site(venv) / "pkg").exists()


def test_pip_uninstall_removes_links_not_targets(tmp_path: Path, libwheel: Path) -> None:
    assert wn("wheel", "dedupe", str(libwheel), "-o", str(tmp_path / "d")).returncode == 0
    venv = fresh_venv(tmp_path / "venv")
    assert (
        wn(
            "install",
            "pkg",
            "--no-index",
            "--find-links",
            str(tmp_path / "d"),
            "--python",
            str(venv / "bin" / "python"),
            "--no-cache",
        ).returncode
        == 0
    )
    keep = tmp_path / "kept.so"
    keep.write_bytes(LIB)
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "uninstall",
            "-y",
            "pkg",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    assert pip.returncode == 0, pip.stderr
    assert not (site(venv) / "pkg").exists()
    assert not list(site(venv).glob("pkg-*"))
    assert keep.read_bytes() == LIB


def test_without_symlinks_error_or_copy(
    tmp_path: Path, libwheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filesystem that refuses symlinks (simulated: os.symlink fails with EPERM, as on
    FAT or Windows without the privilege): an error by default, copies when asked."""
    from wheelnext.installer.errors import InstallerError
    from wheelnext.installer.target import probe
    from wheelnext.installer.transaction import install_all

    assert wn("wheel", "dedupe", str(libwheel), "-o", str(tmp_path / "d")).returncode == 0
    wheel = tmp_path / "d" / libwheel.name

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
