from __future__ import annotations

import pytest

from wheelnext.core.errors import InvalidLabelError
from wheelnext.core.labels import check_label_matches, hash_label, validate_label
from wheelnext.core.properties import VariantProperty

P = VariantProperty.parse

# variantlib's default labels, recorded by running variantlib (digest §12.1)
HASH_VECTORS = [
    (["a::b::c"], "01a9783a"),
    (["d::e::f"], "41665eee"),
    (["a::b::c", "d::e::f"], "eb9a66a7"),
    (["d::e::f", "a::b::c"], "eb9a66a7"),
    (["a::b::c", "d::e::f", "a::c::b"], "1e9328d5"),
    (["provider::feature::value"], "c44d3adf"),
    (["ns1::f1::p1", "ns1::f2::p2", "ns2::f1::p1"], "67fcaf38"),
    (["fictional_hw::compute_capability::4", "fictional_hw::compute_capability::5"], "3351fc6a"),
    (["x86_64::level::v3"], "fa7c1393"),
]


@pytest.mark.parametrize(("props", "expected"), HASH_VECTORS)
def test_hash_label_matches_variantlib(props: list[str], expected: str) -> None:
    assert hash_label(P(p) for p in props) == expected


def test_hash_label_of_empty_set_is_null() -> None:
    assert hash_label([]) == "null"


def test_newline_separator_prevents_collisions() -> None:
    assert hash_label([P("a::b::cx"), P("d::e::f")]) != hash_label([P("a::b::c"), P("xd::e::f")])


@pytest.mark.parametrize("label", ["1", "null", "x8664v3.openblas", "12345678901234567", "xy1.2"])
def test_valid_labels(label: str) -> None:
    assert validate_label(label) == label


@pytest.mark.parametrize("label", ["Foo", "foo/bar", "", "a-b", "ä"])
def test_invalid_labels(label: str) -> None:
    with pytest.raises(InvalidLabelError, match="invalid variant label"):
        validate_label(label)


def test_legacy_length_limit() -> None:
    assert validate_label("a" * 16, max_length=16)
    with pytest.raises(InvalidLabelError, match="longer than 16"):
        validate_label("a" * 17, max_length=16)


def test_null_label_rules_both_ways() -> None:
    check_label_matches("null", frozenset())
    check_label_matches("foo", frozenset({P("a::b::c")}))
    with pytest.raises(InvalidLabelError, match="reserved"):
        check_label_matches("null", frozenset({P("a::b::c")}))
    with pytest.raises(InvalidLabelError, match="must use label 'null'"):
        check_label_matches("foo", frozenset())
