"""Pydantic models of the variant metadata JSON, one per format family.

They define the structure (keys, types, character sets, non-empty unique lists) and produce
the JSON Schemas in ``spec/schema/``; the rules that span keys live in ``metadata``.
``metadata`` reads well-formed documents with a faster checker of exactly these rules and
imports this module only to word an error (pydantic is not needed to load or rank).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
)

from wheelnext.core.labels import LABEL_PATTERN
from wheelnext.core.metadata import OBJECT_REFERENCE_PATTERN
from wheelnext.core.properties import FEATURE_PATTERN, NAMESPACE_PATTERN, VALUE_PATTERN


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    for item in items:
        if item in seen:
            raise ValueError(f"duplicate item {item!r}")
        seen.add(item)
    return items


Namespace = Annotated[str, StringConstraints(pattern=f"^{NAMESPACE_PATTERN}$")]
FeatureName = Annotated[str, StringConstraints(pattern=f"^{FEATURE_PATTERN}$")]
Value = Annotated[str, StringConstraints(pattern=f"^{VALUE_PATTERN}$")]
Label = Annotated[str, StringConstraints(pattern=f"^{LABEL_PATTERN}$")]
Requirement = Annotated[str, StringConstraints(min_length=1)]
ObjectReference = Annotated[str, StringConstraints(pattern=f"^{OBJECT_REFERENCE_PATTERN}$")]
_UNIQUE = {"uniqueItems": True}

ValueList = Annotated[
    list[Value], Field(min_length=1, json_schema_extra=_UNIQUE), AfterValidator(_unique)
]
NamespaceList = Annotated[
    list[Namespace], Field(min_length=1, json_schema_extra=_UNIQUE), AfterValidator(_unique)
]
FeatureList = Annotated[
    list[FeatureName], Field(min_length=1, json_schema_extra=_UNIQUE), AfterValidator(_unique)
]
RequiresList = Annotated[list[Requirement], Field(min_length=1)]
PropertyTree = dict[Namespace, dict[FeatureName, ValueList]]
VariantsMap = dict[Label, PropertyTree]
FeatureTree = dict[FeatureName, ValueList]
# a provider's static list names at least one feature (``{}`` would say nothing)
StaticFeatureTree = Annotated[FeatureTree, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Pep825Priorities(_Model):
    """``default-priorities`` of PEP 825 0.1.1: namespaces only."""

    namespace: NamespaceList


class FullPriorities(_Model):
    """``default-priorities`` with feature and value promotions (0.0.x, 0.1.0, 0.2.x)."""

    namespace: NamespaceList
    feature: dict[Namespace, FeatureList] | None = None
    property: dict[Namespace, dict[FeatureName, ValueList]] | None = None


class LegacyPriorities(FullPriorities):
    """variantlib 0.0.x allowed an empty or missing namespace list."""

    namespace: Annotated[
        list[Namespace], Field(json_schema_extra=_UNIQUE), AfterValidator(_unique)
    ] = []


class Pep825Metadata(_Model):
    """PEP 825 format 0.1.1 (``variant.json`` and ``*-variants.json``)."""

    schema_: str = Field(alias="$schema")
    default_priorities: Pep825Priorities = Field(alias="default-priorities")
    variants: VariantsMap


class Pep825MetadataV010(Pep825Metadata):
    """PEP 825 format 0.1.0, which still carried feature/property priorities."""

    default_priorities: FullPriorities = Field(alias="default-priorities")  # type: ignore[assignment]


class ProviderV02(_Model):
    """A ``providers.{namespace}`` entry of the providers draft / variantlib 0.2.x."""

    requires: RequiresList | None = None
    plugin_api: ObjectReference | None = Field(default=None, alias="plugin-api")
    optional: StrictBool = False
    static_properties: StaticFeatureTree | None = Field(default=None, alias="static-properties")
    feature_order: FeatureList | None = Field(default=None, alias="feature-order")
    builtin: str | None = None


class ProvidersMetadataV02(_Model):
    """Providers draft format 0.2.x, as variantlib 0.2.2 writes it."""

    schema_: str = Field(alias="$schema")
    default_priorities: FullPriorities = Field(alias="default-priorities")
    providers: dict[Namespace, ProviderV02]
    variants: VariantsMap


class ProviderV00(_Model):
    """A ``providers.{namespace}`` entry of variantlib 0.0.x / PEP 817."""

    requires: list[Requirement] = []
    plugin_api: ObjectReference | None = Field(default=None, alias="plugin-api")
    optional: StrictBool = False
    enable_if: str | None = Field(default=None, alias="enable-if")
    install_time: StrictBool = Field(default=True, alias="install-time")


class VariantlibMetadataV00(_Model):
    """variantlib 0.0.x / PEP 817 format (``$schema`` .../v0.0.3.json)."""

    schema_: str = Field(alias="$schema")
    default_priorities: LegacyPriorities = Field(
        default_factory=LegacyPriorities, alias="default-priorities"
    )
    providers: dict[Namespace, ProviderV00] = {}
    static_properties: dict[Namespace, FeatureTree] | None = Field(
        default=None, alias="static-properties"
    )
    variants: VariantsMap = {}


AnyMetadataModel = Pep825Metadata | ProvidersMetadataV02 | VariantlibMetadataV00


def json_schema(model: type[BaseModel], schema_id: str, title: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``model`` with its ``$id`` and title."""
    schema = _close_pattern_objects(model.model_json_schema(by_alias=True, mode="validation"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "title": title,
        **{k: v for k, v in schema.items() if k != "title"},
    }


def _close_pattern_objects(node: Any) -> Any:
    """Keys outside ``patternProperties`` are invalid, as the loader enforces."""
    if isinstance(node, dict):
        node = {k: _close_pattern_objects(v) for k, v in node.items()}
        if "patternProperties" in node:
            node.setdefault("additionalProperties", False)
    elif isinstance(node, list):
        node = [_close_pattern_objects(v) for v in node]
    return node
