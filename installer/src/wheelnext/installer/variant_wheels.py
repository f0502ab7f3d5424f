"""Variant wheels for package authors: make one from a built wheel, read one, and write
the index-level ``{name}-{version}-variants.json`` for a directory of them (PEP 825)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from wheelnext.core.errors import WheelnextError
from wheelnext.core.filenames import WheelFilename, variants_json_filename
from wheelnext.core.labels import NULL_LABEL, hash_label
from wheelnext.core.metadata import (
    ProviderInfo,
    VariantMetadata,
    dump_metadata,
    merge_metadata,
    parse_metadata,
)
from wheelnext.core.properties import VariantProperty, properties_to_tree
from wheelnext.core.schema_versions import PEP825_V0_1_1, PROVIDERS_V0_2_0, SchemaVersion
from wheelnext.installer.archive import corrupt_errors, open_zip
from wheelnext.installer.errors import InstallerError

LOG = logging.getLogger(__name__)
VARIANT_JSON = "variant.json"
MAX_VARIANT_JSON = 16 * 2**20  # declared size; read before the archive check (finder.py)
# "pep825": PEP 825's 0.1.1 format (namespaces only, providers left to tools; what uv's
# variant build reads); "variantlib": the 0.2 format variantlib 0.2.2 reads and writes
# (provider requirements included)
FORMATS: Mapping[str, SchemaVersion] = {"pep825": PEP825_V0_1_1, "variantlib": PROVIDERS_V0_2_0}
DEFAULT_FORMAT = "pep825"


def format_name(schema: SchemaVersion) -> str | None:
    """The ``--format`` name that writes ``schema`` (None: a format we only read)."""
    return next((name for name, version in FORMATS.items() if version == schema), None)


def installed_provider(namespace: str) -> ProviderInfo | None:
    """How to require the provider installed here for ``namespace``: its distribution at
    this version or newer, and its plugin-API object reference when it has one."""
    from importlib.metadata import entry_points

    from wheelnext.core.hookspecs import ENTRY_POINT_GROUP

    found: ProviderInfo | None = None
    for group in (ENTRY_POINT_GROUP, "variant_plugins"):
        for ep in entry_points(group=group, name=namespace):
            if ep.dist is None:
                continue
            requires = (f"{ep.dist.name}>={ep.dist.version}",)
            plugin_api = ep.value if group == "variant_plugins" else None
            if plugin_api is None and found is not None:
                plugin_api = found.plugin_api
            found = ProviderInfo(requires=requires, plugin_api=plugin_api)
    return found


def check_declared(properties: Iterable[VariantProperty]) -> None:
    """Refuse values an installed provider does not declare, and several values of a
    single-value feature; namespaces with no provider installed are not checked."""
    from wheelnext.core.detection import describe_source
    from wheelnext.core.discovery import discover

    by_namespace: dict[str, list[VariantProperty]] = defaultdict(list)
    for prop in properties:
        by_namespace[prop.namespace].append(prop)
    sources = {s.name: s for s in discover()}
    for namespace, props in by_namespace.items():
        source = sources.get(namespace)
        if source is None:
            LOG.info("no provider installed for %r: its properties are not checked", namespace)
            continue
        description = describe_source(source)
        counts: dict[str, int] = defaultdict(int)
        for prop in props:
            feature = description.feature(prop.feature)
            if feature is None or prop.value not in feature.values:
                raise InstallerError(
                    f"property '{prop}' is not declared by the installed provider "
                    f"{source.distribution} {source.version} (use --no-validate to allow it)"
                )
            counts[prop.feature] += 1
            if counts[prop.feature] > 1 and not feature.multi_value:
                raise InstallerError(
                    f"feature '{namespace} :: {prop.feature}' takes one value, several given"
                )


def build_metadata(
    label: str | None,
    properties: Sequence[VariantProperty],
    namespaces: Sequence[str] = (),
    fmt: str = DEFAULT_FORMAT,
    providers: Mapping[str, ProviderInfo] | None = None,
) -> VariantMetadata:
    """The ``variant.json`` of one wheel, validated like any document read from disk.

    ``label`` None means variantlib's hash label; namespaces default to the order the
    properties name them; in the variantlib format each namespace needs a provider entry
    (given, or taken from the provider installed here).
    """
    props = frozenset(properties)
    label = hash_label(props) if label is None else label
    order = list(namespaces) or list(dict.fromkeys(p.namespace for p in properties))
    if not order:
        raise InstallerError(
            "give the release's namespaces (--default-priorities) for a null variant"
        )
    missing = sorted({p.namespace for p in props} - set(order))
    if missing:
        raise InstallerError(f"namespace {missing[0]!r} is missing from --default-priorities")
    schema = FORMATS[fmt]
    doc: dict[str, object] = {
        "$schema": schema.url,
        "default-priorities": {"namespace": order},
        "variants": {label: properties_to_tree(props)},
    }
    if schema.has_providers:
        entries: dict[str, object] = {}
        for namespace in order:
            info = (providers or {}).get(namespace) or installed_provider(namespace)
            if info is None:
                raise InstallerError(
                    f"no provider known for namespace {namespace!r}: pass --provider "
                    f"{namespace}=REQUIREMENT or install its provider (the default format, "
                    "pep825, needs neither)"
                )
            entry: dict[str, object] = {"requires": list(info.requires)}
            if info.plugin_api:
                entry["plugin-api"] = info.plugin_api
            entries[namespace] = entry
        doc = {**doc, "providers": entries}
    try:
        return parse_metadata(doc)
    except WheelnextError as exc:
        raise InstallerError(f"invalid variant: {exc}") from None


def make_variant(wheel: Path, metadata: VariantMetadata, output_dir: Path | None = None) -> Path:
    """Write the variant wheel of ``wheel`` (a non-variant wheel) described by ``metadata``:
    label added to the filename, ``variant.json`` in the dist-info, RECORD updated."""
    from wheelnext.installer.wheeledit import WheelEdit

    filename = _parse_filename(wheel)
    if filename.label is not None:
        raise InstallerError(f"{wheel.name}: already a variant wheel (label {filename.label!r})")
    (label,) = metadata.labels
    edit = WheelEdit(wheel)
    name = f"{edit.dist_info}/{VARIANT_JSON}"
    if edit.has(name):
        raise InstallerError(f"{wheel.name}: has a {name} but no label in its filename")
    edit.put(name, dump_metadata(metadata).encode("utf-8"))
    destination = (output_dir or wheel.parent) / f"{wheel.name[: -len('.whl')]}-{label}.whl"
    edit.save(destination)
    return destination


def release_variants(directory: Path, wheel: Path) -> VariantMetadata | None:
    """The combined metadata of the variant wheels in ``directory`` of ``wheel``'s release
    (same name and version), or None when there are none: what ``--null`` takes its
    namespaces (and providers, and format) from."""
    release = _parse_filename(wheel).release
    found = []
    for path in sorted(directory.glob("*.whl")) if directory.is_dir() else ():
        try:
            other = WheelFilename.parse(path.name)
        except WheelnextError:
            continue
        if other.release == release and other.label not in (None, NULL_LABEL):
            found.append(read_variant(path))
    return next(iter(combine(found).values()), None)


@dataclass(frozen=True, slots=True)
class VariantWheel:
    """A wheel's filename and, for a variant wheel, its validated ``variant.json``."""

    path: Path
    filename: WheelFilename
    metadata: VariantMetadata | None


