from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import PEP825, V003, V020, metadata_doc
from wheelnext.core.errors import (
    InconsistentMetadataError,
    MetadataError,
    UnknownSchemaVersionError,
)
from wheelnext.core.metadata import (
    dump_metadata,
    load_metadata,
    merge_metadata,
    metadata_to_json,
    parse_metadata,
    write_metadata,
)
from wheelnext.core.properties import VariantProperty
from wheelnext.core.schema import render, schemas

P = VariantProperty.parse
REPO = Path(__file__).resolve().parents[2]


def test_pep825_document_loads() -> None:
    md = parse_metadata(metadata_doc(["x86_64"], {"v3": {"x86_64": {"level": ["v3"]}}, "null": {}}))
    assert md.schema.family == (0, 1)
    assert md.namespace_priorities == ("x86_64",)
    assert md.variants == {"v3": frozenset({P("x86_64::level::v3")}), "null": frozenset()}
    assert md.providers == {}


def test_pep825_0_1_1_refuses_feature_priorities() -> None:
    doc = metadata_doc(["a"], {}, priorities={"feature": {"a": ["f"]}})
    with pytest.raises(MetadataError, match=r"default-priorities\.feature: Extra inputs"):
        parse_metadata(doc, source="x.json")


def test_pep825_0_1_0_keeps_feature_priorities_and_16_char_labels() -> None:
    url = "https://variants-schema.wheelnext.dev/peps/825/v0.1.0.json"
    doc = metadata_doc(
        ["a"], {"x": {"a": {"f": ["1"]}}}, schema=url, priorities={"feature": {"a": ["f"]}}
    )
    assert parse_metadata(doc).feature_priorities == {"a": ("f",)}
    doc["variants"] = {"a" * 17: {"a": {"f": ["1"]}}}
    with pytest.raises(MetadataError, match="longer than 16"):
        parse_metadata(doc)


def test_newer_patch_of_known_family_is_accepted() -> None:
    url = "https://variants-schema.wheelnext.dev/peps/825/v0.1.7.json"
    assert str(parse_metadata(metadata_doc(["a"], {}, schema=url)).schema) == "0.1.7"


VARIANTLIB_022 = {  # written by variantlib 0.2.2's make_variant_dist_info (recorded)
    "$schema": "https://variants-schema.wheelnext.dev/v0.2.0.json",
    "default-priorities": {"namespace": ["x86_64", "blas"]},
    "providers": {
        "blas": {
            "feature-order": ["threads", "library"],
            "static-properties": {"library": ["mkl", "openblas"], "threads": ["omp"]},
        },
        "x86_64": {"requires": ["provider-variant-x86-64"]},
    },
    "variants": {"v3mkl": {"blas": {"library": ["mkl"]}, "x86_64": {"level": ["v3"]}}},
}


def test_variantlib_0_2_2_output_loads() -> None:
    md = parse_metadata(VARIANTLIB_022)
    assert md.schema.family == (0, 2)
    assert md.providers["blas"].static_properties == (
        ("threads", ("omp",)),
        ("library", ("mkl", "openblas")),
    )
    assert md.providers["x86_64"].requires == ("provider-variant-x86-64",)
    assert json.loads(dump_metadata(md)) == VARIANTLIB_022


def test_providers_draft_with_peps_url_and_feature_priorities() -> None:
    doc = metadata_doc(
        ["a"],
        {"x": {"a": {"f": ["1"]}}},
        schema="https://variants-schema.wheelnext.dev/peps/9999/v0.2.0.json",
        priorities={"feature": {"a": ["g", "f"]}, "property": {"a": {"f": ["2"]}}},
        providers={"a": {"static-properties": {"f": ["1", "2"], "g": ["x"]}, "optional": True}},
    )
    md = parse_metadata(doc)
    assert md.providers["a"].optional
    assert md.providers["a"].static_properties == (("g", ("x",)), ("f", ("1", "2")))
    assert md.property_priorities == {"a": {"f": ("2",)}}


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ({}, "exactly one of 'requires', 'static-properties'"),
        ({"requires": ["a"], "static-properties": {"f": ["1"]}}, "exactly one of"),
        ({"static-properties": {"f": ["1"]}, "plugin-api": "m:o"}, "only valid with 'requires'"),
        ({"requires": ["a"], "feature-order": ["f"]}, "'feature-order' is only valid"),
        ({"static-properties": {"f": ["1"], "g": ["2"]}}, "order of every static feature"),
        ({"requires": []}, "providers.a.requires: List should have at least 1 item"),
    ],
)
def test_providers_draft_rules(provider: dict[str, Any], message: str) -> None:
    doc = metadata_doc(["a"], {}, schema=V020, providers={"a": provider})
    with pytest.raises(MetadataError, match=message):
        parse_metadata(doc)


