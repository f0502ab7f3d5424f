"""Reading a ``pylock.toml`` as hostile input: a bounded size, every field type-checked,
wheel names validated as names (never used as paths), URLs only http(s), paths only
relative and inside the lock's directory, markers free of variant markers (PEP 825),
``variants-json`` validated against its schema. Any problem is one error naming the
lock and the package."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidName, canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelnext.core.errors import WheelnextError, one_line
from wheelnext.core.filenames import WheelFilename
from wheelnext.core.files import read_user_file
from wheelnext.core.markers import VariantMarker
from wheelnext.core.metadata import VariantMetadata
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.lock.model import (
    TOOL,
    Lock,
    LockedDependency,
    LockedPackage,
    LockedWheel,
)
from wheelnext.installer.lock.variants_json import validate

MAX_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 32  # a lock nests ~8 levels (variants-json inside a package inside packages)
MAX_PACKAGES = 20_000
MAX_WHEELS = 5_000  # per package
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!-]*\.whl$")  # wheel names: no separators
_HEX = re.compile(r"^[0-9a-f]{16,256}$")
_SOURCES = ("sdist", "vcs", "directory", "archive")
# a locked wheel is verified with every listed hash hashlib can compute (shake_* needs a
# length, so it is skipped); at least one must resist collisions as well as sha256 does
VERIFIABLE = frozenset(hashlib.algorithms_guaranteed - {"shake_128", "shake_256"})
STRONG = frozenset({"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b"})


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> InstallerError:
        return InstallerError(f"{self.path}: {where}{message}")

    def get(
        self, table: dict[str, Any], key: str, kind: type, where: str, required: bool = False
    ) -> Any:
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(where, f"'{key}' is missing")
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(where, f"'{key}' must be a {kind.__name__}")
        return value

    def strings(self, table: dict[str, Any], key: str, where: str) -> list[str]:
        values = self.get(table, key, list, where) or []
        if not all(isinstance(v, str) for v in values):
            raise self.fail(where, f"'{key}' must be an array of strings")
        return values

    def name(self, table: dict[str, Any], where: str, what: str) -> str:
        """The table's required ``name``, canonical; ``what`` names it in the error."""
        raw = self.get(table, "name", str, where, required=True)
        try:
            return canonicalize_name(raw, validate=True)
        except InvalidName:
            raise self.fail(where, f"invalid {what} {one_line(raw, 80)!r}") from None

    def version(self, text: str, where: str, what: str) -> Version:
        """``text`` as a version; ``what`` names it in the error."""
        try:
            return Version(text)
        except InvalidVersion:
            raise self.fail(where, f"invalid {what} {one_line(text, 40)!r}") from None

    def requires_python(self, table: dict[str, Any], where: str) -> str | None:
        """The table's optional ``requires-python``, checked as a version specifier."""
        text: str | None = self.get(table, "requires-python", str, where)
        if text is not None:
            try:
                SpecifierSet(text)
            except InvalidSpecifier:
                raise self.fail(
                    where, f"invalid 'requires-python' {one_line(text, 80)!r}"
                ) from None
        return text

    def http_url(self, url: str, where: str, field: str) -> None:
        """``url`` is an http(s) URL with a host (and a valid port, if any)."""
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 -- raises ValueError on a bad port
            good = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError as exc:
            raise self.fail(
                where, f"'{field}' is not a valid URL ({one_line(str(exc), 80)})"
            ) from None
        if not good:
            raise self.fail(where, f"'{field}' must be an http(s) URL")

    def marker(self, text: str | None, where: str, field: str) -> str | None:
        if text is None:
            return None
        try:
            if VariantMarker(text).uses_variants:
                raise self.fail(where, f"variant markers may not appear in '{field}' (PEP 825)")
            Marker(text)
        except (InvalidMarker, WheelnextError) as exc:
            if isinstance(exc, InstallerError):
                raise
            raise self.fail(where, f"invalid '{field}' marker: {one_line(str(exc), 200)}") from None
        return text