def read_variant(wheel: Path) -> VariantWheel:
    """Read a wheel's variant identity; the ``variant.json`` must name exactly the
    filename's label, and a non-variant wheel must not carry one."""
    filename = _parse_filename(wheel)
    errors: tuple[type[BaseException], ...] = (*corrupt_errors(), ValueError)
    try:
        with open_zip(wheel) as archive:
            infos = [
                i
                for i in archive.infolist()
                if i.filename.count("/") == 1 and i.filename.endswith(f".dist-info/{VARIANT_JSON}")
            ]
            if len(infos) == 1 and infos[0].file_size > MAX_VARIANT_JSON:
                raise InstallerError(
                    f"{wheel.name}: {infos[0].filename} declares {infos[0].file_size} bytes "
                    f"(limit {MAX_VARIANT_JSON})"
                )
            data = archive.read(infos[0]) if len(infos) == 1 else None
    except errors as exc:
        raise InstallerError(f"{wheel.name}: not a readable wheel ({exc})") from None
    names = [i.filename for i in infos]
    if len(names) > 1:
        raise InstallerError(f"{wheel.name}: {len(names)} variant.json files")
    if filename.label is None:
        if data is not None:
            raise InstallerError(f"{wheel.name}: has {names[0]} but no label in its filename")
        return VariantWheel(wheel, filename, None)
    if data is None:
        raise InstallerError(f"{wheel.name}: a variant wheel without *.dist-info/{VARIANT_JSON}")
    metadata = parse_metadata(data, source=f"{wheel.name}: {names[0]}")
    if metadata.labels != (filename.label,):
        found = ", ".join(repr(label) for label in metadata.labels) or "none"
        raise InstallerError(
            f"{wheel.name}: {names[0]} must describe exactly the label {filename.label!r} "
            f"of its filename; it describes {found}"
        )
    return VariantWheel(wheel, filename, metadata)


