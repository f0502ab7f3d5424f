"""Reading members straight from the archive's file descriptor (``member_reader``): the
same bytes ``zipfile`` reads, in bounded chunks, and the archives ``zipfile`` refuses to
read (a local header unlike the central directory, overlapping members, encryption) are
refused too, as are sizes the data does not have."""

from __future__ import annotations

import os
import random
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.installer.forge import patch_headers
from wheelnext.installer import member_reader
from wheelnext.installer.member_reader import (
    BadMember,
    chunks,
    inflate_errors,
    member_ends,
    readable,
)

NOISE = random.Random(13).randbytes(300_000)  # does not compress: several raw chunks
CONTENTS = {
    "empty": b"",
    "one": b"x",
    "text.py": b"print('hello')\n" * 200,
    "noise.bin": NOISE,
    "zeros.bin": b"\0" * (2 << 20),  # compresses 1000:1: many chunks out per chunk in
}


@pytest.fixture(params=["zlib", "isal"], autouse=True)
def inflater(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every test runs with each inflater: zlib, and ISA-L's where installed."""
    if request.param == "isal":
        module = pytest.importorskip("isal.isal_zlib")
    else:
        import zlib as module
    monkeypatch.setattr(member_reader, "inflate_module", lambda: module)
    return module


def make(path: Path, method: int, contents: dict[str, bytes] = CONTENTS) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return path


@contextmanager
def opened(path: Path) -> Iterator[tuple[int, dict[str, Any], dict[int, int]]]:
    """The archive's descriptor, its members by name, and where each member must end."""
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert archive.fp is not None
        ends = member_ends(infos, archive.start_dir)
        yield archive.fp.fileno(), {i.filename: i for i in infos}, ends


def read(path: Path, member: str, chunk: int = 4096) -> bytes:
    with opened(path) as (fd, infos, ends):
        info = infos[member]
        parts = list(chunks(fd, info, ends[info.header_offset], chunk))
    assert all(0 < len(part) <= chunk for part in parts)
    return b"".join(parts)


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("chunk", [1000, 1 << 18])
def test_reads_what_zipfile_reads(tmp_path: Path, method: int, chunk: int) -> None:
    path = make(tmp_path / "a.zip", method)
    with zipfile.ZipFile(path) as archive:
        assert all(readable(info) for info in archive.infolist())
    for name, data in CONTENTS.items():
        assert read(path, name, chunk) == data


def test_the_descriptor_position_is_left_alone(tmp_path: Path) -> None:
    # threads read one archive at once: no shared position to seek, nothing to lock
    path = make(tmp_path / "a.zip", zipfile.ZIP_DEFLATED)
    with opened(path) as (fd, infos, ends):
        os.lseek(fd, 7, os.SEEK_SET)
        info = infos["noise.bin"]
        assert b"".join(chunks(fd, info, ends[info.header_offset], 4096)) == NOISE
        assert os.lseek(fd, 0, os.SEEK_CUR) == 7


def test_zstd_members_are_left_to_zipfile(tmp_path: Path) -> None:
    from wheelnext.installer.archive import ZSTANDARD, zip_module

    zf = zip_module()
    path = tmp_path / "z.zip"
    with zf.ZipFile(path, "w", ZSTANDARD) as archive:
        archive.writestr("a", b"abc")
    with zf.ZipFile(path) as archive:
        assert not readable(archive.getinfo("a"))


def test_a_local_header_naming_another_member_is_refused(tmp_path: Path) -> None:
    # zipfile's own check: what a reader of local headers alone would unpack differs
    path = make(tmp_path / "a.zip", zipfile.ZIP_DEFLATED, {"pkg/a.py": b"A", "pkg/b.py": b"B"})
    patch_headers(path, "pkg/a.py", local=[(30, "8s", b"pkg/c.py")])
    with pytest.raises(BadMember, match=r"local header names it 'pkg/c\.py'"):
        read(path, "pkg/a.py")
    assert read(path, "pkg/b.py") == b"B"


def test_members_overlapping_the_next_one_are_refused(tmp_path: Path) -> None:
    # a central directory claiming more data than lies before the next local header:
    # overlapping members are how some zip bombs reuse one stream many times
    path = make(tmp_path / "a.zip", zipfile.ZIP_STORED, {"a": b"A" * 1000, "b": b"B" * 10})
    patch_headers(path, "a", central=[(20, "<I", 1100), (24, "<I", 1100)])
    with pytest.raises(BadMember, match="overlaps the next member"):
        read(path, "a")
    # the last member cannot run into the central directory either
    patch_headers(path, "b", central=[(20, "<I", 100), (24, "<I", 100)])
    with pytest.raises(BadMember, match="overlaps the next member"):
        read(path, "b")


def test_member_ends() -> None:
    class Info:
        def __init__(self, offset: int) -> None:
            self.header_offset = offset

    infos = [Info(500), Info(0), Info(100), Info(100)]
    # 500 lies past the central directory (at 400): no room there, and none past 400
    assert member_ends(infos, 400) == {0: 100, 100: 400, 500: 400}


@pytest.mark.parametrize(
    ("declared", "message"),
    [(len(NOISE) - 1, "longer than its declared"), (len(NOISE) + 1, "shorter than its declared")],
)
def test_a_deflated_member_unlike_its_declared_size_is_refused(
    tmp_path: Path, declared: int, message: str
) -> None:
    path = make(tmp_path / "a.zip", zipfile.ZIP_DEFLATED, {"a": NOISE, "b": b"B"})
    patch_headers(path, "a", central=[(24, "<I", declared)])
    with pytest.raises(BadMember, match=message):
        read(path, "a", 1 << 18)


def test_a_bomb_stops_one_chunk_past_its_declared_size(tmp_path: Path) -> None:
    path = make(tmp_path / "a.zip", zipfile.ZIP_DEFLATED, {"a": b"\0" * (64 << 20)})
    patch_headers(path, "a", central=[(24, "<I", 1000)])
    with opened(path) as (fd, infos, ends):
        info = infos["a"]
        parts = chunks(fd, info, ends[info.header_offset], 1 << 18)
        with pytest.raises(BadMember, match="longer than its declared 1000 bytes"):
            next(parts)  # refused before the first chunk: 1000 bytes do not fill one


def test_a_stored_member_with_two_sizes_is_refused(tmp_path: Path) -> None:
    path = make(tmp_path / "a.zip", zipfile.ZIP_STORED, {"a": b"A" * 100, "b": b"B"})
    patch_headers(path, "a", central=[(24, "<I", 50)])
    with pytest.raises(BadMember, match="stored with two different sizes"):
        read(path, "a")


def test_a_deflate_stream_cut_short_is_refused(tmp_path: Path) -> None:
    path = make(tmp_path / "a.zip", zipfile.ZIP_DEFLATED, {"a": NOISE, "b": b"B"})
    with zipfile.ZipFile(path) as archive:
        size = archive.getinfo("a").compress_size
    patch_headers(path, "a", central=[(20, "<I", size // 2)])
    with pytest.raises(BadMember, match="truncated"):
        read(path, "a")


def test_a_corrupt_deflate_stream_raises_the_inflaters_error(tmp_path: Path, inflater: Any) -> None:
    path = make(tmp_path / "a.zip", zipfile.ZIP_DEFLATED, {"a": b"\xff" * 10})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("a")
    start = info.header_offset + 30 + len(b"a")
    data[start] = 0xFF  # BTYPE 11: a reserved block type
    path.write_bytes(bytes(data))
    with pytest.raises(inflate_errors()) as caught:
        read(path, "a")
    assert isinstance(caught.value, inflater.error)


@pytest.mark.parametrize(("bit", "message"), [(0x1, "encrypted"), (0x20, "patched")])
def test_encrypted_and_patched_members_are_refused(tmp_path: Path, bit: int, message: str) -> None:
    path = make(tmp_path / "a.zip", zipfile.ZIP_STORED, {"a": b"A", "b": b"B"})
    patch_headers(path, "a", central=[(8, "<H", bit)])
    with pytest.raises(BadMember, match=message):
        read(path, "a")


def test_a_bad_local_signature_or_header_offset_is_refused(tmp_path: Path) -> None:
    path = make(tmp_path / "a.zip", zipfile.ZIP_STORED, {"a": b"A", "b": b"B"})
    patch_headers(path, "a", local=[(0, "4s", b"PK\x05\x06")])
    with pytest.raises(BadMember, match="bad local header signature"):
        read(path, "a")
    patch_headers(path, "b", central=[(42, "<I", path.stat().st_size - 10)])
    with pytest.raises(BadMember, match="local header outside the archive's members"):
        read(path, "b")


@pytest.mark.parametrize("offset", [-1, 2**63, 2**64 - 1])
def test_a_header_offset_no_file_has_is_refused(tmp_path: Path, offset: int) -> None:
    # a ZIP64 extra can declare any 64-bit offset; os.pread cannot even take 2**63
    path = make(tmp_path / "a.zip", zipfile.ZIP_DEFLATED, {"a": b"A", "b": b"B"})
    with opened(path) as (fd, infos, ends):
        info = infos["a"]
        end = ends[info.header_offset]
        info.header_offset = offset
        with pytest.raises(BadMember, match="local header outside the archive's members"):
            next(chunks(fd, info, end, 4096))
