"""Conformance vectors: our metadata, merge, order and marker rules against their sources.

Sources named on each vector:

- **variantlib 0.2.2** (PyPI; a dev dependency, so the tests run it on the same input):
  ``variantlib/models/variant_info.py`` ``VariantInfo._process_common`` (the checks of a
  ``variant.json``), ``variantlib/validators/base.py`` ``_validate_type`` (exact types, so
  ``1`` is no bool), ``variantlib/constants.py`` ``VALIDATION_PROVIDER_PLUGIN_API_REGEX``,
  ``variantlib/variants_json.py`` ``VariantsJson.merge``, ``variantlib/resolver/sorting.py``
  ``sort_variants_descriptions`` and ``variantlib/api.py`` ``check_variant_supported``.
- **PEP 825 0.1.0** (python/peps ``peps/pep-0825.rst``, "Publishing variant wheels on an
  index"): ``default-priorities.feature`` / ``.property`` "can be added if they were not
  present in the previous ``default-priorities.namespace`` value".
- **PEP 825 0.1.1** (same file, change 8605833b9 of 10 Aug 2026, "Environment markers"):
  ``variant_properties`` keeps only the properties the target supports.
- **uv's variant prototype** writes a top-level ``providers`` object into 0.1.1
  ``variant.json`` files (recorded shape below; uv is not run here).
"""

from __future__ import annotations

import ast
import json
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import canonicalize_name

from tests.helpers import PEP825, V003, V020, metadata_doc
from wheelnext.core.errors import InconsistentMetadataError, MetadataError
from wheelnext.core.filenames import WheelFilename
from wheelnext.core.metadata import (
    MetadataWarning,
    VariantMetadata,
    dump_metadata,
    load_metadata,
    merge_metadata,
    parse_metadata,
)
from wheelnext.core.selector import Selector, select
from wheelnext.core.supported import SupportedProperties

REPO = Path(__file__).resolve().parents[2]
V010 = "https://variants-schema.wheelnext.dev/peps/825/v0.1.0.json"
ANY = [Tag("py3", "none", "any")]


def variantlib_accepts(doc: dict[str, Any]) -> bool:
    """Whether variantlib 0.2.2 reads ``doc`` as a ``variants.json``."""
    from variantlib.errors import ValidationError
    from variantlib.variants_json import VariantsJson

    try:
        VariantsJson(doc)
    except ValidationError:
        return False
    return True


def we_accept(doc: dict[str, Any]) -> bool:
    try:
        parse_metadata(doc)
    except MetadataError:
        return False
    return True


def v020(provider: dict[str, Any], **priorities: Any) -> dict[str, Any]:
    """A 0.2.0 document (variantlib 0.2.2's own URL) with one namespace ``a``."""
    return metadata_doc(
        ["a"], {"x": {"a": {"f": ["1"]}}}, schema=V020, providers={"a": provider}, **priorities
    )


# ------------------------------------------------------------ booleans are JSON booleans

NOT_BOOLEANS = ["yes", "on", "true", 1, 0, None, [], {}]


@pytest.mark.parametrize("value", NOT_BOOLEANS)
def test_optional_takes_only_json_booleans_like_variantlib(value: object) -> None:
    # variantlib: validator.get("optional", bool, False) + _validate_type's exact type check
    doc = v020({"requires": ["p"], "optional": value})
    with pytest.raises(MetadataError, match=r"providers\.a\.optional: Input should be a valid"):
        parse_metadata(doc, source="pkg-1.0-variants.json")
    assert not variantlib_accepts(doc)


@pytest.mark.parametrize("value", NOT_BOOLEANS)
@pytest.mark.parametrize("key", ["optional", "install-time"])
def test_0_0_x_booleans_are_json_booleans(key: str, value: object) -> None:
    provider = {"requires": ["p"], key: value}
    doc = metadata_doc(["a"], {}, schema=V003, providers={"a": provider})
    with pytest.raises(MetadataError, match=rf"providers\.a\.{key}: Input should be a valid"):
        parse_metadata(doc)


