"""Hand-made wheel archives for safety tests: any member names, methods, attributes and
RECORD rows, including the malformed ones a real build tool would never write."""

from __future__ import annotations

import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from wheelnext.installer.archive import DEFLATED, zip_module
from wheelnext.installer.wheeledit import record_hash


@dataclass
class Member:
    name: str
    data: bytes
    method: int = DEFLATED
    mode: int = 0o100644  # st_mode stored in the high 16 bits of external_attr
    recorded: bool = True


def forge(
    path: Path,
    name: str,
    version: str,
    members: Sequence[Member] = (),
    *,
    wheel_version: str = "1.0",
    metadata_extra: str = "",
    links: str | None = None,
    tamper_record: dict[str, str] | None = None,
) -> Path:
    """Write ``{name}-{version}-py3-none-any.whl`` at ``path`` (a directory) with
    ``members`` plus METADATA, WHEEL, (LINKS) and a RECORD listing the recorded ones."""
    info = f"{name}-{version}.dist-info"
    meta = f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n{metadata_extra}"
    wheel = (
        f"Wheel-Version: {wheel_version}\nGenerator: forge\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    items = [
        Member(f"{name}/__init__.py", b"VERSION = 'forged'\n"),
        *members,
        Member(f"{info}/METADATA", meta.encode()),
        Member(f"{info}/WHEEL", wheel.encode()),
    ]
    if links is not None:
        items.append(Member(f"{info}/LINKS", links.encode()))
    rows = [
        f"{m.name},{(tamper_record or {}).get(m.name, record_hash(m.data))},{len(m.data)}\n"
        for m in items
        if m.recorded
    ]
    items.append(Member(f"{info}/RECORD", ("".join(rows) + f"{info}/RECORD,,\n").encode()))
    out = path / f"{name}-{version}-py3-none-any.whl"
    path.mkdir(parents=True, exist_ok=True)
    zf = zip_module()
    with zf.ZipFile(out, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point of some cases
        for m in items:
            entry = zf.ZipInfo(m.name, date_time=(2026, 1, 1, 0, 0, 0))
            entry.compress_type = m.method
            entry.external_attr = m.mode << 16
            archive.writestr(entry, m.data)
    return out


def central_record(data: bytes, member: str) -> int:
    """Where ``member``'s central directory record starts in the archive bytes ``data``."""
    encoded = member.encode()
    at = 0
    while (at := data.find(b"PK\x01\x02", at)) >= 0:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + length] == encoded:
            return at
        at += 4
    raise KeyError(member)


Field = tuple[int, str, object]  # (offset in the header, struct format, new value)


def patch_headers(
    path: Path, member: str, *, local: Sequence[Field] = (), central: Sequence[Field] = ()
) -> None:
    """Rewrite fields of ``member``'s local header and of its central directory record
    (APPNOTE.TXT 4.3.7 and 4.3.12), as a hostile archive would have them."""
    with zip_module().ZipFile(path) as archive:
        header = archive.getinfo(member).header_offset
    data = bytearray(path.read_bytes())
    for at, layout, value in local:
        struct.pack_into(layout, data, header + at, value)
    record = central_record(bytes(data), member) if central else 0
    for at, layout, value in central:
        struct.pack_into(layout, data, record + at, value)
    path.write_bytes(bytes(data))


def lie_about_size(path: Path, member: str, declared: int) -> None:
    """Rewrite ``member``'s uncompressed size in both ZIP headers to ``declared``."""
    patch_headers(path, member, local=[(22, "<I", declared)], central=[(24, "<I", declared)])
