"""Requirements as the user wrote them: ``pkg``, ``pkg[]`` and ``pkg[x]`` stay distinct.

PEP 771 gives ``pkg`` (default extras on) and ``pkg[]`` (none) different meanings, but
``packaging`` parses both to the same object, so the bracket pair is recorded here.
A path to a ``.whl`` file (``./dist/pkg-1.0-py3-none-any.whl``, as pip users write it)
becomes ``pkg @ file:///abs/path.whl``, the name taken from the parsed wheel filename,
and is then checked like any direct reference (``direct.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from wheelnext.core.errors import WheelnextError, one_line
from wheelnext.core.filenames import WheelFilename
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
    def parse(cls, text: str, origin: str = "requirement", base: Path | None = None) -> Wanted:
        """Parse one PEP 508 line, or a path to a wheel (relative to ``base``, default the
        working directory); the error names ``origin`` (a file and line, or the CLI)."""
        head, marker = split_marker(text)
        if _is_wheel_path(head):
            text = wheel_path_requirement(head.strip(), origin, base)
            if marker is not None:
                text += f" ; {marker}"
            head, marker = split_marker(text)
        try:
            requirement = Requirement(head)
            parsed_marker = VariantMarker(marker) if marker is not None else None
        except (InvalidRequirement, ValueError) as exc:
            reason = (str(exc).splitlines() or ["invalid"])[0]
            raise InstallerError(f"{origin}: invalid requirement {text!r}: {reason}") from None
        return cls(requirement, parsed_marker, bool(_BRACKETS.match(head)), text.strip())


def _is_wheel_path(head: str) -> bool:
    """A requirement written as a path to a wheel: ends in ``.whl``, no ``name @``."""
    return head.strip().lower().endswith(".whl") and "@" not in head


def wheel_path_requirement(written: str, origin: str, base: Path | None = None) -> str:
    """``./dir/pkg-1.0-py3-none-any.whl`` -> ``pkg @ file:///abs/dir/pkg-1.0-…whl``; the
    file must exist and its name must parse as a wheel filename (one-line error if not)."""
    shown = one_line(written, 200)
    named = (base or Path.cwd()) / Path(written).expanduser()
    path = named.parent.resolve() / named.name  # the folder resolved, the wheel's own name
    if path.is_dir():
        raise InstallerError(f"{origin}: {shown}: is a directory, not a wheel")
    if not path.is_file():
        raise InstallerError(f"{origin}: {shown}: no such file")
    try:
        wheel = WheelFilename.parse(path.name)
    except (WheelnextError, ValueError) as exc:
        raise InstallerError(f"{origin}: {one_line(str(exc), 300)}") from None
    return f"{wheel.name} @ {path.as_uri()}"


def read_requirements_file(path: str, option: str = "-r") -> list[Wanted]:
    """``-r FILE``: one requirement per line; ``#`` comments and blank lines are skipped.
    The file must be a regular file of at most 16 MiB (``read_user_text``; a ConfigError
    naming ``option`` and the file otherwise)."""
    from wheelnext.core.files import read_user_text

    lines = read_user_text(path, option).splitlines()
    wanted = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise InstallerError(f"{path}:{number}: options in requirement files are not supported")
        wanted.append(Wanted.parse(line, f"{path}:{number}", Path(path).parent))
    return wanted