def test_providers_must_match_namespaces() -> None:
    doc = metadata_doc(["a", "b"], {}, schema=V020, providers={"a": {"requires": ["x"]}})
    with pytest.raises(MetadataError, match="exactly the namespaces"):
        parse_metadata(doc)


def test_variantlib_0_0_3_format() -> None:
    doc = metadata_doc(
        ["x86_64", "dbg"],
        {"v3": {"x86_64": {"level": ["v3"]}}, "debug": {"dbg": {"build": ["debug"]}}},
        schema=V003,
        providers={
            "x86_64": {"requires": ["provider-variant-x86-64"], "enable-if": "os_name == 'posix'"},
            "dbg": {"install-time": False, "optional": True},
        },
        **{"static-properties": {"dbg": {"build": ["debug", "release"]}}},
    )
    md = parse_metadata(doc)
    assert md.providers["x86_64"].enable_if == "os_name == 'posix'"
    assert md.providers["dbg"].static_properties == (("build", ("debug", "release")),)
    assert json.loads(dump_metadata(md)) == doc


def test_variantlib_0_0_3_rules() -> None:
    bad_marker = {"x": {"requires": ["x"], "enable-if": "os_name === === 'posix'"}}
    with pytest.raises(MetadataError, match=r"providers\.x\.enable-if: invalid marker"):
        parse_metadata(metadata_doc(["x"], {}, schema=V003, providers=bad_marker))
    with pytest.raises(MetadataError, match="install-time provider needs 'requires'"):
        parse_metadata(metadata_doc(["x"], {}, schema=V003, providers={"x": {}}))
    static_for_runtime = {"static-properties": {"x": {"f": ["1"]}}}
    with pytest.raises(MetadataError, match="only ahead-of-time providers"):
        parse_metadata(
            metadata_doc(
                ["x"], {}, schema=V003, providers={"x": {"requires": ["x"]}}, **static_for_runtime
            )
        )


def test_variantlib_first_unversioned_url() -> None:
    doc = {"$schema": "https://variants-schema.wheelnext.dev/", "variants": {"null": {}}}
    assert str(parse_metadata(doc).schema) == "0.0.1"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://variants-schema.wheelnext.dev/v9.0.0.json", "unsupported .* version 9.0.0"),
        ("https://variants-schema.wheelnext.dev/peps/825/v0.3.0.json", "version 0.3.0"),
        ("https://example.com/schema.json", "unrecognised '\\$schema' URL"),
        (42, "must be a string"),
    ],
)
def test_unknown_schema_versions_are_refused(url: object, message: str) -> None:
    with pytest.raises(UnknownSchemaVersionError, match=message):
        parse_metadata({"$schema": url, "variants": {}}, source="pkg-1.0-variants.json")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"variants": {}}', "missing '\\$schema'"),
        (metadata_doc([], {}), "namespace: List should have at least 1 item"),
        (metadata_doc(["a", "a"], {}), "duplicate item 'a'"),
        (metadata_doc(["A"], {}), "String should match pattern"),
        (metadata_doc(["a"], {"x": {"a": {"f": []}}}), "at least 1 item"),
        (metadata_doc(["a"], {"x": {"a": {"f": ["1", "1"]}}}), "duplicate item '1'"),
        (metadata_doc(["a"], {"x": {"b": {"f": ["1"]}}}), "namespace 'b' is not listed"),
        (metadata_doc(["a"], {"null": {"a": {"f": ["1"]}}}), "reserved for the empty"),
        (metadata_doc(["a"], {"x": {}}), "must use label 'null'"),
        (metadata_doc(["a"], {"Bad": {}}), "String should match pattern"),
        ({**metadata_doc(["a"], {}), "extra": 1}, "extra: Extra inputs are not permitted"),
    ],
)
def test_invalid_documents_give_one_line_errors_naming_the_file(doc: Any, message: str) -> None:
    data = doc if isinstance(doc, str) else json.dumps(doc)
    with pytest.raises(MetadataError, match=message) as info:
        parse_metadata(data, source="pkg-1.0-variants.json")
    text = str(info.value)
    assert text.startswith("pkg-1.0-variants.json: ")
    assert "\n" not in text


def test_load_metadata_reports_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match=r"missing\.json: cannot read"):
        load_metadata(tmp_path / "missing.json")


