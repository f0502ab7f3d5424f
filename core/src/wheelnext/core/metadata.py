"""Variant metadata: ``*.dist-info/variant.json`` and ``{name}-{version}-variants.json``.

One normalised, immutable model (``VariantMetadata``) for every supported format version;
``parse_metadata``/``load_metadata`` validate (structure through the pydantic models, the
cross-key rules here), ``dump_metadata`` writes the version it was read as, and
``merge_metadata`` combines documents with PEP 825's rules.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wheelnext.core import safejson
from wheelnext.core.errors import (
    InconsistentMetadataError,
    InvalidLabelError,
    MetadataError,
    WheelnextError,
)
from wheelnext.core.labels import check_label_matches, validate_label
from wheelnext.core.ordering import GroupedProperties, group_properties
from wheelnext.core.properties import (
    VariantProperty,
    properties_from_tree,
    properties_to_tree,
)
from wheelnext.core.schema_versions import (
    FAMILY_0_0,
    FAMILY_0_1,
    SchemaVersion,
    parse_schema_url,
)

FeaturePriorities = Mapping[str, tuple[str, ...]]
PropertyPriorities = Mapping[str, Mapping[str, tuple[str, ...]]]


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
        if isinstance(data, bytes | str):
            data = safejson.loads(data)
        if not isinstance(data, Mapping):
            raise MetadataError("variant metadata must be a JSON object")
        if "$schema" not in data:
            raise MetadataError("missing '$schema'")
        schema = parse_schema_url(data["$schema"])
        if schema.family == FAMILY_0_1 and "providers" in data:
            data = _without_uv_providers(schema, data, source)
        return _from_model(schema, _validate_structure(schema, data))
    except MetadataError as exc:
        raise exc.with_source(source) if source else exc from None
    except WheelnextError as exc:  # property / label rules broken inside the document
        raise MetadataError(str(exc), source) from None


def load_metadata(path: str | Path) -> VariantMetadata:
    """Read and validate a ``variant.json`` or ``*-variants.json`` file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MetadataError(f"cannot read: {exc.strerror or exc}", str(path)) from None
    return parse_metadata(data, source=str(path))


def _without_uv_providers(
    schema: SchemaVersion, data: Mapping[str, Any], source: str | None
) -> dict[str, Any]:
    """uv's prototype writes a top-level ``providers`` into 0.1.x documents, which PEP 825
    does not have: warn and drop it so the rest is read as the PEP says."""
    if not isinstance(data["providers"], Mapping):
        raise MetadataError("providers: must be a JSON object")
    warnings.warn(
        f"{source or 'variant metadata'}: ignoring the top-level 'providers' of a {schema} "
        "document (PEP 825 has none; uv's prototype writes it)",
        MetadataWarning,
        stacklevel=3,
    )
    return {key: value for key, value in data.items() if key != "providers"}


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


def _ordered_static(
    features: Mapping[str, list[str]], order: list[str] | tuple[str, ...] | None
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    names = list(order) if order else list(features)
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