def check_variant_wheel(wheel: Path, release: VariantMetadata | None) -> VariantWheel:
    """At install: the wheel's own ``variant.json`` must agree with its filename (see
    ``read_variant``) and with ``release``, the variant metadata it was selected by (its
    ``variants.json``): the label must be there with exactly the same properties, or the
    machine would get a wheel built for hardware other than the one it was chosen for."""
    found = read_variant(wheel)
    if found.metadata is None or release is None:
        return found
    (label,) = found.metadata.labels
    declared = found.metadata.variants[label]
    listed = release.properties(label)
    if listed is None:
        raise InstallerError(
            f"{wheel.name}: label {label!r} is not in the release's variant metadata"
        )
    if listed != declared:
        raise InstallerError(
            f"{wheel.name}: its {VARIANT_JSON} declares {_describe(declared)} but the "
            f"release's variant metadata gives label {label!r} {_describe(listed)}"
        )
    return found


def _describe(properties: frozenset[VariantProperty]) -> str:
    return "; ".join(sorted(str(p) for p in properties)) or "no properties"


def label_text(label: str, properties: frozenset[VariantProperty] | None) -> str:
    """``LABEL: NS :: F :: V; ...``: a label with the hardware it stands for, so output
    names hardware, not hashes (``cfdbe307: x86_64 :: level :: v4``)."""
    return f"{label}: {_describe(properties or frozenset())}"


def combine(wheels: Iterable[VariantWheel]) -> dict[str, VariantMetadata]:
    """Merge the wheels' metadata per release (filename -> document); any inconsistency
    (a label with two property sets, clashing priorities or formats) is an error naming
    the wheel."""
    releases: dict[str, VariantMetadata] = {}
    sets: dict[str, dict[frozenset[VariantProperty], str]] = defaultdict(dict)
    for wheel in sorted(wheels, key=lambda w: w.path.name):
        if wheel.metadata is None:
            continue
        key = variants_json_filename(wheel.filename.name, wheel.filename.version)
        current = releases.get(key)
        try:
            releases[key] = (
                wheel.metadata if current is None else merge_metadata(current, wheel.metadata)
            )
        except WheelnextError as exc:
            raise InstallerError(
                f"{wheel.path.name}: inconsistent with the other wheels of its release: {exc}"
            ) from None
        (label,) = wheel.metadata.labels
        props = wheel.metadata.variants[label]
        other = sets[key].setdefault(props, label)
        if label not in (other, NULL_LABEL):
            LOG.warning("%s: labels %r and %r have the same properties", key, other, label)
    return releases


def index_directory(directory: Path) -> list[Path]:
    """Write every ``{name}-{version}-variants.json`` for the variant wheels in
    ``directory``; nothing is written unless every wheel is consistent."""
    from wheelnext.core.files import atomic_write

    if not directory.is_dir():
        raise InstallerError(f"{directory}: not a directory")
    wheels = [read_variant(p) for p in sorted(directory.glob("*.whl"))]
    releases = combine(wheels)
    written = []
    for filename, metadata in sorted(releases.items()):
        path = directory / filename
        atomic_write(path, dump_metadata(metadata).encode("utf-8"))
        written.append(path)
    return written


def _parse_filename(wheel: Path) -> WheelFilename:
    try:
        return WheelFilename.parse(wheel.name)
    except WheelnextError as exc:
        raise InstallerError(str(exc)) from None
