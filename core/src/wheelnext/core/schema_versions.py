"""The ``$schema`` URLs of variant metadata and the format versions this library reads.

Versions in use (see spec/metadata.md):
- ``0.0.x``: variantlib 0.0.x / PEP 817, ``https://variants-schema.wheelnext.dev/v0.0.3.json``
- ``0.1.x``: PEP 825, ``https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json``
- ``0.2.x``: providers draft and variantlib 0.2.2, ``https://variants-schema.wheelnext.dev/v0.2.0.json``
  (also spelled ``.../peps/<n>/v0.2.0.json`` by the draft)

Under semver a ``0.x`` minor is incompatible with every other, so the *family* (major,
minor) selects the format and a newer patch of a known family is accepted; any other
version is refused (PEP 825: tools MUST reject versions they do not support).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wheelnext.core.errors import UnknownSchemaVersionError

SCHEMA_HOST = "https://variants-schema.wheelnext.dev/"
_URL_RE = re.compile(
    r"https://variants-schema\.wheelnext\.dev/(?:peps/(?P<pep>\d+)/)?"
    r"v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)\.json"
)

FAMILY_0_0 = (0, 0)
FAMILY_0_1 = (0, 1)
FAMILY_0_2 = (0, 2)
SUPPORTED_FAMILIES = (FAMILY_0_0, FAMILY_0_1, FAMILY_0_2)


@dataclass(frozen=True, order=True, slots=True)
class SchemaVersion:
    """A metadata format version and the exact ``$schema`` URL it was written with."""

    major: int
    minor: int
    patch: int
    url: str

    @property
    def family(self) -> tuple[int, int]:
        return self.major, self.minor

    @property
    def label_max_length(self) -> int | None:
        """Labels were capped at 16 characters up to 0.1.0; PEP 825 0.1.1 lifted it."""
        if (self.major, self.minor, self.patch) <= (0, 1, 0):
            return 16
        return None

    @property
    def has_feature_priorities(self) -> bool:
        """``default-priorities.feature/property`` exist in every format but 0.1.1+."""
        return self.family != FAMILY_0_1 or self.patch == 0

    @property
    def has_providers(self) -> bool:
        """``providers`` exists in 0.0.x and 0.2.x, not in PEP 825's 0.1.x."""
        return self.family != FAMILY_0_1

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


PEP825_V0_1_1 = SchemaVersion(0, 1, 1, f"{SCHEMA_HOST}peps/825/v0.1.1.json")
PROVIDERS_V0_2_0 = SchemaVersion(0, 2, 0, f"{SCHEMA_HOST}v0.2.0.json")
VARIANTLIB_V0_0_3 = SchemaVersion(0, 0, 3, f"{SCHEMA_HOST}v0.0.3.json")


def parse_schema_url(url: object) -> SchemaVersion:
    """Map a ``$schema`` value to a supported SchemaVersion or raise with the reason."""
    if not isinstance(url, str):
        raise UnknownSchemaVersionError(f"'$schema' must be a string, got {url!r}")
    if url == SCHEMA_HOST:  # the first variantlib files carried no version at all
        return SchemaVersion(0, 0, 1, url)
    match = _URL_RE.fullmatch(url)
    if match is None:
        raise UnknownSchemaVersionError(f"unrecognised '$schema' URL {url!r}")
    version = SchemaVersion(int(match["major"]), int(match["minor"]), int(match["patch"]), url)
    if version.family not in SUPPORTED_FAMILIES:
        supported = ", ".join(f"{a}.{b}.x" for a, b in SUPPORTED_FAMILIES)
        raise UnknownSchemaVersionError(
            f"unsupported variant metadata schema version {version} (supported: {supported})"
        )
    return version
