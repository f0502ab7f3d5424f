"""Rewriting a wheel: add, replace or drop members, change compression, regenerate RECORD.

Used by ``wn variant make``, ``wn wheel recompress`` and ``wn wheel dedupe``. The input is
checked first (the same checks as installing), members are streamed (a 700 MB library is
never held in memory), and the output appears atomically: a failure leaves no partial file.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wheelnext.core.files import atomic_output
from wheelnext.installer.archive import (
    DEFLATED,
    METHOD_NAMES,
    ZSTANDARD,
    ArchiveInfo,
    check_archive,
    open_zip,
    zip_module,
    zstd_available,
)
from wheelnext.installer.errors import InstallerError

ZIP64_LIMIT = (1 << 31) - 1


def record_hash(data: bytes) -> str:
    """``sha256=…`` as RECORD spells it (urlsafe base64, no padding)."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode('ascii')}"


class WheelEdit:
    """A checked wheel and the changes to make to it when it is saved."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.info: ArchiveInfo = check_archive(path)
        self.dist_info = self.info.dist_info
        self._replaced: dict[str, bytes] = {}
        self._added: dict[str, bytes] = {}
        self._removed: set[str] = set()

    def read(self, name: str) -> bytes:
        if name in self._replaced or name in self._added:
            return (self._replaced | self._added)[name]
        with open_zip(self.path) as archive:
            data: bytes = archive.read(name)
        return data

    def has(self, name: str) -> bool:
        return (name in self.info.members or name in self._added) and name not in self._removed

    def put(self, name: str, data: bytes) -> None:
        """Replace ``name`` or add it (new members go just before RECORD)."""
        if name in self.info.members:
            self._replaced[name] = data
            self._removed.discard(name)
        else:
            self._added[name] = data

    def remove(self, name: str) -> None:
        self._removed.add(name)
        self._added.pop(name, None)

    def save(
        self,
        destination: Path,
        method: int | None = None,
        level: int | None = None,
        on_member: Callable[[str], None] | None = None,
    ) -> None:
        """Write the edited wheel to ``destination`` (atomically; may equal the input).

        ``method`` None keeps each member's compression; otherwise every member is
        written with it (``level`` as the codec understands it).
        """
        if method == ZSTANDARD and not zstd_available():
            raise InstallerError("zstd needs Python >= 3.14 or 'pip install backports.zstd'")
        if method is not None and method not in METHOD_NAMES:
            raise InstallerError(f"unsupported compression method {method}")
        module = zip_module()
        record_name = f"{self.dist_info}/RECORD"
        with open_zip(self.path) as source, atomic_output(destination) as tmp:
            rows = self._record_rows(source, record_name)
            with module.ZipFile(tmp, "w") as out:
                for info in source.infolist():
                    name = info.filename
                    if name in self._removed or name == record_name:
                        continue
                    new = _copy_info(module, info, method, level)
                    if name in self._replaced:
                        out.writestr(new, self._replaced[name])
                    else:
                        big = info.file_size >= ZIP64_LIMIT
                        with source.open(info) as src, out.open(new, "w", force_zip64=big) as dst:
                            shutil.copyfileobj(src, dst, 2**20)
                    if on_member is not None:
                        on_member(name)
                template = source.getinfo(record_name)
                for name, data in self._added.items():
                    new = _copy_info(module, template, method, level)
                    new.filename = new.orig_filename = name
                    new.external_attr = 0o644 << 16
                    out.writestr(new, data)
                out.writestr(_copy_info(module, template, method, level), _format_record(rows))

    def _record_rows(self, source: Any, record_name: str) -> list[list[str]]:
        rows = list(csv.reader(io.StringIO(source.read(record_name).decode("utf-8"))))
        kept = [r for r in rows if r and r[0] not in self._removed and r[0] not in self._added]
        out = []
        for row in kept:
            if row[0] in self._replaced:
                data = self._replaced[row[0]]
                out.append([row[0], record_hash(data), str(len(data))])
            elif row[0] != record_name:
                out.append(row)
        out += [[name, record_hash(data), str(len(data))] for name, data in self._added.items()]
        out.append([record_name, "", ""])
        return out


def _copy_info(module: Any, info: Any, method: int | None, level: int | None) -> Any:
    new = module.ZipInfo(info.filename, date_time=info.date_time)
    new.external_attr = info.external_attr
    new.create_system = info.create_system
    new.file_size = info.file_size
    new.compress_type = info.compress_type if method is None else method
    if new.compress_type in (DEFLATED, ZSTANDARD):
        new.compress_level = level  # 3.13+/backports name; None is the codec's default
        new._compresslevel = level  # the same setting in Python <= 3.12's zipfile
    return new


def _format_record(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()
