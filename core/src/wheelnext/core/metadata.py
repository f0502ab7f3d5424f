"""Variant metadata: ``*.dist-info/variant.json`` and ``{name}-{version}-variants.json``.

One normalised, immutable model (``VariantMetadata``) for every supported format version;
``parse_metadata``/``load_metadata`` validate (structure as the pydantic models in
``metadata_models`` define it, the cross-key rules here), ``dump_metadata`` writes the
version it was read as, and ``merge_metadata`` combines documents with PEP 825's rules.

Loading is built for 100,000-variant files: each property is checked once (a document
repeats the same few hundred), repeated JSON objects are shared while decoding, the
grouped form the ranking needs is built straight from the JSON, and the collector is
paused meanwhile. A document this fast reader does not accept goes through the pydantic
models and the original code, so errors keep their exact wording.
"""

from __future__ import annotations

import gc
import json
import re
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from wheelnext.core import safejson
from wheelnext.core.errors import (
    InconsistentMetadataError,
    InvalidLabelError,
    MetadataError,
    WheelnextError,
)
from wheelnext.core.labels import LABEL_PATTERN, NULL_LABEL, check_label_matches, validate_label
from wheelnext.core.ordering import FeatureKey, GroupedProperties, group_properties
from wheelnext.core.properties import (
    FEATURE_PATTERN,
    NAMESPACE_PATTERN,
    VALUE_PATTERN,
    VariantProperty,
    properties_from_tree,
    properties_to_tree,
)
from wheelnext.core.schema_versions import (
    FAMILY_0_0,
    FAMILY_0_1,
    FAMILY_0_2,
    SchemaVersion,
    parse_schema_url,
)

FeaturePriorities = Mapping[str, tuple[str, ...]]
PropertyPriorities = Mapping[str, Mapping[str, tuple[str, ...]]]

# The entry-point object reference ``importable.module(:object.attr)?`` (spaces allowed
# around the colon); ASCII identifiers only, so no look-alike module names get imported.
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*"
OBJECT_REFERENCE_PATTERN = rf"{_DOTTED}(?: *: *{_DOTTED})?"


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """How a namespace's supported list is obtained (``providers.{namespace}``).

    ``static_properties`` is an ordered tuple of (feature, values best first); when set,
    tools MUST use it exclusively. ``enable_if``/``install_time`` exist in 0.0.x only,
    ``builtin`` in variantlib 0.2.x only.
    """

    requires: tuple[str, ...] = ()
    plugin_api: str | None = None
    optional: bool = False
    static_properties: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    enable_if: str | None = None
    install_time: bool = True
    builtin: str | None = None


@dataclass(frozen=True, slots=True)
class VariantMetadata:
    """A validated variant metadata document, independent of its format version."""

    schema: SchemaVersion
    namespace_priorities: tuple[str, ...]
    variants: Mapping[str, frozenset[VariantProperty]]
    feature_priorities: FeaturePriorities = field(default_factory=dict)
    property_priorities: PropertyPriorities = field(default_factory=dict)
    providers: Mapping[str, ProviderInfo] = field(default_factory=dict)
    groups: Mapping[str, GroupedProperties] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # each variant's properties folded by feature once, reused by every ranking
        if isinstance(self.variants, _VariantSets):
            groups = self.variants.groups
        else:
            groups = {label: group_properties(props) for label, props in self.variants.items()}
        object.__setattr__(self, "groups", groups)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.variants)

    def properties(self, label: str) -> frozenset[VariantProperty] | None:
        """The property set of ``label`` (None if the label is unknown)."""
        return self.variants.get(label)

    def check_wheel(self, label: str) -> None:
        """A wheel's ``variant.json`` must hold exactly the variant its filename names."""
        if list(self.variants) != [label]:
            raise MetadataError(
                f"'variants' must contain exactly the label {label!r} of the wheel, "
                f"found {sorted(self.variants)}"
            )


