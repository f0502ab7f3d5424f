"""The fast readers against the pydantic models they stand in for.

``parse_metadata`` reads well-formed documents without pydantic and hands everything else
to the models (``metadata_models``), which word the error. These tests generate documents
near the edge of every rule and check, for each one, that the fast path and the models
accept and refuse the same documents, refuse with the same message, and produce the
same metadata and the same ranking; likewise for properties profiles and for the quick
nesting proof in ``safejson``. Start-up checks run the real commands.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.tags import Tag

from tests.helpers import BIN, PEP825, V003, V020
from wheelnext.core import metadata as metadata_module
from wheelnext.core import safejson
from wheelnext.core import supported as supported_module
from wheelnext.core.errors import MetadataError
from wheelnext.core.metadata import VariantMetadata, metadata_to_json, parse_metadata
from wheelnext.core.schema_versions import parse_schema_url
from wheelnext.core.selector import Selector
from wheelnext.core.supported import SupportedProperties

V010 = "https://variants-schema.wheelnext.dev/peps/825/v0.1.0.json"
V001 = "https://variants-schema.wheelnext.dev/"
SCHEMAS = [PEP825, V010, V020, V003, V001]

JUNK: list[Any] = [None, True, False, 0, 1.5, "", "x", [], {}, ["a"], {"a": ["1"]}]
BAD_TEXT = ["A", "", "a b", "a-b", "é", "v3\n", "null"]
NAMESPACES = ["a", "b", "x86_64"]
FEATURES = ["f", "g", "level"]
VALUES = ["1", "2", "v3", "1.2", "mkl"]
LABELS = ["null", "v3", "abc", "x.y", "a" * 17, "0", "v4"]


def unique(items: list[str], *, min_size: int = 1) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(items), min_size=min_size, max_size=3, unique=True)


@st.composite
def feature_trees(draw: st.DrawFn, *, min_size: int = 1) -> dict[str, list[str]]:
    features = draw(unique(FEATURES, min_size=min_size))
    return {f: draw(unique(VALUES)) for f in features}


@st.composite
def provider_entry(draw: st.DrawFn, family: str, ns: str) -> tuple[dict[str, Any], Any]:
    """A valid ``providers`` entry (and, for 0.0.x, maybe its static properties)."""
    entry: dict[str, Any] = {}
    if draw(st.booleans()):
        entry["optional"] = draw(st.booleans())
    if family == "0.0":
        runtime = draw(st.booleans())
        if runtime or draw(st.booleans()):
            entry["requires"] = draw(st.lists(st.sampled_from(["p>=1", "q"]), max_size=2))
            if runtime and not entry["requires"]:
                entry["requires"] = ["p"]
            if entry["requires"] and draw(st.booleans()):
                entry["plugin-api"] = draw(st.sampled_from(["m:o", "m.n : o.p", "m"]))
        if not runtime:
            entry["install-time"] = False
        elif draw(st.booleans()):
            entry["install-time"] = True
        if draw(st.booleans()):
            entry["enable-if"] = draw(st.sampled_from(["python_version >= '3'", "os_name == 'x'"]))
        static = draw(feature_trees(min_size=0)) if not runtime and draw(st.booleans()) else None
        return entry, static
    kind = draw(st.sampled_from(["requires", "static-properties", "builtin"]))
    if kind == "requires":
        entry["requires"] = draw(st.lists(st.sampled_from(["p>=1", "q"]), min_size=1, max_size=2))
        if draw(st.booleans()):
            entry["plugin-api"] = draw(st.sampled_from(["m:o", "pkg.mod:Obj.attr"]))
    elif kind == "builtin":
        entry["builtin"] = "yes"
    else:
        entry["static-properties"] = draw(feature_trees())
        if len(entry["static-properties"]) > 1 or draw(st.booleans()):
            entry["feature-order"] = draw(st.permutations(list(entry["static-properties"])))
    return entry, None


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    schema = draw(st.sampled_from(SCHEMAS))
    family = {PEP825: "0.1", V010: "0.1", V020: "0.2"}.get(schema, "0.0")
    namespaces = draw(unique(NAMESPACES, min_size=0 if family == "0.0" else 1))
    prio: dict[str, Any] = {"namespace": namespaces}
    if schema != PEP825 and namespaces:
        if draw(st.booleans()):
            prio["feature"] = {ns: draw(unique(FEATURES)) for ns in namespaces[:2]}
        if draw(st.booleans()):
            prio["property"] = {namespaces[0]: draw(feature_trees(min_size=0))}
    doc: dict[str, Any] = {"$schema": schema, "default-priorities": prio}
    if family != "0.1":
        doc["providers"], statics = {}, {}
        for ns in namespaces:
            doc["providers"][ns], static = draw(provider_entry(family, ns))
            if static is not None:
                statics[ns] = static
                prio.pop("feature", None)  # 0.0.x orders static features by these
        if statics:
            doc["static-properties"] = statics
    variants: dict[str, Any] = {}
    for label in draw(unique(LABELS, min_size=0)):
        if label == "null" or not namespaces:
            variants["null"] = {}
            continue
        used = draw(unique(namespaces))
        variants[label] = {ns: draw(feature_trees()) for ns in used}
    doc["variants"] = variants
    return doc


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*path, i))
    return found


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document, or one with one or two rules broken somewhere in it."""
    doc = draw(valid_documents())
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        path = draw(st.sampled_from(_paths(doc)[1:] or [("variants",)]))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key, node = path[-1], parent[path[-1]]
        how = draw(st.sampled_from(["junk", "text", "drop", "twice", "extra", "empty"]))
        if how == "junk":
            parent[key] = draw(st.sampled_from(JUNK))
        elif how == "text" and isinstance(node, str):
            parent[key] = draw(st.sampled_from(BAD_TEXT))
        elif how == "text" and isinstance(parent, dict) and key != "$schema":
            parent[draw(st.sampled_from(BAD_TEXT))] = parent.pop(key)
        elif how == "drop" and isinstance(parent, dict) and key != "$schema":
            del parent[key]
        elif how == "twice" and isinstance(node, list) and node:
            node.append(node[0])
        elif how == "extra" and isinstance(node, dict):
            node[draw(st.sampled_from(["zz", "plugin_api", "default_priorities"]))] = 1
        elif how == "empty" and isinstance(node, list | dict):
            node.clear()
    return doc


