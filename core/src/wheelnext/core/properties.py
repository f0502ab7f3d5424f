"""Variant properties ``namespace :: feature :: value``, validated as PEP 825 defines them.

Character sets (PEP 825, "Variant properties"): namespaces and feature names match
``[a-z0-9_]+``, values match ``[a-z0-9_.]+``. No length limit is set by the standard.
Text forms use `` :: `` as separator; parsers accept any whitespace, or none, around it.
"""

from __future__ import annotations

import re

from wheelnext.core._frozen import Frozen
from wheelnext.core.errors import InvalidPropertyError

TYPE_CHECKING = False  # not typing's: wn-detect's start-up
if TYPE_CHECKING:
    from typing import Self

NAMESPACE_PATTERN = r"[a-z0-9_]+"
FEATURE_PATTERN = r"[a-z0-9_]+"
VALUE_PATTERN = r"[a-z0-9_.]+"

_NAMESPACE_RE = re.compile(NAMESPACE_PATTERN)
_FEATURE_RE = re.compile(FEATURE_PATTERN)
_VALUE_RE = re.compile(VALUE_PATTERN)
_SEPARATOR_RE = re.compile(r"\s*::\s*")
_set = object.__setattr__  # the records' own __setattr__ refuses every assignment


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


class VariantFeature(Frozen):
    """A feature within a namespace: ``namespace :: feature``."""

    __slots__ = __match_args__ = ("namespace", "feature")
    namespace: str
    feature: str

    def __init__(self, namespace: str, feature: str) -> None:
        _set(self, "namespace", validate_namespace(namespace))
        _set(self, "feature", validate_feature_name(feature))

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``"ns :: feature"``, tolerant of whitespace around ``::``."""
        namespace, feature = _split(text, 2, "feature")
        return cls(namespace, feature)

    def __str__(self) -> str:
        return f"{self.namespace} :: {self.feature}"

    # equal only to the same class; ordered and hashed as the tuple of the fields
    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.namespace, self.feature) == (other.namespace, other.feature)

    def __hash__(self) -> int:
        return hash((self.namespace, self.feature))

    def __lt__(self, other: VariantFeature) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.namespace, self.feature) < (other.namespace, other.feature)

    def __le__(self, other: VariantFeature) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.namespace, self.feature) <= (other.namespace, other.feature)

    def __gt__(self, other: VariantFeature) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.namespace, self.feature) > (other.namespace, other.feature)

    def __ge__(self, other: VariantFeature) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.namespace, self.feature) >= (other.namespace, other.feature)


class VariantProperty(Frozen):
    """One variant property: ``namespace :: feature :: value``."""

    __slots__ = __match_args__ = ("namespace", "feature", "value")
    namespace: str
    feature: str
    value: str

    def __init__(self, namespace: str, feature: str, value: str) -> None:
        _set(self, "namespace", validate_namespace(namespace))
        _set(self, "feature", validate_feature_name(feature))
        _set(self, "value", validate_value(value))

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

    # equal only to the same class; ordered and hashed as the tuple of the fields
    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.namespace, self.feature, self.value) == (
            other.namespace,
            other.feature,
            other.value,
        )

    def __hash__(self) -> int:
        return hash((self.namespace, self.feature, self.value))

    def __lt__(self, other: VariantProperty) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.namespace, self.feature, self.value) < (
            other.namespace,
            other.feature,
            other.value,
        )

    def __le__(self, other: VariantProperty) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.namespace, self.feature, self.value) <= (
            other.namespace,
            other.feature,
            other.value,
        )

    def __gt__(self, other: VariantProperty) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.namespace, self.feature, self.value) > (
            other.namespace,
            other.feature,
            other.value,
        )

    def __ge__(self, other: VariantProperty) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.namespace, self.feature, self.value) >= (
            other.namespace,
            other.feature,
            other.value,
        )


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