class _VariantSets(Mapping[str, frozenset[VariantProperty]]):
    """``VariantMetadata.variants`` of a loaded document: label -> property set, built on
    demand from the grouped form, which is all the loader keeps (a frozenset per variant
    would triple the memory of a 100,000-variant file)."""

    __slots__ = ("_properties", "groups")

    def __init__(self, groups: dict[str, GroupedProperties]) -> None:
        self.groups = groups
        self._properties: dict[tuple[str, str, str], VariantProperty] = {}

    def _property(self, namespace: str, feature: str, value: str) -> VariantProperty:
        key = (namespace, feature, value)
        prop = self._properties.get(key)
        if prop is None:
            prop = self._properties[key] = VariantProperty(namespace, feature, value)
        return prop

    def __getitem__(self, label: str) -> frozenset[VariantProperty]:
        return frozenset(
            self._property(ns, feature, value)
            for (ns, feature), values in self.groups[label]
            for value in values
        )

    def __contains__(self, label: object) -> bool:
        return label in self.groups

    def __iter__(self) -> Iterator[str]:
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)

    def __repr__(self) -> str:
        return repr(dict(self))


# ---------------------------------------------------------------- parsing


class MetadataWarning(UserWarning):
    """Something in a metadata document was read but ignored (interoperability)."""


def _first_error(exc: Any) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "document"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def parse_metadata(
    data: bytes | str | Mapping[str, Any], *, source: str | None = None
) -> VariantMetadata:
    """Validate variant metadata given as JSON text or an already decoded mapping."""
    try:
        with collector_paused():
            return _parse(data, source)
    except MetadataError as exc:
        raise exc.with_source(source) if source else exc from None
    except WheelnextError as exc:  # property / label rules broken inside the document
        raise MetadataError(str(exc), source) from None


def _parse(data: bytes | str | Mapping[str, Any], source: str | None) -> VariantMetadata:
    if isinstance(data, bytes | str):
        fast = _read_fast(safejson.loads(data, object_pairs_hook=_Sharer().share), source)
        # anything it does not accept: the models judge, and word, the plain JSON
        return fast or _read_with_models(safejson.loads(data), source)
    return _read_fast(data, source) or _read_with_models(data, source)


def _read_fast(data: Any, source: str | None) -> VariantMetadata | None:
    """The fast reader's result, or None for anything it does not accept as it stands."""
    if type(data) is not dict or "$schema" not in data:
        return None
    try:
        schema = parse_schema_url(data["$schema"])
    except WheelnextError:
        return None
    uv_providers = schema.family == FAMILY_0_1 and "providers" in data
    if uv_providers:
        if type(data["providers"]) is not dict:
            return None
        data = {key: value for key, value in data.items() if key != "providers"}
    md = _FastReader(schema).read(data)
    if md is not None and uv_providers:
        _warn_uv_providers(schema, source, stacklevel=5)
    return md


def _read_with_models(data: Any, source: str | None) -> VariantMetadata:
    """The pydantic models, then the cross-key rules: exact error wording for any document."""
    if not isinstance(data, Mapping):
        raise MetadataError("variant metadata must be a JSON object")
    if "$schema" not in data:
        raise MetadataError("missing '$schema'")
    schema = parse_schema_url(data["$schema"])
    if schema.family == FAMILY_0_1 and "providers" in data:
        data = _without_uv_providers(schema, data, source)
    return _from_model(schema, _validate_structure(schema, data))