def _outcome(data: bytes | dict[str, Any]) -> VariantMetadata | str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return parse_metadata(data, source="pkg-1.0-variants.json")
        except MetadataError as exc:
            return f"{type(exc).__name__}: {exc}"


def _both(doc: dict[str, Any]) -> tuple[list[VariantMetadata | str], VariantMetadata | str]:
    fast = [_outcome(json.dumps(doc).encode()), _outcome(doc)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(metadata_module._FastReader, "read", lambda self, data: None)
        slow = _outcome(json.dumps(doc).encode())
    return fast, slow


def _ranking(md: VariantMetadata) -> list[str]:
    supported = SupportedProperties.from_features(
        {ns: {f: ["2", "1", "v3", "mkl"] for f in FEATURES[:2]} for ns in NAMESPACES[:2]}
    )
    wheels = [f"pkg-1.0-py3-none-any-{label}.whl" for label in md.labels]
    selection = Selector(supported, tags=[Tag("py3", "none", "any")]).rank(wheels, md)
    return [str(r.wheel) for r in selection.ranked] + [
        f"{r.wheel}: {r.reason}" for r in selection.rejected
    ]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_fast_reader_accepts_refuses_and_builds_exactly_as_the_models(doc: dict[str, Any]) -> None:
    fast, slow = _both(doc)
    for outcome in fast:
        if isinstance(slow, str):
            assert outcome == slow
            continue
        assert isinstance(outcome, VariantMetadata)
        assert outcome == slow
        assert dict(outcome.groups) == dict(slow.groups)
        assert metadata_to_json(outcome) == metadata_to_json(slow)
        assert _ranking(outcome) == _ranking(slow)
    plain = json.dumps(doc, ensure_ascii=False).isascii() and "default_priorities" not in doc
    if not isinstance(slow, str) and plain:
        # within plain ASCII JSON the fast reader takes every valid document itself
        assert metadata_module._FastReader(slow.schema).read(doc) is not None, doc


def test_the_fast_reader_takes_a_valid_document_and_shares_its_properties() -> None:
    doc = {
        "$schema": V020,
        "default-priorities": {"namespace": ["a", "b"], "feature": {"a": ["f", "g"]}},
        "providers": {
            "a": {"static-properties": {"f": ["2", "1"], "g": ["x"]}, "feature-order": ["g", "f"]},
            "b": {"requires": ["b-provider>=1"], "plugin-api": "b_provider:Plugin"},
        },
        "variants": {
            "one": {"b": {"f": ["1"]}, "a": {"g": ["x"], "f": ["2", "1"]}},
            "two": {"a": {"g": ["x"], "f": ["2", "1"]}},
            "null": {},
        },
    }
    md = parse_metadata(json.dumps(doc))
    assert md.groups["one"] == (
        (("a", "f"), ("1", "2")),
        (("a", "g"), ("x",)),
        (("b", "f"), ("1",)),
    )
    # the same (namespace, feature, values) is one object in every variant
    assert md.groups["one"][0] is md.groups["two"][0]
    assert md.variants["null"] == frozenset()
    assert "three" not in md.variants
    assert md.properties("three") is None
    assert md.providers["a"].static_properties == (("g", ("x",)), ("f", ("2", "1")))


def test_a_refused_document_is_worded_by_the_models_with_the_file_named() -> None:
    doc = {"$schema": PEP825, "default-priorities": {"namespace": ["a"]}, "variants": []}
    with pytest.raises(MetadataError) as info:
        parse_metadata(json.dumps(doc), source="pkg-1.0-variants.json")
    assert str(info.value).startswith("pkg-1.0-variants.json: variants: ")
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- profiles


def maybe_junk(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``strategy``, sometimes a value of another JSON type."""
    return st.one_of(strategy, strategy, strategy, st.sampled_from(JUNK))


names = st.sampled_from([*NAMESPACES, *BAD_TEXT])
value_lists = maybe_junk(st.lists(st.sampled_from([*VALUES, *BAD_TEXT]), max_size=3))
profile_features = st.fixed_dictionaries(
    {"name": maybe_junk(names), "values": value_lists},
    optional={"multi_value": st.sampled_from([True, False, None, 1, "yes"]), "x": st.just(1)},
)
profile_providers = st.fixed_dictionaries(
    {
        "namespace": maybe_junk(names),
        "features": maybe_junk(st.lists(profile_features, max_size=3)),
    },
    optional={
        "status": st.sampled_from(["ok", "absent", "failed", "bad", None]),
        "distribution": maybe_junk(st.sampled_from(["dist", "é"])),
        "version": maybe_junk(st.just("1.0")),
        "error": maybe_junk(st.just("boom")),
    },
)
profiles = maybe_junk(
    st.fixed_dictionaries({"providers": maybe_junk(st.lists(profile_providers, max_size=3))})
)


def _profile(data: Any) -> SupportedProperties | str:
    try:
        return SupportedProperties.from_json(data, source="me.json")
    except MetadataError as exc:
        return str(exc)


@settings(max_examples=400, deadline=None)
@given(profiles)
def test_fast_profile_reader_agrees_with_the_profile_model(data: Any) -> None:
    fast = _profile(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(supported_module, "_read_profile", lambda data: None)
        slow = _profile(data)
    assert fast == slow
    if isinstance(slow, SupportedProperties) and _plain_profile(data):
        # the fast reader took it itself: no pydantic for a well-formed profile
        assert supported_module._read_profile(data) is not None


def _plain_profile(data: dict[str, Any]) -> bool:
    """ASCII text and JSON booleans only (the model also takes 1 or "yes" for a boolean)."""
    features = [f for p in data["providers"] for f in p["features"]]
    return json.dumps(data, ensure_ascii=False).isascii() and all(
        type(f.get("multi_value", False)) is bool for f in features
    )


# ---------------------------------------------------------------- nesting bounds


def _exact_depth(data: bytes) -> int:
    """The deepest nesting of ``data``, scanned the slow, exact way."""
    depth = deepest = 0
    for bracket in safejson._BRACKETS.findall(safejson._STRING.sub(b'""', data)):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


json_text = st.recursive(
    st.sampled_from(['"a"', '"[{"', '"\\\\"', '"\\"["', '"\\\\\\"]"', "1", "null", '""']),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(inner, max_size=3).map(lambda xs: "{" + ",".join(f'"k":{x}' for x in xs) + "}"),
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(json_text, st.integers(2, 12))
def test_quick_nesting_proof_never_passes_a_document_the_exact_scan_refuses(
    text: str, max_depth: int
) -> None:
    data = text.encode()
    too_deep = _exact_depth(data) > max_depth
    if safejson._shallow(data, max_depth):
        assert not too_deep
    try:
        safejson.check_bounds(data, "x.json", max_depth=max_depth)
        refused = False
    except safejson.UnsafeJsonError:
        refused = True
    assert refused == too_deep


def test_quick_nesting_proof_handles_a_large_flat_document() -> None:
    doc = json.dumps({"variants": {f"v{i}": {"a": {"f": ["1", "[", "\\"]}} for i in range(5000)}})
    assert safejson._shallow(doc.encode(), safejson.MAX_DEPTH)
    deep = "[" * 40 + "]" * 40
    with pytest.raises(safejson.UnsafeJsonError, match="nested deeper than 32"):
        safejson.loads(f'{{"a": {deep}, "b": "{"x" * 100}"}}', "deep.json")


# ---------------------------------------------------------------- start-up


def _imported(argv: list[str], tmp_path: Path) -> set[str]:
    """The modules a real command imports (``-X importtime``), by name."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", str(BIN / argv[0]), *argv[1:]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }


def test_wn_select_loads_and_ranks_without_pydantic_or_entry_point_scans(tmp_path: Path) -> None:
    variants = tmp_path / "pkg-1.0-variants.json"
    variants.write_text(
        json.dumps(
            {
                "$schema": PEP825,
                "default-priorities": {"namespace": ["a"]},
                "variants": {"v2": {"a": {"f": ["2"]}}, "v1": {"a": {"f": ["1"]}}},
            }
        )
    )
    profile = tmp_path / "me.json"
    profile.write_text(
        json.dumps(
            {"providers": [{"namespace": "a", "features": [{"name": "f", "values": ["1"]}]}]}
        )
    )
    argv = ["wn", "select", "--variants-json", str(variants), "--properties", str(profile)]
    modules = _imported(argv, tmp_path)
    assert "wheelnext.core.selector" in modules  # the probe sees the command's imports
    assert not {m for m in modules if m.split(".")[0] in ("pydantic", "pluggy")}
    assert "importlib.metadata" not in modules
    out = subprocess.run([str(BIN / "wn"), *argv[1:]], capture_output=True, text=True, check=False)
    assert out.stdout.splitlines()[0] == "pkg-1.0-py3-none-any-v1.whl"


def test_legacy_schema_also_reads_fast(tmp_path: Path) -> None:
    doc = {
        "$schema": V003,
        "providers": {"a": {"requires": ["a-prov"], "enable-if": "python_version >= '3'"}},
        "default-priorities": {"namespace": ["a"]},
        "variants": {"x": {"a": {"f": ["1"]}}},
    }
    assert metadata_module._FastReader(parse_schema_url(V003)).read(doc) is not None
    assert parse_metadata(json.dumps(doc)).providers["a"].enable_if == "python_version >= '3'"


def test_static_features_not_in_the_feature_priorities_keep_their_order() -> None:
    # found by the differential test: this was a KeyError traceback on both paths
    doc = {
        "$schema": V020,
        "default-priorities": {"namespace": ["a", "b"], "feature": {"b": ["f"]}},
        "providers": {"a": {"requires": ["p"]}, "b": {"static-properties": {"g": ["1"]}}},
        "variants": {},
    }
    assert parse_metadata(json.dumps(doc)).providers["b"].static_properties == (("g", ("1",)),)
