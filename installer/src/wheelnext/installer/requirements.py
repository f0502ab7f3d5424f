"""Requirements as the user wrote them: ``pkg``, ``pkg[]`` and ``pkg[x]`` stay distinct.

PEP 771 gives ``pkg`` (default extras on) and ``pkg[]`` (none) different meanings, but
``packaging`` parses both to the same object, so the bracket pair is recorded here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from wheelnext.core.markers import VariantMarker, split_marker
from wheelnext.installer.errors import InstallerError

# the name, then optional whitespace, then "[": brackets were written (PEP 508 grammar)
_BRACKETS = re.compile(r"^\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*\[")


@dataclass(frozen=True, slots=True)
class Wanted:
    """A dependency specifier, its variant-aware marker, and whether brackets were written."""

    requirement: Requirement
    marker: VariantMarker | None
    brackets: bool
    text: str

    @property
    def name(self) -> NormalizedName:
        return canonicalize_name(self.requirement.name)

    @property
    def extras(self) -> frozenset[NormalizedName]:
        return frozenset(canonicalize_name(e) for e in self.requirement.extras)

    @classmethod
    def parse(cls, text: str, origin: str = "requirement") -> Wanted:
        """Parse one PEP 508 line; the error names ``origin`` (a file and line, or the CLI)."""
        head, marker = split_marker(text)
        try:
            requirement = Requirement(head)
            parsed_marker = VariantMarker(marker) if marker is not None else None
        except (InvalidRequirement, ValueError) as exc:
            reason = (str(exc).splitlines() or ["invalid"])[0]
            raise InstallerError(f"{origin}: invalid requirement {text!r}: {reason}") from None
        return cls(requirement, parsed_marker, bool(_BRACKETS.match(head)), text.strip())


def read_requirements_file(path: str) -> list[Wanted]:
    """``-r FILE``: one requirement per line; ``#`` comments and blank lines are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InstallerError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InstallerError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    wanted = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise InstallerError(f"{path}:{number}: options in requirement files are not supported")
        wanted.append(Wanted.parse(line, f"{path}:{number}"))
    return wanted