@contextmanager
def collector_paused() -> Iterator[None]:
    """Loading and ranking create a million small containers and no cycles; the cyclic
    collector would walk all of them again and again (4x the load time at 100,000
    variants). Re-enabled afterwards only if it was enabled before."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def load_metadata(path: str | Path) -> VariantMetadata:
    """Read and validate a ``variant.json`` or ``*-variants.json`` file."""
    from wheelnext.core.files import UserFileError, read_user_file

    path = Path(path)
    try:
        data = read_user_file(path, "", safejson.MAX_BYTES)
    except UserFileError as exc:
        raise MetadataError(f"cannot read: {exc.problem}", str(path)) from None
    return parse_metadata(data, source=str(path))


def _without_uv_providers(
    schema: SchemaVersion, data: Mapping[str, Any], source: str | None
) -> dict[str, Any]:
    """uv's prototype writes a top-level ``providers`` into 0.1.x documents, which PEP 825
    does not have: warn and drop it so the rest is read as the PEP says."""
    if not isinstance(data["providers"], Mapping):
        raise MetadataError("providers: must be a JSON object")
    _warn_uv_providers(schema, source, stacklevel=6)
    return {key: value for key, value in data.items() if key != "providers"}


def _warn_uv_providers(schema: SchemaVersion, source: str | None, *, stacklevel: int) -> None:
    """Point at the caller of ``parse_metadata`` (``stacklevel`` counts the readers between)."""
    warnings.warn(
        f"{source or 'variant metadata'}: ignoring the top-level 'providers' of a {schema} "
        "document (PEP 825 has none; uv's prototype writes it)",
        MetadataWarning,
        stacklevel=stacklevel,
    )


def _validate_structure(schema: SchemaVersion, data: Mapping[str, Any]) -> Any:
    from pydantic import ValidationError

    from wheelnext.core import metadata_models as m

    model: type[m.AnyMetadataModel | m.Pep825MetadataV010]
    if schema.family == FAMILY_0_0:
        model = m.VariantlibMetadataV00
    elif schema.family == FAMILY_0_1:
        model = m.Pep825MetadataV010 if schema.has_feature_priorities else m.Pep825Metadata
    else:
        model = m.ProvidersMetadataV02
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MetadataError(_first_error(exc)) from None


class _Sharer:
    """A ``json.loads`` object hook that shares repeated objects whose values are all
    arrays of strings (``{feature: [values]}``, as every variant repeats them) and the
    arrays themselves, as tuples: a 100,000-variant file decodes into a tenth of the
    memory, and the checker sees each distinct one once."""

    __slots__ = ("_arrays", "_objects")

    def __init__(self) -> None:
        self._arrays: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._objects: dict[tuple[tuple[str, tuple[str, ...]], ...], dict[str, Any]] = {}

    def share(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        arrays = self._arrays
        items = []
        for key, value in pairs:
            if type(value) is not list:
                return dict(pairs)
            array = tuple(value)
            try:
                shared = arrays.get(array)
            except TypeError:  # an array of arrays or objects
                return dict(pairs)
            if shared is None:
                for item in array:
                    if type(item) is not str:
                        return dict(pairs)
                shared = arrays[array] = array
            items.append((key, shared))
        frozen = tuple(items)
        found = self._objects.get(frozen)
        if found is None:
            found = self._objects[frozen] = dict(frozen)
        return found


class _Refused(Exception):
    """The fast reader does not accept the document (the models then decide)."""


_NAMESPACE_RE = re.compile(NAMESPACE_PATTERN)
_FEATURE_RE = re.compile(FEATURE_PATTERN)
_VALUE_RE = re.compile(VALUE_PATTERN)
_LABEL_RE = re.compile(LABEL_PATTERN)
_OBJECT_REFERENCE_RE = re.compile(OBJECT_REFERENCE_PATTERN)
_ARRAY = (list, tuple)

_TOP_KEYS = {  # per format family: the keys allowed (by alias), the keys required
    FAMILY_0_0: (
        {"$schema", "default-priorities", "providers", "static-properties", "variants"},
        set(),
    ),
    FAMILY_0_1: ({"$schema", "default-priorities", "variants"}, {"default-priorities", "variants"}),
    FAMILY_0_2: (
        {"$schema", "default-priorities", "providers", "variants"},
        {"default-priorities", "providers", "variants"},
    ),
}
_V02_PROVIDER_KEYS = frozenset(
    {"requires", "plugin-api", "optional", "static-properties", "feature-order", "builtin"}
)
_V00_PROVIDER_KEYS = frozenset({"requires", "plugin-api", "optional", "enable-if", "install-time"})


class _FastReader:
    """Checks a decoded document against exactly the rules of the ``metadata_models`` model
    of its format, then builds ``VariantMetadata`` as ``_from_model`` does, without pydantic.

    Only plain JSON types are taken (dict, list or tuple, str, bool, None); anything else,
    and every rule broken, is ``_Refused`` and left to the models, which then word the
    error. So it accepts a subset of what the models accept, with the same result
    (tests/core/test_fast_metadata.py checks both against each other).
    """

    def __init__(self, schema: SchemaVersion) -> None:
        self.schema = schema
        self._checked: set[tuple[str, ...]] = set()  # value arrays already checked
        self._pairs: dict[tuple[str, str, tuple[str, ...]], tuple[FeatureKey, tuple[str, ...]]] = {}
        self._features: dict[tuple[str, int], tuple[tuple[FeatureKey, tuple[str, ...]], ...]] = {}

    def read(self, data: Mapping[str, Any]) -> VariantMetadata | None:
        try:
            return self._read(data)
        except (_Refused, WheelnextError, TypeError):  # TypeError: unhashable, not str
            return None

    # -- plain JSON values --------------------------------------------------------

    @staticmethod
    def _object(node: object, keys: frozenset[str] | set[str] | None = None) -> dict[str, Any]:
        if type(node) is not dict or (keys is not None and not node.keys() <= keys):
            raise _Refused
        return node

    @staticmethod
    def _names(node: Any, regex: re.Pattern[str], *, empty: bool = False) -> tuple[str, ...]:
        """A unique array of strings matching ``regex`` (non-empty unless ``empty``)."""
        if type(node) not in _ARRAY:
            raise _Refused
        names = tuple(node)
        if not names and not empty:
            raise _Refused
        for name in names:
            if type(name) is not str or not regex.fullmatch(name):
                raise _Refused
        if len(set(names)) != len(names):
            raise _Refused
        return names

    def _values(self, node: object) -> tuple[str, ...]:
        """A ValueList (as given, not sorted); each distinct shared array is checked once."""
        if type(node) is tuple and node in self._checked:
            return node
        values = self._names(node, _VALUE_RE)
        if type(node) is tuple:
            self._checked.add(values)
        return values

    @staticmethod
    def _text(node: object) -> str:
        if type(node) is not str or not node.isascii():
            raise _Refused  # the models decide on unusual text (lone surrogates)
        return node

    def _feature_tree(self, node: object, *, empty: bool = True) -> dict[str, tuple[str, ...]]:
        tree = self._object(node)
        if not tree and not empty:
            raise _Refused
        out = {}
        for feature, values in tree.items():
            if not _FEATURE_RE.fullmatch(feature):
                raise _Refused
            out[feature] = self._values(values)
        return out

    def _namespace_map(self, node: object) -> dict[str, Any]:
        tree = self._object(node)
        for ns in tree:
            if not _NAMESPACE_RE.fullmatch(ns):
                raise _Refused
        return tree

    # -- the document ---------------------------------------------------------------

    def _read(self, data: Mapping[str, Any]) -> VariantMetadata:
        schema = self.schema
        family = schema.family
        allowed, required = _TOP_KEYS[family]
        doc = self._object(data, allowed)
        if not required <= doc.keys():
            raise _Refused
        legacy = family == FAMILY_0_0

        prio = self._object(
            doc.get("default-priorities", {}),
            {"namespace", "feature", "property"}
            if schema.has_feature_priorities
            else {"namespace"},
        )
        if "namespace" not in prio and not legacy:
            raise _Refused
        namespaces = self._names(prio.get("namespace", ()), _NAMESPACE_RE, empty=legacy)
        feature_prio: dict[str, tuple[str, ...]] = {}
        if prio.get("feature") is not None:
            for ns, names in self._namespace_map(prio["feature"]).items():
                feature_prio[ns] = self._names(names, _FEATURE_RE)
        property_prio: dict[str, dict[str, tuple[str, ...]]] = {}
        if prio.get("property") is not None:
            for ns, feats in self._namespace_map(prio["property"]).items():
                property_prio[ns] = {f: tuple(vs) for f, vs in self._feature_tree(feats).items()}

        providers_doc = self._providers_doc(doc) if schema.has_providers else None
        groups = self._variants(doc.get("variants", {}), frozenset(namespaces))

        providers: dict[str, ProviderInfo] = {}
        if providers_doc is not None:
            providers = _providers(schema, providers_doc, feature_prio)
            if set(providers) != set(namespaces):
                raise _Refused
        return VariantMetadata(
            schema, namespaces, _VariantSets(groups), feature_prio, property_prio, providers
        )

    def _variants(self, node: object, namespaces: frozenset[str]) -> dict[str, GroupedProperties]:
        max_length = self.schema.label_max_length
        features = self._features
        groups: dict[str, GroupedProperties] = {}
        for label, tree in self._object(node).items():
            if not _LABEL_RE.fullmatch(label) or (max_length and len(label) > max_length):
                raise _Refused
            if type(tree) is not dict:
                raise _Refused
            pairs: list[tuple[FeatureKey, tuple[str, ...]]] = []
            for ns in sorted(tree) if len(tree) > 1 else tree:
                feats = tree[ns]
                found = features.get((ns, id(feats)))
                if found is None:
                    found = features[(ns, id(feats))] = self._namespace_pairs(ns, feats)
                if found:
                    if ns not in namespaces:
                        raise _Refused
                    pairs.extend(found)
            if (label == NULL_LABEL) == bool(pairs):
                raise _Refused
            groups[label] = tuple(pairs)
        return groups

    def _namespace_pairs(
        self, ns: str, feats: object
    ) -> tuple[tuple[FeatureKey, tuple[str, ...]], ...]:
        """One namespace's ``{feature: [values]}`` as sorted ((ns, feature), values) pairs.

        The document stays alive while it is read, so ``id(feats)`` keys the cache safely.
        """
        if not _NAMESPACE_RE.fullmatch(ns):
            raise _Refused
        out = []
        for feature, values in sorted(self._feature_tree(feats).items()):
            key = (ns, feature, values)
            pair = self._pairs.get(key)
            if pair is None:
                pair = self._pairs[key] = ((ns, feature), tuple(sorted(values)))
            out.append(pair)
        return tuple(out)

    def _providers_doc(self, doc: dict[str, Any]) -> SimpleNamespace:
        """``providers`` (and 0.0.x ``static-properties``) shaped as the models shape them."""
        legacy = self.schema.family == FAMILY_0_0
        entries = {}
        for ns, node in self._namespace_map(doc.get("providers", {})).items():
            entries[ns] = self._provider_v00(node) if legacy else self._provider_v02(node)
        if not legacy:
            return SimpleNamespace(providers=entries)
        static = doc.get("static-properties")
        if static is not None:
            static = {ns: self._feature_tree(t) for ns, t in self._namespace_map(static).items()}
        return SimpleNamespace(providers=entries, static_properties=static)

    def _common(self, entry: dict[str, Any]) -> tuple[str | None, bool]:
        plugin_api = entry.get("plugin-api")
        if plugin_api is not None and (
            type(plugin_api) is not str or not _OBJECT_REFERENCE_RE.fullmatch(plugin_api)
        ):
            raise _Refused
        optional = entry.get("optional", False)
        if type(optional) is not bool:
            raise _Refused
        return plugin_api, optional

    def _requires(self, node: Any) -> list[str]:
        if type(node) not in _ARRAY:
            raise _Refused
        requires = [self._text(item) for item in node]
        if not all(requires):
            raise _Refused
        return requires

    def _provider_v02(self, node: object) -> SimpleNamespace:
        entry = self._object(node, _V02_PROVIDER_KEYS)
        plugin_api, optional = self._common(entry)
        requires = entry.get("requires")
        if requires is not None:
            requires = self._requires(requires)
            if not requires:
                raise _Refused
        static = entry.get("static-properties")
        if static is not None:
            static = self._feature_tree(static, empty=False)
        order = entry.get("feature-order")
        if order is not None:
            order = list(self._names(order, _FEATURE_RE))
        builtin = entry.get("builtin")
        if builtin is not None:
            builtin = self._text(builtin)
        return SimpleNamespace(
            requires=requires,
            plugin_api=plugin_api,
            optional=optional,
            static_properties=static,
            feature_order=order,
            builtin=builtin,
        )

    def _provider_v00(self, node: object) -> SimpleNamespace:
        entry = self._object(node, _V00_PROVIDER_KEYS)
        plugin_api, optional = self._common(entry)
        enable_if = entry.get("enable-if")
        if enable_if is not None:
            enable_if = self._text(enable_if)
        install_time = entry.get("install-time", True)
        if type(install_time) is not bool:
            raise _Refused
        return SimpleNamespace(
            requires=self._requires(entry.get("requires", [])),
            plugin_api=plugin_api,
            optional=optional,
            enable_if=enable_if,
            install_time=install_time,
        )


def _ordered_static(
    features: Mapping[str, Any], order: list[str] | tuple[str, ...] | None
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Static features in ``order`` (a promotion: names it does not hold are skipped, and
    the features it does not name follow in document order)."""
    names = [name for name in order or () if name in features]
    names += [name for name in features if name not in names]
    return tuple((name, tuple(features[name])) for name in names)