@pytest.mark.parametrize("value", [True, False])
def test_real_booleans_are_read_by_both(value: bool) -> None:
    doc = v020({"requires": ["p"], "optional": value})
    assert parse_metadata(doc).providers["a"].optional is value
    assert variantlib_accepts(doc)
    old = metadata_doc(["a"], {}, schema=V003, providers={"a": {"install-time": value}})
    if value:
        old["providers"]["a"]["requires"] = ["p"]
    assert parse_metadata(old).providers["a"].install_time is value


# ------------------------------------------------------------ provider entries


def test_static_properties_must_name_a_feature_like_variantlib() -> None:
    # variantlib: list_matches_re(..., 1) on the feature names -> "List must not be empty"
    doc = v020({"static-properties": {}})
    with pytest.raises(
        MetadataError, match=r"providers\.a\.static-properties: Dictionary should have at least 1"
    ):
        parse_metadata(doc)
    assert not variantlib_accepts(doc)


@pytest.mark.parametrize(
    ("reference", "ours", "variantlib"),
    [
        ("provider_x86", True, True),
        ("wheelnext.providers.x86.plugin:plugin_api", True, True),
        ("mod : obj.attr", True, True),
        ("_m:_o", True, True),
        ("not a ref!", False, False),
        ("mod:", False, False),
        (":obj", False, False),
        ("mod:obj:more", False, False),
        ("", False, False),
        ("mod\n", False, False),
        ("mod:obj; rm -rf /", False, False),
        # differences, documented in spec/metadata.md: variantlib's [\w.]+ lets through
        # names no import can use and non-ASCII look-alikes
        ("1mod:obj", False, True),
        ("mod..sub:obj", False, True),
        ("modul\u0435:obj", False, True),  # Cyrillic 'е'
    ],
)
def test_plugin_api_must_be_an_object_reference(
    reference: str, ours: bool, variantlib: bool
) -> None:
    doc = v020({"requires": ["p"], "plugin-api": reference})
    assert we_accept(doc) is ours
    assert variantlib_accepts(doc) is variantlib
    old = metadata_doc(["a"], {}, schema=V003, providers={"a": {"requires": ["p"]}})
    old["providers"]["a"]["plugin-api"] = reference
    assert we_accept(old) is ours


def test_plugin_api_error_names_the_place() -> None:
    with pytest.raises(MetadataError, match=r"^x\.json: providers\.a\.plugin-api: String should"):
        parse_metadata(v020({"requires": ["p"], "plugin-api": "a b"}), source="x.json")


# ------------------------------------------------------------ 0.2.x feature/property priorities


@pytest.mark.parametrize(
    "url", [V020, "https://variants-schema.wheelnext.dev/peps/9999/v0.2.0.json"]
)
def test_0_2_feature_priorities_are_read_though_variantlib_refuses_them(url: str) -> None:
    # the providers draft's 0.2.0 schema keeps default-priorities.feature/.property;
    # variantlib 0.2.2: "default-priorities: unexpected subkeys: {'feature'}"
    doc = v020({"requires": ["p"]}, priorities={"feature": {"a": ["f"]}})
    doc["$schema"] = url
    assert parse_metadata(doc).feature_priorities == {"a": ("f",)}
    assert json.loads(dump_metadata(parse_metadata(doc))) == doc
    assert not variantlib_accepts(doc)
    del doc["default-priorities"]["feature"]
    assert variantlib_accepts(doc)


# ------------------------------------------------------------ uv's top-level providers

UV_VARIANT_JSON = {  # the shape uv's prototype writes into a wheel (PEP 825 0.1.1 + providers)
    "$schema": PEP825,
    "default-priorities": {"namespace": ["nvidia"]},
    "providers": {"nvidia": {"requires": ["nvidia-variant-provider"], "plugin-api": "nv:api"}},
    "variants": {"cu129": {"nvidia": {"cuda_version_lower_bound": ["12.9"]}}},
}


def test_uv_providers_in_0_1_1_are_ignored_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "variant.json"
    path.write_text(json.dumps(UV_VARIANT_JSON))
    with pytest.warns(MetadataWarning, match=r"variant\.json: ignoring the top-level 'providers'"):
        md = load_metadata(path)
    plain = {k: v for k, v in UV_VARIANT_JSON.items() if k != "providers"}
    assert md == parse_metadata(plain)
    assert md.providers == {}
    assert "providers" not in json.loads(dump_metadata(md))  # never written back


