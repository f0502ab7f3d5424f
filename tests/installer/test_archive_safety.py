"""Malicious and broken wheels, installed with ``wn install`` into a real environment:
each is refused with one clear line naming the wheel, and the environment is unchanged
(a good wheel in the same transaction is not installed either)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.helpers import snapshot
from tests.installer.envs import install_from, make_venv, site
from tests.installer.forge import Field, Member, forge, lie_about_size, patch_headers
from tests.installer.wheels import build_wheel
from wheelnext.installer.archive import STORED, ZSTANDARD

LIB = b"\x7fELF" + bytes(range(256)) * 64
ZEROS = b"\0" * (64 * 2**20)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(tmp_path_factory.mktemp("safety") / "venv")


def _links(links: str, *members: Member) -> Callable[[Path], Path]:
    return lambda d: forge(d, "bad", "1.0", list(members), wheel_version="2.0", links=links)


def _zstd_liar(d: Path) -> Path:
    path = forge(d, "bad", "1.0", [Member("bad/data.bin", b"\0" * 2**20, ZSTANDARD)])
    lie_about_size(path, "bad/data.bin", 1000)
    return path


def _patched(member: Member, **fields: Sequence[Field]) -> Callable[[Path], Path]:
    """A wheel whose ``member`` has the given header fields rewritten (``patch_headers``)."""

    def make(d: Path) -> Path:
        path = forge(d, "bad", "1.0", [member])
        patch_headers(path, member.name, **fields)
        return path

    return make


def _patched_metadata(**fields: Sequence[Field]) -> Callable[[Path], Path]:
    """A wheel whose METADATA has the given header fields rewritten."""

    def make(d: Path) -> Path:
        path = forge(d, "bad", "1.0")
        patch_headers(path, "bad-1.0.dist-info/METADATA", **fields)
        return path

    return make


def _truncated(d: Path) -> Path:
    path = forge(d, "bad", "1.0", [Member("bad/data.bin", LIB)])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "zip-slip": (
        lambda d: forge(d, "bad", "1.0", [Member("../evil.py", b"x")]),
        "unsafe member path '../evil.py'",
    ),
    "absolute": (
        lambda d: forge(d, "bad", "1.0", [Member("/tmp/evil.py", b"x")]),
        "unsafe member path '/tmp/evil.py' (absolute path)",
    ),
    "backslash": (
        lambda d: forge(d, "bad", "1.0", [Member("bad\\..\\..\\evil.py", b"x")]),
        "backslash in path",
    ),
    "duplicate": (
        lambda d: forge(d, "bad", "1.0", [Member("bad/a.py", b"1"), Member("bad/a.py", b"2")]),
        "member 'bad/a.py' appears twice",
    ),
    "record-mismatch": (
        lambda d: forge(
            d, "bad", "1.0", [Member("bad/a.py", b"1")], tamper_record={"bad/a.py": "sha256=AAAA"}
        ),
        "member 'bad/a.py' does not match its RECORD hash",
    ),
    "not-in-record": (
        lambda d: forge(d, "bad", "1.0", [Member("bad/a.py", b"1", recorded=False)]),
        "bad/a.py is not mentioned in RECORD",
    ),
    "zstd-bomb": (
        lambda d: forge(d, "bad", "1.0", [Member("bad/zeros.bin", ZEROS, ZSTANDARD)]),
        "(ratio over 2000:1, a zip bomb?)",
    ),
    "zstd-lying-size": (_zstd_liar, "member 'bad/data.bin' is corrupt or truncated"),
    "deflate-lying-size": (
        _patched(Member("bad/data.bin", LIB), central=[(24, "<I", 1000)]),
        "member 'bad/data.bin' is corrupt or truncated (longer than its declared 1000 bytes)",
    ),
    "local-name-differs": (
        _patched(Member("bad/data.bin", LIB), local=[(30, "12s", b"bad/evil.bin")]),
        "member 'bad/data.bin' is corrupt or truncated (local header names it 'bad/evil.bin')",
    ),
    "overlapping-members": (
        _patched(
            Member("bad/a.bin", LIB, STORED),
            central=[(20, "<I", 2 * len(LIB)), (24, "<I", 2 * len(LIB))],
        ),
        "member 'bad/a.bin' is corrupt or truncated (overlaps the next member",
    ),
    "signature-bad-crc": (
        _patched(
            Member("bad-1.0.dist-info/RECORD.jws", b"{}", recorded=False),
            central=[(16, "<I", 0)],
        ),
        "member 'bad-1.0.dist-info/RECORD.jws' is corrupt or truncated (bad CRC-32)",
    ),
    "header-after-directory": (
        _patched(Member("bad/a.py", b"1"), central=[(42, "<I", 0x7FFF_FFF0)]),
        "member 'bad/a.py''s local header lies outside the archive's members",
    ),
    "encrypted-member": (
        _patched(Member("bad/a.py", b"1"), central=[(8, "<H", 0x1)]),
        "member 'bad/a.py' is encrypted",
    ),
    "encrypted-metadata": (  # zipfile would ask for a password (a RuntimeError)
        _patched_metadata(central=[(8, "<H", 0x1)]),
        "member 'bad-1.0.dist-info/METADATA' is encrypted",
    ),
    "metadata-header-after-directory": (
        _patched_metadata(central=[(42, "<I", 0x7FFF_FFF0)]),
        "member 'bad-1.0.dist-info/METADATA''s local header lies outside",
    ),
    "encrypted-zstd": (
        _patched(Member("bad/z.bin", b"z" * 100, ZSTANDARD), central=[(8, "<H", 0x1)]),
        "member 'bad/z.bin' is encrypted",
    ),
    "truncated": (_truncated, "not a valid wheel archive"),
    "bzip2": (
        lambda d: forge(d, "bad", "1.0", [Member("bad/a.py", b"1", 12)]),
        "uses compression method 12; only stored, deflate and zstd are read",
    ),
    "lzma": (
        lambda d: forge(d, "bad", "1.0", [Member("bad/a.py", b"1", 14)]),
        "uses compression method 14",
    ),
    "symlink-entry": (
        lambda d: forge(d, "bad", "1.0", [Member("bad/passwd", b"/etc/passwd", STORED, 0o120777)]),
        "member 'bad/passwd' is a symlink entry",
    ),
    "link-dotdot": (_links("bad/l.so,../../../etc/passwd\n"), "target '../../../etc/passwd'"),
    "link-absolute": (_links("bad/l.so,/etc/passwd\n"), "target '/etc/passwd': absolute path"),
    "link-chain-escape": (_links("bad/a.so,bad/b.so\nbad/b.so,bad/../../x\n"), "'..' segment"),
    "link-cycle": (
        _links("bad/a.so,bad/b.so\nbad/b.so,bad/a.so\n"),
        "link cycle bad/a.so -> bad/b.so -> bad/a.so",
    ),
    "link-dangling": (_links("bad/a.so,bad/missing.so\n"), "which the wheel does not install"),
    "link-replaces-file": (
        _links("bad/__init__.py,bad/real.so\n", Member("bad/real.so", LIB)),
        "would replace a file of the wheel",
    ),
    "link-into-dist-info": (
        _links("bad-1.0.dist-info/RECORD2,bad/real.so\n", Member("bad/real.so", LIB)),
        "links must lie outside .dist-info and .data",
    ),
    "link-through-link": (
        _links("bad/d,bad/real.so\nbad/d/x.so,bad/real.so\n", Member("bad/real.so", LIB)),
        "would be written through link 'bad/d'",
    ),
    "links-in-1.0-wheel": (
        lambda d: forge(
            d, "bad", "1.0", [Member("bad/real.so", LIB)], links="bad/l.so,bad/real.so\n"
        ),
        "links need Wheel-Version 2.0",
    ),
    "wheel-version-3": (
        lambda d: forge(d, "bad", "1.0", wheel_version="3.0"),
        "Wheel-Version 3.0 is not supported",
    ),
    "wheel-version-disagrees": (
        lambda d: forge(d, "bad", "1.0", metadata_extra="Wheel-Version: 2.0\n"),
        "METADATA says Wheel-Version 2.0, WHEEL says 1.0",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_before_anything_is_written(tmp_path: Path, venv: Path, case: str) -> None:
    make, message = CASES[case]
    wheels = tmp_path / "wheels"
    make(wheels)
    build_wheel(wheels, "fine", "1.0")
    before = snapshot(site(venv))
    proc = install_from(venv, wheels, "fine", "bad")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1
    assert errors[0].startswith("wn install: error: bad-1.0-py3-none-any.whl: ")
    assert message in errors[0]
    assert snapshot(site(venv)) == before
    assert not (tmp_path / "evil.py").exists()


def test_never_writes_through_an_existing_link(tmp_path: Path, venv: Path) -> None:
    """A directory link left in site-packages (by anything) is never written through."""
    outside = tmp_path / "outside"
    outside.mkdir()
    trap = site(venv) / "trapped"
    trap.symlink_to(outside, target_is_directory=True)
    try:
        wheels = tmp_path / "wheels"
        build_wheel(wheels, "trapped", "1.0")
        proc = install_from(venv, wheels, "trapped")
        assert proc.returncode == 1
        assert "is a link; nothing is written through it" in proc.stderr
        assert list(outside.iterdir()) == []
        assert not list(site(venv).glob("trapped-1.0.dist-info"))
    finally:
        trap.unlink()