def _from_model(schema: SchemaVersion, doc: Any) -> VariantMetadata:
    prio = doc.default_priorities
    namespaces = tuple(prio.namespace)
    feature_prio = {ns: tuple(fs) for ns, fs in (getattr(prio, "feature", None) or {}).items()}
    property_prio = {
        ns: {f: tuple(vs) for f, vs in feats.items()}
        for ns, feats in (getattr(prio, "property", None) or {}).items()
    }

    variants: dict[str, frozenset[VariantProperty]] = {}
    for label, tree in doc.variants.items():
        try:
            validate_label(label, max_length=schema.label_max_length)
            props = properties_from_tree(tree)
            check_label_matches(label, props)
        except InvalidLabelError as exc:
            raise MetadataError(f"variants.{label}: {exc}") from None
        unknown = sorted({p.namespace for p in props} - set(namespaces))
        if unknown:
            raise MetadataError(
                f"variants.{label}: namespace {unknown[0]!r} is not listed in "
                "default-priorities.namespace"
            )
        variants[label] = props

    providers: dict[str, ProviderInfo] = {}
    if schema.has_providers:
        providers = _providers(schema, doc, feature_prio)
        if set(providers) != set(namespaces):
            raise MetadataError(
                "'providers' must have an entry for exactly the namespaces of "
                f"default-priorities.namespace: {sorted(providers)} vs {sorted(namespaces)}"
            )
    return VariantMetadata(schema, namespaces, variants, feature_prio, property_prio, providers)