def test_uv_providers_must_still_be_an_object() -> None:
    doc = {**UV_VARIANT_JSON, "providers": ["nvidia"]}
    with pytest.raises(MetadataError, match=r"^w\.json: providers: must be a JSON object"):
        parse_metadata(doc, source="w.json")


def test_other_unknown_top_level_keys_stay_errors() -> None:
    # variantlib ignores every unknown top-level key; we refuse all but uv's providers
    doc = {**UV_VARIANT_JSON, "static-properties": {}}
    with (
        pytest.warns(MetadataWarning),
        pytest.raises(MetadataError, match="static-properties: Extra inputs"),
    ):
        parse_metadata(doc)


# ------------------------------------------------------------ merging


def _md(namespaces: list[str], schema: str = V010, **priorities: Any) -> VariantMetadata:
    return parse_metadata(metadata_doc(namespaces, {}, schema=schema, priorities=priorities))


def _both_ways(a: VariantMetadata, b: VariantMetadata) -> list[VariantMetadata]:
    return [merge_metadata(a, b), merge_metadata(b, a)]


def test_merge_adds_priorities_for_a_namespace_new_to_the_merge() -> None:  # PEP 825 0.1.0
    a = _md(["x"], feature={"x": ["f"]})
    b = _md(["x", "y"], feature={"x": ["f"], "y": ["g"]}, property={"y": {"g": ["2", "1"]}})
    for merged in _both_ways(a, b):
        assert merged.namespace_priorities == ("x", "y")
        assert merged.feature_priorities == {"x": ("f",), "y": ("g",)}
        assert merged.property_priorities == {"y": {"g": ("2", "1")}}


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        # added for a namespace both documents list
        ({"feature": {}}, {"feature": {"x": ["f"]}}, "feature for 'x' is in only one"),
        ({}, {"property": {"x": {"f": ["1"]}}}, "property for 'x' is in only one"),
        # present in both, different
        ({"feature": {"x": ["f", "g"]}}, {"feature": {"x": ["g", "f"]}}, "feature for 'x' differs"),
        (
            {"property": {"x": {"f": ["1"]}}},
            {"property": {"x": {"f": ["2"]}}},
            "property for 'x' differs",
        ),
    ],
)
def test_merge_refuses_priorities_for_a_shared_namespace(
    a: dict[str, Any], b: dict[str, Any], message: str
) -> None:
    left, right = _md(["x"], **a), _md(["x", "y"], **b)
    for first, second in [(left, right), (right, left)]:
        with pytest.raises(InconsistentMetadataError, match=message):
            merge_metadata(first, second)


def _vl_doc(namespaces: list[str], variants: dict[str, Any], **providers: Any) -> dict[str, Any]:
    return metadata_doc(
        namespaces,
        variants,
        schema=V020,
        providers={ns: providers.get(ns, {"requires": [f"{ns}-provider"]}) for ns in namespaces},
    )


MERGE_VECTORS = [
    # (id, a, b, merged namespaces or None when both refuse)
    (
        "namespace prefix extension",
        _vl_doc(["x86_64"], {"v3": {"x86_64": {"level": ["v3"]}}}),
        _vl_doc(["x86_64", "aarch64"], {"a9": {"aarch64": {"version": ["9.0a"]}}}),
        ["x86_64", "aarch64"],
    ),
    (
        "label reused with other properties",
        _vl_doc(["x86_64"], {"v3": {"x86_64": {"level": ["v3"]}}}),
        _vl_doc(["x86_64"], {"v3": {"x86_64": {"level": ["v4"]}}}),
        None,
    ),
    (
        "diverging namespace lists",
        _vl_doc(["x86_64", "aarch64"], {}),
        _vl_doc(["aarch64", "x86_64"], {}),
        None,
    ),
    (
        "provider differs",
        _vl_doc(["x86_64"], {}),
        _vl_doc(["x86_64"], {}, x86_64={"requires": ["other"]}),
        None,
    ),
]