def read_lock(path: Path) -> Lock:
    """Parse and check the lock file at ``path`` (see the module docstring)."""
    reader = _Reader(str(path))
    try:  # a regular file, bounded (a FIFO or /dev/zero is refused, not read)
        data = read_user_file(path, "", MAX_BYTES)
    except WheelnextError as exc:
        raise InstallerError(str(exc)) from None
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise reader.fail("", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise reader.fail("", f"not valid TOML ({one_line(str(exc), 200)})") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise reader.fail("", "nested too deeply; refusing") from None
    if _depth(doc) > MAX_DEPTH:
        raise reader.fail("", f"nested more than {MAX_DEPTH} levels deep; refusing")
    version = reader.get(doc, "lock-version", str, "", required=True)
    major = version.split(".", 1)[0]
    if major != "1":
        raise reader.fail("", f"lock-version {one_line(version, 20)} is not supported (need 1.x)")
    requires_python = reader.requires_python(doc, "")
    environments = reader.strings(doc, "environments", "")
    for text in environments:
        reader.marker(text, "", "environments")
    raw_packages = reader.get(doc, "packages", list, "", required=True)
    if len(raw_packages) > MAX_PACKAGES:
        raise reader.fail("", f"more than {MAX_PACKAGES} packages")
    packages = tuple(_package(reader, item, i) for i, item in enumerate(raw_packages))
    tool = reader.get(doc, "tool", dict, "") or {}
    ours = tool.get(TOOL)
    requested: frozenset[str] | None = None
    if isinstance(ours, dict) and "requested" in ours:
        requested = frozenset(
            canonicalize_name(n) for n in reader.strings(ours, "requested", f"tool.{TOOL}: ")
        )
    return Lock(reader.path, requires_python, tuple(environments), packages, requested)


def _depth(doc: object) -> int:
    """How deeply tables and arrays nest in ``doc`` (iteratively: no recursion to abuse)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(doc, 1)]
    while stack:
        value, level = stack.pop()
        deepest = max(deepest, level)
        children = value.values() if isinstance(value, dict) else value
        assert isinstance(children, Iterable)  # only tables and arrays are stacked
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _package(reader: _Reader, item: object, number: int) -> LockedPackage:
    where = f"packages[{number}]: "
    if not isinstance(item, dict):
        raise reader.fail(where, "must be a table")
    name = reader.name(item, where, "name")
    where = f"package {name}: "
    version = reader.version(
        reader.get(item, "version", str, where, required=True), where, "version"
    )
    where = f"package {name} {version}: "
    marker = reader.marker(reader.get(item, "marker", str, where), where, "packages.marker")
    requires_python = reader.requires_python(item, where)
    index = reader.get(item, "index", str, where)
    if index is not None:
        reader.http_url(index, where, "index")
    deps = tuple(
        _dependency(reader, d, where) for d in reader.get(item, "dependencies", list, where) or []
    )
    raw_wheels = reader.get(item, "wheels", list, where) or []
    if len(raw_wheels) > MAX_WHEELS:
        raise reader.fail(where, f"more than {MAX_WHEELS} wheels")
    wheels = tuple(_wheel(reader, w, name, version, where) for w in raw_wheels)
    if len({w.name for w in wheels}) != len(wheels):
        raise reader.fail(where, "a wheel is listed twice")
    variants: VariantMetadata | None = None
    if "variants-json" in item:
        variants = validate(item["variants-json"], f"{reader.path}: {where.rstrip(': ')}")
    tool = reader.get(item, "tool", dict, where) or {}
    ours: dict[str, Any] = tool[TOOL] if isinstance(tool.get(TOOL), dict) else {}
    extras = tuple(
        canonicalize_name(e) for e in reader.strings(ours, "extras", f"{where}tool.{TOOL}: ")
    )
    sdist_only = not wheels and any(key in item for key in _SOURCES)
    return LockedPackage(
        name, version, marker, requires_python, index, deps, wheels, variants, extras, sdist_only
    )


def _dependency(reader: _Reader, item: object, where: str) -> LockedDependency:
    if not isinstance(item, dict):
        raise reader.fail(where, "each dependency must be a table")
    name = reader.name(item, where, "dependency name")
    text = reader.get(item, "version", str, where)
    version = None if text is None else reader.version(text, where, "dependency version")
    marker = reader.get(item, "marker", str, where)
    if marker is not None:
        try:
            VariantMarker(marker)
        except WheelnextError as exc:
            raise reader.fail(where, f"dependency {name}: {one_line(str(exc), 200)}") from None
    return LockedDependency(name, version, marker)


def _wheel(reader: _Reader, item: object, name: str, version: Version, where: str) -> LockedWheel:
    if not isinstance(item, dict):
        raise reader.fail(where, "each wheel must be a table")
    filename = reader.get(item, "name", str, where, required=True)
    if len(filename) > 255 or not _NAME.match(filename) or ".." in filename:
        raise reader.fail(where, f"refusing wheel name {one_line(filename, 120)!r}")
    try:
        parsed = WheelFilename.parse(filename)
    except WheelnextError:
        raise reader.fail(where, f"{one_line(filename, 120)}: not a wheel file name") from None
    if canonicalize_name(parsed.name) != name or parsed.version != version:
        raise reader.fail(where, f"{filename}: not a wheel of {name} {version}")
    where = f"{where}{filename}: "
    url = reader.get(item, "url", str, where)
    path = reader.get(item, "path", str, where)
    if (url is None) == (path is None):
        raise reader.fail(where, "give exactly one of 'url' or 'path'")
    if url is not None:
        reader.http_url(url, where, "url")
    if path is not None:
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or "\\" in path or ":" in path:
            raise reader.fail(where, "'path' must be relative and inside the lock's directory")
    size = reader.get(item, "size", int, where)
    if size is not None and size < 0:
        raise reader.fail(where, "'size' is negative")
    hashes_raw = reader.get(item, "hashes", dict, where, required=True)
    hashes: dict[str, str] = {}
    for algorithm, digest in hashes_raw.items():
        if not isinstance(digest, str) or not _HEX.match(digest.lower()):
            raise reader.fail(where, f"invalid {one_line(str(algorithm), 20)} hash")
        if str(algorithm).lower() in VERIFIABLE:  # others (shake_*, unknown) are not used
            hashes[str(algorithm).lower()] = digest.lower()
    if not hashes_raw:
        raise reader.fail(where, "no hashes (PEP 751 requires at least one)")
    if not STRONG & hashes.keys():
        raise reader.fail(
            where,
            f"no hash of sha256 or stronger (one of {', '.join(sorted(STRONG))}); "
            "md5, sha1 and shake_* alone are not trusted",
        )
    return LockedWheel(filename, url, path, size, hashes)