def _check_marker(where: str, text: str) -> None:
    from packaging.markers import InvalidMarker, Marker

    try:
        Marker(text)
    except InvalidMarker as exc:
        raise MetadataError(
            f"{where}: invalid marker {text!r}: {str(exc).splitlines()[0]}"
        ) from None


def _providers(
    schema: SchemaVersion, doc: Any, feature_prio: Mapping[str, tuple[str, ...]]
) -> dict[str, ProviderInfo]:
    providers: dict[str, ProviderInfo] = {}
    if schema.family == FAMILY_0_0:
        static = doc.static_properties or {}
        for ns in static:
            entry = doc.providers.get(ns)
            if entry is None or entry.install_time:
                raise MetadataError(
                    f"static-properties.{ns}: only ahead-of-time providers "
                    "(install-time = false) may have static properties"
                )
        for ns, p in doc.providers.items():
            if p.install_time and not p.requires:
                raise MetadataError(f"providers.{ns}: an install-time provider needs 'requires'")
            if p.plugin_api is not None and not p.requires:
                raise MetadataError(f"providers.{ns}: 'plugin-api' is only valid with 'requires'")
            if p.enable_if is not None:
                _check_marker(f"providers.{ns}.enable-if", p.enable_if)
            providers[ns] = ProviderInfo(
                requires=tuple(p.requires),
                plugin_api=p.plugin_api,
                optional=p.optional,
                static_properties=(
                    _ordered_static(static[ns], feature_prio.get(ns)) if ns in static else None
                ),
                enable_if=p.enable_if,
                install_time=p.install_time,
            )
        return providers

    for ns, p in doc.providers.items():
        kinds = [p.requires is not None, p.static_properties is not None, p.builtin is not None]
        if kinds.count(True) != 1:
            raise MetadataError(
                f"providers.{ns}: exactly one of 'requires', 'static-properties' "
                "or 'builtin' must be given"
            )
        if p.plugin_api is not None and p.requires is None:
            raise MetadataError(f"providers.{ns}: 'plugin-api' is only valid with 'requires'")
        if p.feature_order is not None and p.static_properties is None:
            raise MetadataError(
                f"providers.{ns}: 'feature-order' is only valid with 'static-properties'"
            )
        static = None
        if p.static_properties is not None:
            order = p.feature_order or feature_prio.get(ns)
            if (len(p.static_properties) > 1 or p.feature_order) and set(order or ()) != set(
                p.static_properties
            ):
                raise MetadataError(
                    f"providers.{ns}: the order of every static feature must be given "
                    "('feature-order' or default-priorities.feature)"
                )
            static = _ordered_static(p.static_properties, order)
        providers[ns] = ProviderInfo(
            requires=tuple(p.requires or ()),
            plugin_api=p.plugin_api,
            optional=p.optional,
            static_properties=static,
            builtin=p.builtin,
        )
    return providers


