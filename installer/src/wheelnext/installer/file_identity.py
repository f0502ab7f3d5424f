"""A file's identity and times: whether a wheel is still the file whose bytes were checked
(its hashes when downloaded, its members when unpacked)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from wheelnext.installer.errors import InstallerError

# (st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns); ctime cannot be set back (utime),
# so an edit in place shows even with size and mtime kept
FileIdentity = tuple[int, int, int, int, int]


def identity(source: Path | int) -> FileIdentity:
    """``source``'s identity and times (a path, followed; or an open descriptor)."""
    st = os.fstat(source) if isinstance(source, int) else source.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def current_identity(wheel: Path) -> FileIdentity:
    """``wheel``'s identity now; a file that cannot be read is a one-line error."""
    try:
        return identity(wheel)
    except OSError as exc:
        raise InstallerError(f"{wheel}: cannot read it ({exc.strerror or exc})") from None


def verified_identity(wheel: Path) -> FileIdentity:
    """``wheel``'s identity when its hashes were verified (``http.VERIFIED``, if the
    download client ran in this process), else as it is now (``current_identity``)."""
    http = sys.modules.get("wheelnext.installer.http")
    found: FileIdentity | None = None if http is None else http.VERIFIED.get(wheel)
    return found or current_identity(wheel)
