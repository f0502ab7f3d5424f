"""Variant properties ``namespace :: feature :: value``, validated as PEP 825 defines them.

Character sets (PEP 825, "Variant properties"): namespaces and feature names match
``[a-z0-9_]+``, values match ``[a-z0-9_.]+``. No length limit is set by the standard.
Text forms use `` :: `` as separator; parsers accept any whitespace, or none, around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Self

from wheelnext.core.errors import InvalidPropertyError

NAMESPACE_PATTERN = r"[a-z0-9_]+"
FEATURE_PATTERN = r"[a-z0-9_]+"
VALUE_PATTERN = r"[a-z0-9_.]+"

_NAMESPACE_RE = re.compile(NAMESPACE_PATTERN)
_FEATURE_RE = re.compile(FEATURE_PATTERN)
_VALUE_RE = re.compile(VALUE_PATTERN)
_SEPARATOR_RE = re.compile(r"\s*::\s*")


def _check(kind: str, text: object, regex: re.Pattern[str], charset: str) -> str:
    if not isinstance(text, str):
        raise InvalidPropertyError(f"invalid variant {kind} {text!r}: not a string")
    if not regex.fullmatch(text):
        raise InvalidPropertyError(f"invalid variant {kind} {text!r}: must match {charset}")
    return text


def validate_namespace(text: object) -> str:
    """Return ``text`` if it is a valid namespace, else raise InvalidPropertyError."""
    return _check("namespace", text, _NAMESPACE_RE, NAMESPACE_PATTERN)


def validate_feature_name(text: object) -> str:
    """Return ``text`` if it is a valid feature name, else raise InvalidPropertyError."""
    return _check("feature name", text, _FEATURE_RE, FEATURE_PATTERN)


def validate_value(text: object) -> str:
    """Return ``text`` if it is a valid feature value, else raise InvalidPropertyError."""
    return _check("feature value", text, _VALUE_RE, VALUE_PATTERN)


def _split(text: str, parts: int, kind: str) -> list[str]:
    pieces = _SEPARATOR_RE.split(text.strip())
    if len(pieces) != parts:
        expected = " :: ".join(["namespace", "feature", "value"][:parts])
        raise InvalidPropertyError(f"invalid variant {kind} {text!r}: expected '{expected}'")
    return pieces


@dataclass(frozen=True, order=True, slots=True)
class VariantFeature:
    """A feature within a namespace: ``namespace :: feature``."""

    namespace: str
    feature: str

    def __post_init__(self) -> None:
        validate_namespace(self.namespace)
        validate_feature_name(self.feature)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``"ns :: feature"``, tolerant of whitespace around ``::``."""
        namespace, feature = _split(text, 2, "feature")
        return cls(namespace, feature)

    def __str__(self) -> str:
        return f"{self.namespace} :: {self.feature}"


@dataclass(frozen=True, order=True, slots=True)
class VariantProperty:
    """One variant property: ``namespace :: feature :: value``."""

    namespace: str
    feature: str
    value: str

    def __post_init__(self) -> None:
        validate_namespace(self.namespace)
        validate_feature_name(self.feature)
        validate_value(self.value)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``"ns :: feature :: value"``, tolerant of whitespace around ``::``."""
        namespace, feature, value = _split(text, 3, "property")
        return cls(namespace, feature, value)

    @property
    def feature_key(self) -> VariantFeature:
        """The ``namespace :: feature`` this property belongs to."""
        return VariantFeature(self.namespace, self.feature)

    def __str__(self) -> str:
        return f"{self.namespace} :: {self.feature} :: {self.value}"


PropertyTree = dict[str, dict[str, list[str]]]
"""The JSON shape of a property set: ``{namespace: {feature: [values]}}``."""


def properties_from_tree(tree: PropertyTree) -> frozenset[VariantProperty]:
    """Expand ``{ns: {feature: [values]}}`` into a set of properties (validated)."""
    return frozenset(
        VariantProperty(namespace, feature, value)
        for namespace, features in tree.items()
        for feature, values in features.items()
        for value in values
    )


def properties_to_tree(properties: frozenset[VariantProperty]) -> PropertyTree:
    """Fold properties into ``{ns: {feature: [values]}}`` with keys and values sorted.

    Sorted value lists are what PEP 825 prescribes for serialising these sets.
    """
    tree: PropertyTree = {}
    for prop in sorted(properties):
        tree.setdefault(prop.namespace, {}).setdefault(prop.feature, []).append(prop.value)
    return tree
