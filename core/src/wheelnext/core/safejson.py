"""JSON from outside, read within bounds: a size cap and a nesting cap checked before
parsing, so a hostile page, ``variants.json``, profile or config file is a one-line
error and never a ``RecursionError`` or a memory blow-up."""

from __future__ import annotations

import json
import re

from wheelnext.core.errors import MetadataError, one_line

TYPE_CHECKING = False  # not typing's: importing typing costs ~10 ms of wn-detect's start
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MAX_BYTES = 64 * 1024 * 1024  # a variants.json of 100k variants is ~40 MiB
MAX_DEPTH = 32  # the deepest legitimate document (variants.json) nests 5 levels

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_OPEN = frozenset(b"[{")
_NOT_STRUCTURE = bytes(range(256)).translate(None, b'"[]{}')  # every byte but these
_QUOTED = re.compile(rb'"[^"]*"')


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
    if _shallow(data, max_depth):
        return
    depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b'""', data)):
        if bracket[0] in _OPEN:
            depth += 1
            if depth > max_depth:
                raise UnsafeJsonError(f"JSON nested deeper than {max_depth} levels", source)
        else:
            depth -= 1


def _shallow(data: bytes, max_depth: int) -> bool:
    """A quick proof that ``data`` nests at most ``max_depth`` deep, with bytes methods only
    (the exact scan in ``check_bounds`` costs a second per 15 MB; this, a few hundredths).

    Escapes go first (``\\\\`` pairs, then ``\\"``, as JSON reads them), then every byte
    but quotes and brackets; dropping adjacent ``""`` keeps the structure (it removes an
    empty string or merges two neighbouring strings), and strings still holding brackets
    go by regex. Each round then strips the innermost ``[]`` and ``{}``, at most two
    levels, so emptying within ``max_depth // 2`` rounds proves the bound. False means
    "not proven" (deep, unbalanced or not JSON): the exact scan decides.
    """
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    rest = data.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in rest:
        rest = _QUOTED.sub(b"", rest)
    for _ in range(max_depth // 2):
        if not rest:
            return True
        shorter = rest.replace(b"[]", b"").replace(b"{}", b"")
        if len(shorter) == len(rest):
            return False
        rest = shorter
    return not rest


def loads(
    data: bytes | str,
    source: str | None = None,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> Any:
    """``json.loads`` within bounds; every failure is an ``UnsafeJsonError`` naming ``source``.

    ``object_pairs_hook`` is ``json.loads``'s (the metadata loader shares repeated objects).
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    check_bounds(raw, source, max_bytes=max_bytes, max_depth=max_depth)
    try:
        return json.loads(raw, object_pairs_hook=object_pairs_hook)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise UnsafeJsonError(f"invalid JSON: {one_line(str(exc))}", source) from None
