"""Filtering and ordering: the standard's worked vectors and its invariants."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from packaging.tags import Tag

from tests.helpers import V003, V020, metadata_doc
from wheelnext.core.labels import hash_label
from wheelnext.core.metadata import parse_metadata
from wheelnext.core.ordering import RankTable, group_properties, promote
from wheelnext.core.priorities import UserPriorities
from wheelnext.core.properties import VariantProperty, properties_from_tree
from wheelnext.core.selector import select
from wheelnext.core.supported import SupportedProperties

ANY = [Tag("py3", "none", "any")]
P = VariantProperty.parse


def rank(
    namespaces: list[str],
    supported: dict[str, dict[str, list[str]]],
    variants: dict[str, Any],
    *,
    order: list[str] | None = None,
    priorities: UserPriorities | None = None,
    schema: str | None = None,
    package_priorities: dict[str, Any] | None = None,
    **extra: Any,
) -> list[str]:
    """Labels in ranked order, wheels given in ``order`` (default: the variants' order)."""
    if schema:
        extra["schema"] = schema
    if package_priorities:
        extra["priorities"] = package_priorities
    doc = metadata_doc(namespaces, variants, **extra)
    labels = order or list(variants)
    wheels = [f"p-1.0-py3-none-any-{label}.whl" for label in labels]
    result = select(
        wheels,
        parse_metadata(doc),
        SupportedProperties.from_features(supported),
        priorities=priorities,
        tags=ANY,
    )
    return [r.wheel.label or "" for r in result.ranked]


LEVELS = {"x86_64": {"level": ["v4", "v3", "v2", "v1"]}}


def test_v1_value_order() -> None:
    variants = {
        "v2": {"x86_64": {"level": ["v2"]}},
        "v4": {"x86_64": {"level": ["v4"]}},
        "v3": {"x86_64": {"level": ["v3"]}},
        "null": {},
    }
    assert rank(["x86_64"], LEVELS, variants) == ["v4", "v3", "v2", "null"]


def test_v2_unsupported_value_filtered() -> None:
    variants = {
        "v4": {"x86_64": {"level": ["v4"]}},
        "v3": {"x86_64": {"level": ["v3"]}},
        "v1": {"x86_64": {"level": ["v1"]}},
    }
    assert rank(["x86_64"], {"x86_64": {"level": ["v3", "v2", "v1"]}}, variants) == ["v3", "v1"]


def test_v3_multi_value_or() -> None:
    variants = {
        "a": {"nvidia": {"sm_arch": ["110_real", "120_real"]}},
        "b": {"nvidia": {"sm_arch": ["80_real", "90_real"]}},
        "null": {},
    }
    assert rank(["nvidia"], {"nvidia": {"sm_arch": ["120_real"]}}, variants) == ["a", "null"]


def test_v4_features_and() -> None:
    variants = {
        "v3bf16": {"x86_64": {"level": ["v3"], "avx512_bf16": ["on"]}},
        "v3": {"x86_64": {"level": ["v3"]}},
        "null": {},
    }
    assert rank(["x86_64"], {"x86_64": {"level": ["v3", "v2", "v1"]}}, variants) == ["v3", "null"]


def test_v5_more_features_wins() -> None:
    variants = {"one": {"a": {"f1": ["x"]}}, "two": {"a": {"f1": ["x"], "f2": ["y"]}}, "null": {}}
    assert rank(["a"], {"a": {"f1": ["x"], "f2": ["y"]}}, variants) == ["two", "one", "null"]


V6_VARIANTS = {
    "q": {"a": {"f2": ["y1"]}},
    "p": {"a": {"f1": ["x2"]}},
    "pq": {"a": {"f1": ["x2"], "f2": ["y1"]}},
    "p1": {"a": {"f1": ["x1"]}},
    "null": {},
}
V6_SUPPORTED = {"a": {"f1": ["x1", "x2"], "f2": ["y1"]}}


def test_v6_feature_rank_before_value_rank() -> None:
    assert rank(["a"], V6_SUPPORTED, V6_VARIANTS) == ["p1", "pq", "p", "q", "null"]


def test_v7_namespace_order_from_default_priorities() -> None:
    variants = {
        "A": {"a": {"f": ["x"]}},
        "B": {"b": {"g": ["y"]}},
        "AB": {"a": {"f": ["x"]}, "b": {"g": ["y"]}},
    }
    variants = {k.lower(): v for k, v in variants.items()}
    supported = {"a": {"f": ["x"]}, "b": {"g": ["y"]}}
    assert rank(["b", "a"], supported, variants) == ["ab", "b", "a"]
    assert rank(["a", "b"], supported, variants) == ["ab", "a", "b"]


def test_v8_best_value_of_a_multi_value_list() -> None:
    variants = {"x": {"ns": {"gpu": ["g1", "g3"]}}, "y": {"ns": {"gpu": ["g2"]}}}
    assert rank(["ns"], {"ns": {"gpu": ["g2", "g1"]}}, variants) == ["y", "x"]


def test_v9_exact_tie_breaks_by_label_not_input_order() -> None:
    variants = {
        "zzz": {"ns": {"gpu": ["g1", "g2"]}},
        "aaa": {"ns": {"gpu": ["g1", "g3"]}},
        "null": {},
    }
    supported = {"ns": {"gpu": ["g1", "g2", "g3"]}}
    assert rank(["ns"], supported, variants) == ["aaa", "zzz", "null"]
    assert rank(["ns"], supported, variants, order=["null", "aaa", "zzz"]) == ["aaa", "zzz", "null"]


def test_v12_namespace_without_provider_is_incompatible() -> None:
    variants = {"unknownns": {"zzz": {"f": ["v"]}}, "ok": {"abc": {"f": ["v"]}}, "null": {}}
    assert rank(["abc", "zzz"], {"abc": {"f": ["v"]}}, variants) == ["ok", "null"]


def providers(*namespaces: str) -> dict[str, Any]:
    return {ns: {"requires": [f"{ns}-provider"]} for ns in namespaces}


def test_v10_property_priority_promotes_mkl() -> None:
    variants = {
        "openblas": {"blas": {"library": ["openblas"]}},
        "mkl": {"blas": {"library": ["mkl"]}},
        "acc": {"blas": {"library": ["accelerate"]}},
        "null": {},
    }
    got = rank(
        ["blas"],
        {"blas": {"library": ["accelerate", "openblas", "mkl"]}},
        variants,
        schema=V020,
        package_priorities={"property": {"blas": {"library": ["mkl"]}}},
        providers=providers("blas"),
    )
    assert got == ["mkl", "acc", "openblas", "null"]


def test_v11_feature_priority_promotes_f2() -> None:
    got = rank(
        ["a"],
        V6_SUPPORTED,
        V6_VARIANTS,
        schema=V020,
        package_priorities={"feature": {"a": ["f2"]}},
        providers=providers("a"),
    )
    assert got == ["pq", "q", "p1", "p", "null"]


def test_t_lib_variantlib_fixture() -> None:
    legend = {
        "p1": "omnicorp::feat_a::value",
        "p2": "omnicorp::feat_b::value",
        "p3": "tyrell_corp::feat_a::value",
        "p4": "tyrell_corp::feat_b::abcde",
        "p5": "tyrell_corp::feat_b::efghij",
        "p6": "tyrell_corp::feat_c::value",
    }
    supported = {
        "omnicorp": {"feat_a": ["value"]},
        "tyrell_corp": {"feat_a": ["value"], "feat_b": ["abcde", "efghij"], "feat_c": ["value"]},
    }
    combos = []
    for p1, p2, p3, b, p6 in itertools.product([0, 1], [0, 1], [0, 1], ["", "p4", "p5"], [0, 1]):
        combo = [n for n, on in (("p1", p1), ("p2", p2), ("p3", p3), (b, b), ("p6", p6)) if on]
        combos.append(combo)
    label_of = {}
    variants: dict[str, Any] = {}
    for combo in combos:
        props = frozenset(P(legend[n]) for n in combo)
        label = hash_label(props)
        label_of[label] = sorted(combo)
        tree: dict[str, dict[str, list[str]]] = {}
        for prop in props:
            tree.setdefault(prop.namespace, {}).setdefault(prop.feature, []).append(prop.value)
        variants[label] = tree
    order = list(variants) * 5
    random.Random(7).shuffle(order)
    got = rank(
        ["not_existing_namespace", "tyrell_corp", "omnicorp"],
        supported,
        variants,
        order=order,
        schema=V020,
        package_priorities={
            "feature": {"tyrell_corp": ["feat_c"]},
            "property": {"tyrell_corp": {"feat_b": ["efghij"]}},
        },
        providers=providers("not_existing_namespace", "tyrell_corp", "omnicorp"),
    )
    deduped = list(dict.fromkeys(got))
    expected = [
        ["p1", "p3", "p5", "p6"], ["p3", "p5", "p6"], ["p1", "p3", "p4", "p6"], ["p3", "p4", "p6"],
        ["p1", "p3", "p6"], ["p3", "p6"], ["p1", "p5", "p6"], ["p5", "p6"], ["p1", "p4", "p6"],
        ["p4", "p6"], ["p1", "p6"], ["p6"], ["p1", "p3", "p5"], ["p3", "p5"], ["p1", "p3", "p4"],
        ["p3", "p4"], ["p1", "p3"], ["p3"], ["p1", "p5"], ["p5"], ["p1", "p4"], ["p4"], ["p1"], [],
    ]  # fmt: skip
    assert [label_of[label] for label in deduped] == expected
    assert len(got) == 5 * len(expected)  # duplicates of a wheel stay, side by side


def test_q1_optional_static_provider_is_off_until_enabled() -> None:
    variants = {"debug": {"dbg": {"build": ["debug"]}}, "null": {}}
    kwargs: dict[str, Any] = {
        "schema": V003,
        "providers": {"dbg": {"install-time": False, "optional": True}},
        "static-properties": {"dbg": {"build": ["debug"]}},
    }
    assert rank(["dbg"], {}, variants, **kwargs) == ["null"]
    on = UserPriorities(enable_optional=("dbg",))
    assert rank(["dbg"], {}, variants, priorities=on, **kwargs) == ["debug", "null"]


def test_static_properties_are_used_exclusively() -> None:
    variants = {
        "mkl": {"blas": {"library": ["mkl"]}},
        "openblas": {"blas": {"library": ["openblas"]}},
    }
    detected = {"blas": {"library": ["openblas"]}}
    got = rank(
        ["blas"],
        detected,
        variants,
        schema=V020,
        providers={"blas": {"static-properties": {"library": ["mkl", "openblas"]}}},
    )
    assert got == ["mkl", "openblas"]


def test_enable_if_false_disables_provider() -> None:
    doc = metadata_doc(
        ["x86_64"],
        {"v3": {"x86_64": {"level": ["v3"]}}},
        schema=V003,
        providers={"x86_64": {"requires": ["x"], "enable-if": "os_name == 'no-such-os'"}},
    )
    result = select(
        ["p-1.0-py3-none-any-v3.whl"],
        parse_metadata(doc),
        SupportedProperties.from_features(LEVELS),
        tags=ANY,
    )
    assert result.ranked == ()
    assert "disabled by enable-if" in result.rejected[0].reason


def test_user_priorities_reorder_but_never_enable_unsupported() -> None:
    variants = {
        "mkl": {"blas": {"library": ["mkl"]}},
        "openblas": {"blas": {"library": ["openblas"]}},
        "acc": {"blas": {"library": ["accelerate"]}},
    }
    supported = {"blas": {"library": ["openblas", "mkl"]}}
    user = UserPriorities(properties=(P("blas::library::mkl"), P("blas::library::accelerate")))
    assert rank(["blas"], supported, variants) == ["openblas", "mkl"]
    assert rank(["blas"], supported, variants, priorities=user) == ["mkl", "openblas"]


def test_user_namespace_and_feature_priorities() -> None:
    supported = {"a": {"f": ["x"]}, "b": {"g": ["y"]}}
    variants = {"a": {"a": {"f": ["x"]}}, "b": {"b": {"g": ["y"]}}}
    assert rank(["a", "b"], supported, variants, priorities=UserPriorities(namespaces=("b",))) == [
        "b",
        "a",
    ]
    from wheelnext.core.properties import VariantFeature

    user = UserPriorities(features=(VariantFeature("a", "f2"),))
    assert rank(["a"], V6_SUPPORTED, V6_VARIANTS, priorities=user) == ["pq", "q", "p1", "p", "null"]


def test_promote_keeps_only_base_items() -> None:
    assert promote(["a", "b", "c"], ["c", "zz"], ["b", "c"]) == ["c", "b", "a"]


# ------------------------------------------------------------------ invariants

universe = [P(p) for p in ["a::f::x", "a::f::y", "a::g::z", "b::h::u", "b::h::w", "b::k::q"]]
variant_sets = st.dictionaries(
    st.from_regex(r"[a-z]{1,3}", fullmatch=True).filter(lambda s: s != "null"),
    st.frozensets(st.sampled_from(universe), min_size=1, max_size=4),
    min_size=1,
    max_size=8,
)
supported_lists = st.fixed_dictionaries(
    {
        "a": st.permutations(["f", "g"]).flatmap(
            lambda fs: st.tuples(
                *[st.lists(st.sampled_from(["x", "y", "z"]), unique=True) for _ in fs]
            ).map(lambda vals: dict(zip(fs, vals, strict=True)))
        ),
        "b": st.permutations(["h", "k"]).flatmap(
            lambda fs: st.tuples(
                *[st.lists(st.sampled_from(["u", "w", "q"]), unique=True) for _ in fs]
            ).map(lambda vals: dict(zip(fs, vals, strict=True)))
        ),
    }
)


def _tree(props: frozenset[VariantProperty]) -> dict[str, dict[str, list[str]]]:
    tree: dict[str, dict[str, list[str]]] = {}
    for p in props:
        tree.setdefault(p.namespace, {}).setdefault(p.feature, []).append(p.value)
    return tree


@given(variant_sets, supported_lists, st.sampled_from([["a", "b"], ["b", "a"]]), st.randoms())
def test_ranking_is_a_total_order_stable_under_permutation(
    variants: dict[str, frozenset[VariantProperty]],
    supported: dict[str, dict[str, list[str]]],
    namespaces: list[str],
    rnd: random.Random,
) -> None:
    doc_variants = {label: _tree(props) for label, props in variants.items()}
    labels = list(variants)
    first = rank(namespaces, supported, doc_variants, order=labels)
    shuffled = labels[:]
    rnd.shuffle(shuffled)
    assert rank(namespaces, supported, doc_variants, order=shuffled) == first
    assert rank(namespaces, supported, doc_variants, order=first) == first
    assert len(set(first)) == len(first)
    for label in labels:  # compatible iff every listed feature has a supported value
        compatible = all(
            any(v in supported.get(ns, {}).get(f, []) for v in vals)
            for ns, feats in doc_variants[label].items()
            for f, vals in feats.items()
        )
        assert (label in first) == compatible


@settings(max_examples=60, deadline=None)
@given(variant_sets, supported_lists, st.sampled_from([["a", "b"], ["b", "a"]]))
def test_agrees_with_variantlib_when_no_exact_tie(
    variants: dict[str, frozenset[VariantProperty]],
    supported: dict[str, dict[str, list[str]]],
    namespaces: list[str],
) -> None:
    from variantlib.models.variant import VariantDescription as VDesc
    from variantlib.models.variant import VariantProperty as VProp
    from variantlib.resolver.lib import sort_and_filter_supported_variants

    table = RankTable.build(namespaces, {ns: list(fs.items()) for ns, fs in supported.items()})
    keys = [table.key(group_properties(props)) for props in variants.values()]
    compatible = [k for k in keys if k is not None]
    assume(len(set(compatible)) == len(compatible))  # variantlib keeps input order on ties

    vdescs = [
        VDesc([VProp(p.namespace, p.feature, p.value) for p in sorted(props)], label=label)
        for label, props in variants.items()
    ]
    vprops = [VProp(ns, f, v) for ns, fs in supported.items() for f, vs in fs.items() for v in vs]
    theirs = [
        d.label
        for d in sort_and_filter_supported_variants(vdescs, vprops, namespace_priorities=namespaces)
        if d.label != "null"
    ]
    ours = rank(namespaces, supported, {label: _tree(props) for label, props in variants.items()})
    assert ours == theirs


def test_properties_from_tree_used_by_selector_validates() -> None:
    assert properties_from_tree({"a": {"f": ["x"]}}) == frozenset({P("a::f::x")})


def test_v9_with_rank_table_directly() -> None:
    table = RankTable.build(["ns"], {"ns": [("gpu", ("g1", "g2", "g3"))]})
    zzz = table.key(group_properties({P("ns::gpu::g1"), P("ns::gpu::g2")}))
    aaa = table.key(group_properties({P("ns::gpu::g1"), P("ns::gpu::g3")}))
    assert zzz == aaa
    assert table.key(group_properties({P("ns::gpu::g9")})) is None
    assert "no supported value of 'ns :: gpu' among: g9" in str(
        table.why_incompatible(group_properties({P("ns::gpu::g9")}))
    )


@pytest.mark.parametrize("bad_namespace_first", [True, False])
def test_unsupported_feature_reason(bad_namespace_first: bool) -> None:
    table = RankTable.build(["x86_64"], {"x86_64": [("level", ("v3",))]})
    props = {P("x86_64::avx512_bf16::on"), P("x86_64::level::v3")}
    assert table.key(group_properties(props)) is None
    assert "'x86_64 :: avx512_bf16' is not supported" in str(
        table.why_incompatible(group_properties(props))
    )
