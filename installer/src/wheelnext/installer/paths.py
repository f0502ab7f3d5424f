"""The one rule for a path named inside a wheel (a member, a RECORD row, a LINKS column)."""

from __future__ import annotations

import re

_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_reason(name: str) -> str | None:
    """Why ``name`` may not be written below an install root, or None if it is safe.

    Only relative POSIX paths without ``.``/``..``/empty segments are allowed: nothing
    absolute, no drive letter or backslash (Windows would read those as separators), no
    NUL. Directory members end in ``/``, which is ignored here.
    """
    if not name:
        return "empty path"
    if "\x00" in name:
        return "NUL character in path"
    if "\\" in name:
        return "backslash in path"
    if name.startswith("/") or _DRIVE.match(name):
        return "absolute path"
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return "'..' segment escapes the install root"
    if "." in parts or "" in parts:
        return "empty or '.' segment"
    return None
