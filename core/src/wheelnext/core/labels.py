"""Variant labels: the filename component that names a variant within a release.

PEP 825 (0.1.1): labels match ``[0-9a-z_.]+`` with no length limit; ``null`` is reserved
for the empty property set, and the empty set may only use ``null``. Formats up to 0.1.0
and variantlib capped labels at 16 characters (``LEGACY_LABEL_MAX_LENGTH``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from wheelnext.core.errors import InvalidLabelError
from wheelnext.core.properties import VariantProperty

LABEL_PATTERN = r"[0-9a-z_.]+"
NULL_LABEL = "null"
LEGACY_LABEL_MAX_LENGTH = 16
HASH_LABEL_LENGTH = 8

_LABEL_RE = re.compile(LABEL_PATTERN)


def validate_label(label: object, *, max_length: int | None = None) -> str:
    """Return ``label`` if it is a valid variant label, else raise InvalidLabelError."""
    if not isinstance(label, str):
        raise InvalidLabelError(f"invalid variant label {label!r}: not a string")
    if not _LABEL_RE.fullmatch(label):
        raise InvalidLabelError(f"invalid variant label {label!r}: must match {LABEL_PATTERN}")
    if max_length is not None and len(label) > max_length:
        raise InvalidLabelError(
            f"invalid variant label {label!r}: longer than {max_length} characters"
        )
    return label


def check_label_matches(label: str, properties: frozenset[VariantProperty]) -> None:
    """Enforce the null rules: ``null`` <=> no properties."""
    if label == NULL_LABEL and properties:
        raise InvalidLabelError(f"label {NULL_LABEL!r} is reserved for the empty property set")
    if label != NULL_LABEL and not properties:
        raise InvalidLabelError(
            f"variant {label!r} has no properties: the empty set must use label {NULL_LABEL!r}"
        )


def hash_label(properties: Iterable[VariantProperty]) -> str:
    """The 8-hex-digit label variantlib derives from a property set (``null`` if empty).

    SHA-256 over the sorted ``"ns :: f :: v\\n"`` lines, first 8 hex digits; a free-form
    label under PEP 825, used by tools that need a stable default.
    """
    props = sorted(set(properties))
    if not props:
        return NULL_LABEL
    text = "".join(f"{p}\n" for p in props)
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LABEL_LENGTH]
