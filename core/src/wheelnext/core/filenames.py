"""Wheel filenames with the optional variant label, and ``{name}-{version}-variants.json``.

Grammar (PEP 825)::

    {name}-{version}(-{build})?-{python}-{abi}-{platform}(-{label})?.whl

Six components are ambiguous; the third decides: a build tag starts with a digit and a
Python tag must not (PEP 825), so otherwise the sixth component is a label. Everything
the label does not touch is parsed by ``packaging.utils.parse_wheel_filename``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Self

from packaging.tags import Tag, parse_tag
from packaging.utils import (
    BuildTag,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from wheelnext.core.errors import InvalidFilenameError, InvalidLabelError
from wheelnext.core.labels import NULL_LABEL, validate_label

VARIANTS_JSON_SUFFIX = "-variants.json"


def escape_name(name: str) -> str:
    """A distribution name as wheel filenames spell it: normalised, ``-`` as ``_``."""
    return canonicalize_name(name).replace("-", "_")


@dataclass(frozen=True, slots=True)
class WheelFilename:
    """A parsed wheel filename; ``label`` is None for a non-variant wheel."""

    name: NormalizedName
    version: Version
    build: BuildTag
    python_tag: str
    abi_tag: str
    platform_tag: str
    label: str | None = None

    @classmethod
    def parse(cls, filename: str) -> Self:
        """Parse ``filename``; raise InvalidFilenameError naming it on any problem."""
        if not filename.endswith(".whl"):
            raise InvalidFilenameError(f"invalid wheel filename {filename!r}: must end in .whl")
        parts = filename[: -len(".whl")].split("-")
        label: str | None = None
        if len(parts) == 7 or (len(parts) == 6 and not parts[2][:1].isdigit()):
            label = parts.pop()
        if len(parts) not in (5, 6):
            raise InvalidFilenameError(
                f"invalid wheel filename {filename!r}: wrong number of '-' separated parts"
            )
        python_tag, abi_tag, platform_tag = parts[-3:]
        if python_tag[:1].isdigit():
            raise InvalidFilenameError(
                f"invalid wheel filename {filename!r}: Python tag {python_tag!r} "
                "must not start with a digit"
            )
        try:
            name, version, build = _parse_base("-".join(parts) + ".whl")
        except (InvalidWheelFilename, InvalidVersion) as exc:
            raise InvalidFilenameError(f"invalid wheel filename {filename!r}: {exc}") from None
        if label is not None:
            try:
                validate_label(label)
            except InvalidLabelError as exc:
                raise InvalidFilenameError(f"invalid wheel filename {filename!r}: {exc}") from None
        return cls(name, version, build, python_tag, abi_tag, platform_tag, label)

    @property
    def tags(self) -> frozenset[Tag]:
        """Every tag of the (possibly compressed) tag triple."""
        return expand_tags(self.python_tag, self.abi_tag, self.platform_tag)

    @property
    def is_variant(self) -> bool:
        """True for any wheel with a label, the null variant included."""
        return self.label is not None

    @property
    def is_null_variant(self) -> bool:
        return self.label == NULL_LABEL

    @property
    def release(self) -> tuple[NormalizedName, Version]:
        """(name, version): what a variants file and its wheels share."""
        return self.name, self.version

    def with_label(self, label: str | None) -> WheelFilename:
        """The same wheel with another label (None: the non-variant filename)."""
        if label is not None:
            validate_label(label)
        return WheelFilename(
            self.name,
            self.version,
            self.build,
            self.python_tag,
            self.abi_tag,
            self.platform_tag,
            label,
        )

    def __str__(self) -> str:
        build = f"-{self.build[0]}{self.build[1]}" if self.build else ""
        label = f"-{self.label}" if self.label is not None else ""
        return (
            f"{escape_name(self.name)}-{self.version}{build}-{self.python_tag}-"
            f"{self.abi_tag}-{self.platform_tag}{label}.whl"
        )


@functools.lru_cache(maxsize=4096)
def _parse_base(filename: str) -> tuple[NormalizedName, Version, BuildTag]:
    """packaging's parse of a label-less filename; the wheels of a release share a few."""
    name, version, build, _ = parse_wheel_filename(filename)
    return name, version, build


@functools.lru_cache(maxsize=4096)
def expand_tags(python_tag: str, abi_tag: str, platform_tag: str) -> frozenset[Tag]:
    """The tags of a compressed tag triple (``packaging.tags.parse_tag``)."""
    return parse_tag(f"{python_tag}-{abi_tag}-{platform_tag}")


_VARIANTS_JSON_RE = re.compile(r"(?P<name>[^-/\\]+)-(?P<version>[^-/\\]+)-variants\.json")


def variants_json_filename(name: str, version: str | Version) -> str:
    """``{name}-{version}-variants.json``, normalised as in wheel filenames (PEP 825)."""
    return f"{escape_name(name)}-{Version(str(version))}{VARIANTS_JSON_SUFFIX}"


def parse_variants_json_filename(filename: str) -> tuple[NormalizedName, Version]:
    """Return (name, version) of a ``{name}-{version}-variants.json`` filename."""
    match = _VARIANTS_JSON_RE.fullmatch(filename)
    if match is None:
        raise InvalidFilenameError(
            f"invalid variants file name {filename!r}: "
            "expected '{name}-{version}-variants.json'"
        )
    try:
        version = Version(match["version"])
    except InvalidVersion:
        raise InvalidFilenameError(
            f"invalid variants file name {filename!r}: bad version {match['version']!r}"
        ) from None
    return canonicalize_name(match["name"]), version


def is_variants_json_filename(filename: str) -> bool:
    """True if ``filename`` has the shape of an index-level variants file."""
    return _VARIANTS_JSON_RE.fullmatch(filename) is not None