def test_write_metadata_round_trip_and_is_atomic(tmp_path: Path) -> None:
    md = parse_metadata(metadata_doc(["a"], {"x": {"a": {"f": ["2", "1"]}}}))
    target = tmp_path / "pkg-1.0-variants.json"
    write_metadata(md, target)
    assert load_metadata(target) == md
    assert json.loads(target.read_text())["variants"]["x"]["a"]["f"] == ["1", "2"]
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_wheel_metadata_must_hold_exactly_its_label() -> None:
    md = parse_metadata(metadata_doc(["a"], {"x": {"a": {"f": ["1"]}}}))
    md.check_wheel("x")
    with pytest.raises(MetadataError, match="exactly the label 'y'"):
        md.check_wheel("y")


# ------------------------------------------------------------------ merging

A = metadata_doc(["x86_64"], {"v3": {"x86_64": {"level": ["v3"]}}})
B = metadata_doc(["x86_64", "aarch64"], {"a9": {"aarch64": {"version": ["9.0a"]}}, "null": {}})


def test_merge_extends_namespace_prefix_and_unites_variants() -> None:  # vector M1
    a, b = parse_metadata(A), parse_metadata(B)
    merged = merge_metadata(a, b)
    assert merged.namespace_priorities == ("x86_64", "aarch64")
    assert set(merged.variants) == {"v3", "a9", "null"}
    assert merge_metadata(b, a).namespace_priorities == merged.namespace_priorities
    assert dict(merge_metadata(b, a).variants) == dict(merged.variants)


def test_merge_refuses_diverging_namespaces() -> None:
    c = parse_metadata(metadata_doc(["aarch64", "x86_64"], {}))
    with pytest.raises(InconsistentMetadataError, match="one must extend the other"):
        merge_metadata(parse_metadata(B), c)


def test_merge_refuses_same_label_with_other_properties() -> None:  # vector M2
    other = parse_metadata(metadata_doc(["x86_64"], {"v3": {"x86_64": {"level": ["v4"]}}}))
    with pytest.raises(InconsistentMetadataError, match="variant label 'v3' differs"):
        merge_metadata(parse_metadata(A), other)


def test_merge_refuses_different_formats_and_conflicting_providers() -> None:
    v2 = parse_metadata(
        metadata_doc(["x86_64"], {}, schema=V020, providers={"x86_64": {"requires": ["a"]}})
    )
    with pytest.raises(InconsistentMetadataError, match="cannot combine"):
        merge_metadata(parse_metadata(A), v2)
    v2b = parse_metadata(
        metadata_doc(["x86_64"], {}, schema=V020, providers={"x86_64": {"requires": ["b"]}})
    )
    with pytest.raises(InconsistentMetadataError, match="provider of namespace 'x86_64'"):
        merge_metadata(v2, v2b)


label_sets = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d"]),
    st.sampled_from(["v1", "v2", "v3"]),
    max_size=4,
)


@given(
    label_sets,
    label_sets,
    st.sampled_from([["x"], ["x", "y"]]),
    st.sampled_from([["x"], ["x", "y"]]),
)
def test_merge_is_symmetric(
    left: dict[str, str], right: dict[str, str], ns_a: list[str], ns_b: list[str]
) -> None:
    a = parse_metadata(metadata_doc(ns_a, {k: {"x": {"f": [v]}} for k, v in left.items()}))
    b = parse_metadata(metadata_doc(ns_b, {k: {"x": {"f": [v]}} for k, v in right.items()}))
    try:
        ab = merge_metadata(a, b)
    except InconsistentMetadataError:
        with pytest.raises(InconsistentMetadataError):
            merge_metadata(b, a)
        assert any(left[k] != right[k] for k in left.keys() & right.keys())
        return
    ba = merge_metadata(b, a)
    assert metadata_to_json(ab)["default-priorities"] == metadata_to_json(ba)["default-priorities"]
    assert dict(ab.variants) == dict(ba.variants)


# ------------------------------------------------------------------ schema files


def test_committed_json_schemas_match_the_models() -> None:
    for name, schema in schemas().items():
        committed = (REPO / "spec" / "schema" / name).read_text()
        assert committed == render(schema), f"spec/schema/{name} is stale: regenerate it"


def test_schema_ids_name_the_formats() -> None:
    docs = schemas()
    assert docs["variant-metadata-0.1.1.schema.json"]["$id"] == PEP825
    assert docs["variant-metadata-0.2.0.schema.json"]["required"] == [
        "$schema",
        "default-priorities",
        "providers",
        "variants",
    ]
