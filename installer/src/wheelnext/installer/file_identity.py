"""A file's identity and times: whether a wheel is still the file whose bytes were checked
(its hashes when downloaded, its members when unpacked)."""

from __future__ import annotations

import os
from pathlib import Path

# (st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns); ctime cannot be set back (utime),
# so an edit in place shows even with size and mtime kept
FileIdentity = tuple[int, int, int, int, int]


def identity(source: Path | int) -> FileIdentity:
    """``source``'s identity and times (a path, followed; or an open descriptor)."""
    st = os.fstat(source) if isinstance(source, int) else source.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