# ---------------------------------------------------------------- writing


def metadata_to_json(md: VariantMetadata) -> dict[str, Any]:
    """The JSON object of ``md`` in its own format version (value lists sorted)."""
    prio: dict[str, Any] = {"namespace": list(md.namespace_priorities)}
    if md.schema.has_feature_priorities:
        if md.feature_priorities:
            prio["feature"] = {ns: list(fs) for ns, fs in md.feature_priorities.items()}
        if md.property_priorities:
            prio["property"] = {
                ns: {f: list(vs) for f, vs in feats.items()}
                for ns, feats in md.property_priorities.items()
            }
    out: dict[str, Any] = {"$schema": md.schema.url, "default-priorities": prio}
    if md.schema.has_providers:
        out["providers"] = {ns: _provider_json(md.schema, p) for ns, p in md.providers.items()}
        statics = {
            ns: {f: list(vs) for f, vs in p.static_properties}
            for ns, p in md.providers.items()
            if p.static_properties is not None
        }
        if md.schema.family == FAMILY_0_0 and statics:
            out["static-properties"] = statics
    out["variants"] = {label: properties_to_tree(props) for label, props in md.variants.items()}
    return out


def _provider_json(schema: SchemaVersion, p: ProviderInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if p.requires:
        entry["requires"] = list(p.requires)
    if p.plugin_api is not None:
        entry["plugin-api"] = p.plugin_api
    if p.optional:
        entry["optional"] = True
    if schema.family == FAMILY_0_0:
        if p.enable_if is not None:
            entry["enable-if"] = p.enable_if
        if not p.install_time:
            entry["install-time"] = False
        return entry
    if p.static_properties is not None:
        entry["static-properties"] = {f: list(vs) for f, vs in p.static_properties}
        if len(p.static_properties) > 1:
            entry["feature-order"] = [f for f, _ in p.static_properties]
    if p.builtin is not None:
        entry["builtin"] = p.builtin
    return entry


def dump_metadata(md: VariantMetadata) -> str:
    """Serialise ``md`` as stable, indented JSON text ending in a newline."""
    return json.dumps(metadata_to_json(md), indent=2) + "\n"


def write_metadata(md: VariantMetadata, path: str | Path) -> None:
    """Write ``md`` to ``path`` atomically: a failed write leaves no truncated file."""
    from wheelnext.core.files import atomic_write

    atomic_write(path, dump_metadata(md).encode("utf-8"))


# ---------------------------------------------------------------- merging


def _merge_namespaces(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    short, long_ = sorted((a, b), key=len)
    if long_[: len(short)] != short:
        raise InconsistentMetadataError(
            f"default-priorities.namespace {list(a)} and {list(b)} differ: one must "
            "extend the other"
        )
    return long_


def _merge_maps(what: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(a)
    for key, value in b.items():
        if key in merged and merged[key] != value:
            raise InconsistentMetadataError(f"{what} {key!r} differs between the documents")
        merged[key] = value
    return merged


def _merge_priorities(
    what: str,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    a_namespaces: tuple[str, ...],
    b_namespaces: tuple[str, ...],
) -> dict[str, Any]:
    """PEP 825 0.1.0: feature/property priorities "can be added if they were not present
    in the previous ``default-priorities.namespace``": only for namespaces new to the merge."""
    merged = _merge_maps(what, a, b)
    for ns in a.keys() ^ b.keys():
        if ns in a_namespaces and ns in b_namespaces:
            raise InconsistentMetadataError(
                f"{what} {ns!r} is in only one document though both list namespace {ns!r}: "
                "priorities may only be added for a namespace new to the merge"
            )
    return merged


def merge_metadata(a: VariantMetadata, b: VariantMetadata) -> VariantMetadata:
    """Combine two documents of one release (PEP 825 "combining"; symmetric).

    Namespace lists must be equal or one must start with the other (the longer wins);
    a label must map to the same property set in both; providers may only be added for
    keys the other document lacks, feature/property priorities only for namespaces the
    other document does not list.
    """
    if a.schema.family != b.schema.family:
        raise InconsistentMetadataError(
            f"cannot combine metadata of format {a.schema} with format {b.schema}"
        )
    schema = max(a.schema, b.schema)
    return replace(
        a,
        schema=schema,
        namespace_priorities=_merge_namespaces(a.namespace_priorities, b.namespace_priorities),
        variants=_merge_maps("variant label", a.variants, b.variants),
        feature_priorities=_merge_priorities(
            "default-priorities.feature for",
            a.feature_priorities,
            b.feature_priorities,
            a.namespace_priorities,
            b.namespace_priorities,
        ),
        property_priorities=_merge_priorities(
            "default-priorities.property for",
            a.property_priorities,
            b.property_priorities,
            a.namespace_priorities,
            b.namespace_priorities,
        ),
        providers=_merge_maps("provider of namespace", a.providers, b.providers),
    )
