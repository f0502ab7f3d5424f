"""Variant environment markers in dependency specifiers (PEP 825 "Environment markers").

Four markers, valued per selected wheel: ``variant_label`` (a string: the label, ``null``
for the null variant, ``""`` for a non-variant wheel) and the sets ``variant_namespaces``,
``variant_features`` (``"ns :: f"``) and ``variant_properties`` (``"ns :: f :: v"``),
holding the wheel's properties *that the target supports*. Sets take ``in``/``not in``;
whitespace around ``::`` is ignored.

``packaging`` does not know these names, so this module parses the boolean structure
itself, evaluates variant clauses, and hands every other clause to ``packaging.markers``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Self

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement

from wheelnext.core.errors import MarkerError, WheelnextError
from wheelnext.core.properties import VariantFeature, VariantProperty, validate_namespace

LABEL_MARKER = "variant_label"
SET_MARKERS = frozenset({"variant_namespaces", "variant_features", "variant_properties"})
VARIANT_MARKERS = SET_MARKERS | {LABEL_MARKER}

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) |
        (?P<string>'[^']*'|"[^"]*") |
        (?P<op>===|==|~=|!=|<=|>=|<|>) |
        (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class VariantEnvironment:
    """The variant marker values of one selected wheel."""

    label: str = ""
    properties: frozenset[VariantProperty] = frozenset()

    @classmethod
    def for_wheel(
        cls,
        label: str | None,
        properties: Iterable[VariantProperty] = (),
        supported: Callable[[VariantProperty], bool] | None = None,
    ) -> Self:
        """Values for a wheel (label None: non-variant), keeping supported properties only."""
        kept = frozenset(p for p in properties if supported is None or supported(p))
        return cls("" if label is None else label, kept)

    @property
    def features(self) -> frozenset[VariantFeature]:
        return frozenset(p.feature_key for p in self.properties)

    @property
    def namespaces(self) -> frozenset[str]:
        return frozenset(p.namespace for p in self.properties)

    def as_dict(self) -> dict[str, str | set[str]]:
        """The four markers as strings and sets of strings."""
        return {
            LABEL_MARKER: self.label,
            "variant_namespaces": set(self.namespaces),
            "variant_features": {str(f) for f in self.features},
            "variant_properties": {str(p) for p in self.properties},
        }


# ------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class _BoolOp:
    op: str  # "and" | "or"
    items: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Standard:
    text: str  # a clause packaging evaluates


@dataclass(frozen=True, slots=True)
class _VariantClause:
    marker: str
    op: str
    value: str  # normalised operand: a property/feature/namespace string or label text
    reverse: bool  # label marker on the right of ``in``: "x" in variant_label


_Node = _BoolOp | _Standard | _VariantClause


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:
            raise MarkerError(f"invalid marker {text!r}: unexpected text at {text[pos:].strip()!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match[kind]))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def error(self, message: str) -> MarkerError:
        return MarkerError(f"invalid marker {self.text!r}: {message}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end")
        self.pos += 1
        return token

    def parse(self) -> _Node:
        node = self.expr_or()
        if self.peek() is not None:
            raise self.error(f"unexpected {self.tokens[self.pos][1]!r}")
        return node

    def expr_or(self) -> _Node:
        return self._chain("or", self.expr_and)

    def expr_and(self) -> _Node:
        return self._chain("and", self.atom)

    def _chain(self, op: str, item: Callable[[], _Node]) -> _Node:
        """``item (op item)*``: one node, or a _BoolOp when ``op`` joins several."""
        items = [item()]
        while self.peek() == ("word", op):
            self.take()
            items.append(item())
        return items[0] if len(items) == 1 else _BoolOp(op, tuple(items))

    def atom(self) -> _Node:
        if self.peek() == ("lparen", "("):
            self.take()
            node = self.expr_or()
            if self.peek() != ("rparen", ")"):
                raise self.error("missing ')'")
            self.take()
            return node
        lhs = self.take()
        op = self.operator()
        rhs = self.take()
        for side in (lhs, rhs):
            if side[0] not in ("string", "word") or side[1] in ("and", "or", "in", "not"):
                raise self.error(f"expected a variable or a quoted string, got {side[1]!r}")
        names = {s[1] for s in (lhs, rhs) if s[0] == "word"}
        if not names & VARIANT_MARKERS:
            return _Standard(f"{lhs[1]} {op} {rhs[1]}")
        return self.variant_clause(lhs, op, rhs)

    def operator(self) -> str:
        kind, value = self.take()
        if kind == "op" or (kind, value) == ("word", "in"):
            return value
        if (kind, value) == ("word", "not") and self.take() == ("word", "in"):
            return "not in"
        raise self.error(f"expected an operator, got {value!r}")

    def variant_clause(self, lhs: tuple[str, str], op: str, rhs: tuple[str, str]) -> _VariantClause:
        if lhs[0] == rhs[0]:
            raise self.error("compare a variant marker with a quoted string")
        reverse = lhs[0] == "word"
        marker, literal = (lhs[1], rhs[1][1:-1]) if reverse else (rhs[1], lhs[1][1:-1])
        if marker not in VARIANT_MARKERS:  # e.g. variant_label == os_name
            raise self.error("compare a variant marker with a quoted string")
        if marker == LABEL_MARKER:
            if op not in ("==", "!=", "===", "in", "not in"):
                raise self.error(f"{LABEL_MARKER} supports ==, !=, in and not in, not {op!r}")
            return _VariantClause(marker, op, literal, reverse)
        if reverse or op not in ("in", "not in"):
            raise self.error(f"use '\"...\" in {marker}' or 'not in': {marker} is a set")
        try:
            if marker == "variant_properties":
                literal = str(VariantProperty.parse(literal))
            elif marker == "variant_features":
                literal = str(VariantFeature.parse(literal))
            else:
                literal = validate_namespace(literal.strip())
        except WheelnextError as exc:
            raise self.error(str(exc)) from None
        return _VariantClause(marker, op, literal, reverse)


def _has_variant(node: _Node) -> bool:
    if isinstance(node, _BoolOp):
        return any(_has_variant(child) for child in node.items)
    return isinstance(node, _VariantClause)


class VariantMarker:
    """A PEP 508 marker that may also use the four variant markers."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._tree = _Parser(text).parse()
        self._std: dict[str, Marker] = {}
        self._compile(self._tree)

    def _compile(self, node: _Node) -> None:
        if isinstance(node, _BoolOp):
            for child in node.items:
                self._compile(child)
        elif isinstance(node, _Standard):
            try:
                self._std[node.text] = Marker(node.text)
            except InvalidMarker as exc:
                raise MarkerError(f"invalid marker {self.text!r}: {exc}") from None

    @property
    def uses_variants(self) -> bool:
        """True if any clause names a variant marker."""
        return _has_variant(self._tree)

    def evaluate(
        self, variant: VariantEnvironment, environment: Mapping[str, str] | None = None
    ) -> bool:
        """Evaluate against the selected wheel's variant values and the environment."""
        values = variant.as_dict()
        return self._eval(self._tree, values, environment)

    def _eval(
        self,
        node: _Node,
        values: dict[str, str | set[str]],
        environment: Mapping[str, str] | None,
    ) -> bool:
        if isinstance(node, _BoolOp):
            results = (self._eval(c, values, environment) for c in node.items)
            return all(results) if node.op == "and" else any(results)
        if isinstance(node, _Standard):
            try:
                return self._std[node.text].evaluate(dict(environment) if environment else None)
            except (UndefinedComparison, UndefinedEnvironmentName) as exc:
                raise MarkerError(f"cannot evaluate marker {self.text!r}: {exc}") from None
        clause = node
        actual = values[clause.marker]
        if clause.marker == LABEL_MARKER:
            assert isinstance(actual, str)
            if clause.op in ("==", "==="):
                return actual == clause.value
            if clause.op == "!=":
                return actual != clause.value
            inside = (actual in clause.value) if clause.reverse else (clause.value in actual)
            return inside if clause.op == "in" else not inside
        inside = clause.value in actual
        return inside if clause.op == "in" else not inside

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<VariantMarker({self.text!r})>"


@dataclass(frozen=True, slots=True)
class VariantRequirement:
    """A dependency specifier whose marker may use variant markers."""

    requirement: Requirement
    marker: VariantMarker | None

    @classmethod
    def parse(cls, text: str) -> Self:
        head, marker = split_marker(text)
        try:
            requirement = Requirement(head)
        except InvalidRequirement as exc:
            raise MarkerError(f"invalid requirement {text!r}: {exc}") from None
        return cls(requirement, VariantMarker(marker) if marker is not None else None)

    def applies(
        self, variant: VariantEnvironment, environment: Mapping[str, str] | None = None
    ) -> bool:
        """True when the requirement's marker holds (always, without a marker)."""
        return self.marker is None or self.marker.evaluate(variant, environment)


def split_marker(text: str) -> tuple[str, str | None]:
    """Split ``req ; marker``; with a URL (``@``), only a ';' after whitespace ends it."""
    at = text.find("@")
    for index, char in enumerate(text):
        if char == ";" and (at == -1 or index < at or text[index - 1].isspace()):
            return text[:index].strip(), text[index + 1 :].strip()
    return text.strip(), None
