from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wheelnext.core.errors import InvalidPropertyError
from wheelnext.core.properties import (
    VariantFeature,
    VariantProperty,
    properties_from_tree,
    properties_to_tree,
    validate_namespace,
    validate_value,
)

names = st.from_regex(r"[a-z0-9_]+", fullmatch=True)
values = st.from_regex(r"[a-z0-9_.]+", fullmatch=True)
spaces = st.sampled_from(["", " ", "  ", "\t", " \t "])


@pytest.mark.parametrize(
    "text",
    [
        "x86_64::level::v3",
        "x86_64 :: level :: v3",
        "  x86_64  ::level::  v3 ",
        "x86_64\t::\tlevel::v3",
    ],
)
def test_parse_tolerates_whitespace_around_separators(text: str) -> None:
    assert VariantProperty.parse(text) == VariantProperty("x86_64", "level", "v3")


def test_text_form_uses_spaced_separator() -> None:
    prop = VariantProperty.parse("nvidia::sm_arch::120_real")
    assert str(prop) == "nvidia :: sm_arch :: 120_real"
    assert str(prop.feature_key) == "nvidia :: sm_arch"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("X86::level::v3", "invalid variant namespace 'X86'"),
        ("x86_64::Level::v3", "invalid variant feature name 'Level'"),
        ("x86_64::level::v-3", "invalid variant feature value 'v-3'"),
        ("x86_64::level", "invalid variant property 'x86_64::level'"),
        ("a::b::c::d", "invalid variant property 'a::b::c::d'"),
        ("a::b.c::d", "invalid variant feature name 'b.c'"),
        ("::b::c", "invalid variant namespace ''"),
    ],
)
def test_invalid_properties_name_the_bad_string(text: str, message: str) -> None:
    with pytest.raises(InvalidPropertyError, match=message):
        VariantProperty.parse(text)


def test_values_may_contain_dots_but_names_may_not() -> None:
    assert validate_value("12.8") == "12.8"
    with pytest.raises(InvalidPropertyError):
        validate_namespace("a.b")


def test_feature_parse_and_errors() -> None:
    assert VariantFeature.parse(" nvidia::sm_arch ") == VariantFeature("nvidia", "sm_arch")
    with pytest.raises(InvalidPropertyError, match="expected 'namespace :: feature'"):
        VariantFeature.parse("nvidia::sm_arch::x")


def test_non_string_input_is_rejected() -> None:
    with pytest.raises(InvalidPropertyError, match="not a string"):
        validate_namespace(3)


def test_tree_round_trip_sorts_values() -> None:
    tree = {"b": {"f": ["z", "a"]}, "a": {"g": ["1"]}}
    props = properties_from_tree(tree)
    assert len(props) == 3
    assert properties_to_tree(props) == {"a": {"g": ["1"]}, "b": {"f": ["a", "z"]}}


@given(names, names, values, spaces, spaces)
def test_parse_format_round_trip(ns: str, feat: str, val: str, s1: str, s2: str) -> None:
    prop = VariantProperty(ns, feat, val)
    assert VariantProperty.parse(str(prop)) == prop
    assert VariantProperty.parse(f"{ns}{s1}::{s2}{feat}{s2}::{s1}{val}") == prop
