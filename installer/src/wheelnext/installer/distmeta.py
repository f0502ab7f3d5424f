"""Core metadata of a distribution (``METADATA``), with PEP 771's ``Default-Extra``.

``packaging.metadata`` parses the standard fields but rejects ``Default-Extra`` as
unrecognised, so the raw, unvalidated parse is read and each field checked here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from packaging.metadata import parse_email
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelnext.installer.errors import InstallerError
from wheelnext.installer.requirements import Wanted

LOG = logging.getLogger("wheelnext.installer")


@dataclass(frozen=True, slots=True)
class DistMetadata:
    """The fields resolution needs, and the raw text for reports."""

    name: NormalizedName
    display_name: str
    version: Version
    requires_dist: tuple[Wanted, ...]
    provides_extra: frozenset[NormalizedName]
    default_extra: frozenset[NormalizedName]
    requires_python: SpecifierSet | None
    raw: dict[str, object]
    wheel_version: str | None = None  # PEP 777's field: the wheel format version, if stated

    @classmethod
    def parse(cls, data: bytes, origin: str) -> DistMetadata:
        """Parse ``METADATA`` bytes; an error names ``origin`` (the file or URL)."""
        raw, unparsed = parse_email(data)
        try:
            display = str(raw["name"])
            version = Version(str(raw["version"]))
            requires_python = (
                SpecifierSet(str(raw["requires_python"])) if raw.get("requires_python") else None
            )
        except KeyError as exc:
            raise InstallerError(f"{origin}: METADATA has no {exc.args[0]!r}") from None
        except (InvalidVersion, InvalidSpecifier) as exc:
            raise InstallerError(f"{origin}: METADATA: {exc}") from None
        provides = frozenset(canonicalize_name(e) for e in raw.get("provides_extra", []))
        defaults = frozenset(canonicalize_name(e) for e in unparsed.get("default-extra", []))
        if defaults - provides:
            # PEP 771: every default must be a provided extra; keep going without the others
            LOG.warning(
                "%s: Default-Extra %s not in Provides-Extra; ignored",
                origin,
                ", ".join(sorted(defaults - provides)),
            )
            defaults &= provides
        try:
            requires = tuple(
                Wanted.parse(text, f"{origin}: Requires-Dist")
                for text in raw.get("requires_dist", [])
            )
        except RecursionError:  # a marker of thousands of nested parentheses
            raise InstallerError(f"{origin}: METADATA: a Requires-Dist nests too deeply") from None
        return cls(
            canonicalize_name(display),
            display,
            version,
            requires,
            provides,
            defaults,
            requires_python,
            {**dict(raw), **({"default_extra": sorted(defaults)} if defaults else {})},
            next(iter(unparsed.get("wheel-version", [])), None),
        )

    def to_json(self) -> dict[str, object]:
        """The JSON form of core metadata (PEP 566), as pip's installation report uses."""
        doc: dict[str, object] = {}
        for key, value in self.raw.items():
            doc[key] = [str(v) for v in value] if isinstance(value, list) else str(value)
        return doc
