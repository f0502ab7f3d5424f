"""Reading one archive member's bytes straight from the wheel's file descriptor.

``zipfile`` shares one file position between threads (each read seeks under a lock) and
computes a CRC-32 that the RECORD hash checked beside it makes redundant; unpacking a
wheel on several threads spent much of its time waiting on that lock. Here each member is
read with ``os.pread`` (no shared position, no lock) and inflated with ``zlib`` in bounded
chunks. The checks ``ZipFile.open`` makes on a member are made too (APPNOTE.TXT 4.3.7 and
4.4.4): the local header's signature, its name equal to the central directory's, no
encryption or patch data, the data inside the archive and ending before the next member
begins (overlapping members are how some zip bombs repeat data). Members neither stored
nor deflated (zstd) are left to ``zipfile``.
"""

from __future__ import annotations

import functools
import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # APPNOTE.TXT 4.3.7: 30 bytes
LOCAL_SIGNATURE = b"PK\x03\x04"
STORED, DEFLATED = 0, 8
ENCRYPTED, PATCHED, STRONG_ENCRYPTION, UTF8_NAME = 0x1, 0x20, 0x40, 0x800  # 4.4.4 bits
ENCRYPTION = ENCRYPTED | STRONG_ENCRYPTION


class BadMember(Exception):
    """The member cannot be read as its central directory entry says; the message says why."""


@functools.cache
def inflate_module() -> Any:
    """ISA-L's zlib (python-isal: about 1.7 times zlib's inflate speed, measured on numpy's
    wheel) where it is installed, else zlib. Either's output is checked against RECORD."""
    try:
        from isal import isal_zlib
    except ImportError:
        return zlib
    return isal_zlib


def inflate_errors() -> tuple[type[BaseException], ...]:
    """What the inflater raises on a corrupt stream."""
    return (zlib.error, inflate_module().error)


def readable(zinfo: Any) -> bool:
    """Whether ``chunks`` reads this member (stored or deflated); else use ``zipfile``."""
    return zinfo.compress_type in (STORED, DEFLATED)


def member_ends(infos: Sequence[Any], directory_start: int) -> dict[int, int]:
    """For each member's local header offset, where the next member (or the central
    directory) begins: no member's data may run past it."""
    ends: dict[int, int] = {}
    end = directory_start
    for offset in sorted({i.header_offset for i in infos}, reverse=True):
        ends[offset] = min(end, directory_start)  # a header past the directory: no room
        end = offset
    return ends


def chunks(fd: int, zinfo: Any, end: int, chunk: int) -> Iterator[bytes]:
    """The member's uncompressed bytes, ``chunk`` at most at a time, never more than its
    declared ``file_size``; ``BadMember`` when the archive does not hold it as declared
    (``end``: where the next member begins, from ``member_ends``)."""
    flags = zinfo.flag_bits
    if flags & ENCRYPTION:
        raise BadMember("encrypted")
    if flags & PATCHED:
        raise BadMember("compressed patched data")
    if not 0 <= zinfo.header_offset <= end - LOCAL_HEADER.size:
        raise BadMember("local header outside the archive's members")
    header = os.pread(fd, LOCAL_HEADER.size, zinfo.header_offset)
    if len(header) != LOCAL_HEADER.size:
        raise BadMember("truncated local header")
    fields = LOCAL_HEADER.unpack(header)
    if fields[0] != LOCAL_SIGNATURE:
        raise BadMember("bad local header signature")
    name_length, extra_length = fields[-2], fields[-1]
    raw = os.pread(fd, name_length, zinfo.header_offset + LOCAL_HEADER.size)
    try:
        name = raw.decode("utf-8" if fields[3] & UTF8_NAME else "cp437")
    except UnicodeDecodeError:
        raise BadMember("undecodable name in its local header") from None
    if name != zinfo.orig_filename:
        raise BadMember(f"local header names it {name!r}")
    start = zinfo.header_offset + LOCAL_HEADER.size + name_length + extra_length
    if start + zinfo.compress_size > end:
        raise BadMember("overlaps the next member (a zip bomb?)")
    if zinfo.compress_type == STORED:
        yield from _stored(fd, start, zinfo, chunk)
    else:
        yield from _inflated(fd, start, zinfo, chunk)


def _stored(fd: int, start: int, zinfo: Any, chunk: int) -> Iterator[bytes]:
    if zinfo.compress_size != zinfo.file_size:
        raise BadMember("stored with two different sizes")
    position, left = start, zinfo.file_size
    while left:
        data = os.pread(fd, min(chunk, left), position)
        if not data:
            raise BadMember("truncated")
        position += len(data)
        left -= len(data)
        yield data


def _inflated(fd: int, start: int, zinfo: Any, chunk: int) -> Iterator[bytes]:
    """A deflated member, read ``chunk`` at a time and inflated into pieces of at most
    ``chunk`` bytes."""
    inflater = inflate_module().decompressobj(-zlib.MAX_WBITS)  # raw DEFLATE, as in ZIP
    position, left, room = start, zinfo.compress_size, zinfo.file_size
    while not inflater.eof:
        data = inflater.unconsumed_tail
        if not data and left:
            data = os.pread(fd, min(chunk, left), position)
            if not data:
                raise BadMember("truncated")
            position += len(data)
            left -= len(data)
        # with no input left, what the inflater still holds (ISA-L holds more than zlib)
        # comes out in bounded pieces too; one byte past the room shows a member too long
        out = inflater.decompress(data, min(chunk, room + 1))
        if len(out) > room:
            raise BadMember(f"longer than its declared {zinfo.file_size} bytes")
        if not out and not data:
            raise BadMember("truncated")
        room -= len(out)
        if out:
            yield out
    if room:
        raise BadMember(f"shorter than its declared {zinfo.file_size} bytes")
