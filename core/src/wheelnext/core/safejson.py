"""JSON from outside, read within bounds: a size cap and a nesting cap checked before
parsing, so a hostile page, ``variants.json``, profile or config file is a one-line
error and never a ``RecursionError`` or a memory blow-up."""

from __future__ import annotations

import json
import re
from typing import Any

from wheelnext.core.errors import MetadataError, one_line

MAX_BYTES = 64 * 1024 * 1024  # a variants.json of 100k variants is ~40 MiB
MAX_DEPTH = 32  # the deepest legitimate document (variants.json) nests 5 levels

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_OPEN = frozenset(b"[{")


class UnsafeJsonError(MetadataError):
    """A JSON document over the size or nesting limits (or not JSON at all)."""


def check_bounds(
    data: bytes,
    source: str | None = None,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
) -> None:
    """Refuse ``data`` when it is larger than ``max_bytes`` or nests deeper than ``max_depth``."""
    if len(data) > max_bytes:
        raise UnsafeJsonError(f"JSON document of {len(data)} bytes exceeds {max_bytes}", source)
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return  # cannot nest deeper than it has brackets
    depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b'""', data)):
        if bracket[0] in _OPEN:
            depth += 1
            if depth > max_depth:
                raise UnsafeJsonError(f"JSON nested deeper than {max_depth} levels", source)
        else:
            depth -= 1


def loads(
    data: bytes | str,
    source: str | None = None,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """``json.loads`` within bounds; every failure is an ``UnsafeJsonError`` naming ``source``."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    check_bounds(raw, source, max_bytes=max_bytes, max_depth=max_depth)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise UnsafeJsonError(f"invalid JSON: {one_line(str(exc))}", source) from None