@pytest.mark.parametrize(
    ("a", "b", "expected"), [v[1:] for v in MERGE_VECTORS], ids=[v[0] for v in MERGE_VECTORS]
)
def test_merge_agrees_with_variantlib(
    a: dict[str, Any], b: dict[str, Any], expected: list[str] | None
) -> None:
    from variantlib.errors import ValidationError
    from variantlib.variants_json import VariantsJson

    theirs: list[str] | None
    try:
        left = VariantsJson(a)
        left.merge(VariantsJson(b))
        theirs = list(left.namespace_priorities)
    except ValidationError:
        theirs = None
    try:
        ours: list[str] | None = list(
            merge_metadata(parse_metadata(a), parse_metadata(b)).namespace_priorities
        )
    except InconsistentMetadataError:
        ours = None
    assert ours == theirs == expected


# ------------------------------------------------------------ ties and markers


def test_full_ties_are_broken_by_label_like_variantlib() -> None:  # digest vector V9
    from variantlib.models.variant import VariantDescription, VariantProperty
    from variantlib.resolver.lib import sort_and_filter_supported_variants

    props = {"zzz": ["g1", "g2"], "aaa": ["g1"]}  # same best value g1: a full tie
    supported = ["g1", "g2", "g3"]
    vdescs = [
        VariantDescription([VariantProperty("ns", "gpu", v) for v in values], label=label)
        for label, values in props.items()
    ]
    theirs = sort_and_filter_supported_variants(
        vdescs, [VariantProperty("ns", "gpu", v) for v in supported], namespace_priorities=["ns"]
    )
    doc = metadata_doc(["ns"], {label: {"ns": {"gpu": v}} for label, v in props.items()})
    ours = select(
        [f"p-1.0-py3-none-any-{label}.whl" for label in props],
        parse_metadata(doc),
        SupportedProperties.from_features({"ns": {"gpu": supported}}),
        tags=ANY,
    )
    assert [d.label for d in theirs if d.label != "null"] == ["aaa", "zzz"]
    assert [r.wheel.label for r in ours.ranked] == ["aaa", "zzz"]


def test_variant_properties_are_filtered_like_variantlib_installer_path() -> None:  # K1
    from variantlib.api import check_variant_supported, get_variant_environment_dict
    from variantlib.variants_json import VariantsJson

    doc = metadata_doc(
        ["nvidia"],
        {
            "cu": {
                "nvidia": {
                    "sm_arch": ["110_real", "120_real"],
                    "cuda_version_lower_bound": ["12.8"],
                }
            }
        },
        schema=V020,
        providers={
            "nvidia": {
                "static-properties": {
                    "sm_arch": ["120_real"],
                    "cuda_version_lower_bound": ["12.9", "12.8"],
                },
                "feature-order": ["cuda_version_lower_bound", "sm_arch"],
            }
        },
    )
    filtered = check_variant_supported(variant_info=VariantsJson(doc))
    assert filtered is not None
    theirs = get_variant_environment_dict(filtered)
    ours = Selector(SupportedProperties.from_features({}), tags=ANY).variant_environment(
        WheelFilename.parse("p-1.0-py3-none-any-cu.whl"), parse_metadata(doc)
    )
    assert ours.as_dict() == theirs
    assert theirs["variant_properties"] == {
        "nvidia :: cuda_version_lower_bound :: 12.8",
        "nvidia :: sm_arch :: 120_real",
    }


# ------------------------------------------------------------ wheelnext-core[testing]


def test_testing_module_needs_only_core_dependencies_and_the_testing_extra() -> None:
    project = tomllib.loads((REPO / "core" / "pyproject.toml").read_text())["project"]
    declared = {
        canonicalize_name(Requirement(r).name)
        for r in project["dependencies"] + project["optional-dependencies"]["testing"]
    }
    assert "pytest" in {
        canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["testing"]
    }
    source = (REPO / "core" / "src" / "wheelnext" / "core" / "testing.py").read_text()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"wheelnext", "__future__"}
    dists = packages_distributions()
    needed = {canonicalize_name(dists[module][0]) for module in third_party}
    assert needed == {"pytest"}
    assert needed <= declared
