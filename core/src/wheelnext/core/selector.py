"""The reference selector: filter and order the wheels of one release (PEP 825).

A pure function of (wheel filenames, variant metadata, supported properties, user
priorities, platform tags): no I/O. Every wheel comes back either ranked, with why it
stands where it does, or rejected, with the reason.

Order: compatible variants by the standard's key (``ordering``), the null variant after
them, non-variant wheels last; within one label (or among non-variant wheels) by
platform tag priority, then higher build number first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from packaging.tags import Tag

from wheelnext.core.errors import InvalidFilenameError, MetadataError
from wheelnext.core.filenames import WheelFilename
from wheelnext.core.labels import NULL_LABEL
from wheelnext.core.metadata import VariantMetadata, collector_paused
from wheelnext.core.ordering import FeatureKey, GroupedProperties, RankTable, promote
from wheelnext.core.priorities import UserPriorities
from wheelnext.core.supported import SupportedProperties

if TYPE_CHECKING:
    from wheelnext.core.markers import VariantEnvironment


class _Explained:
    """A subject and a text computed on first read (explaining costs more than ranking)."""

    __slots__ = ("_make", "_text")
    _text_name = "text"

    def __init__(self, text: str | Callable[[], str]) -> None:
        self._text: str | None = text if isinstance(text, str) else None
        self._make: Callable[[], str] | None = None if isinstance(text, str) else text

    def _get(self) -> str:
        if self._text is None:
            assert self._make is not None
            self._text, self._make = self._make(), None
        return self._text

    def __repr__(self) -> str:
        subject = str(getattr(self, "wheel", ""))
        return f"{type(self).__name__}({subject!r}, {self._text_name}={self._get()!r})"


class RankedWheel(_Explained):
    """A compatible wheel and why it ranks where it does."""

    __slots__ = ("wheel",)
    _text_name = "why"

    def __init__(self, wheel: WheelFilename, why: str | Callable[[], str]) -> None:
        super().__init__(why)
        self.wheel = wheel

    why = property(_Explained._get, doc="Why the wheel ranks where it does.")


class Rejection(_Explained):
    """A wheel that cannot be installed on the target (as the caller named it), and why."""

    __slots__ = ("wheel",)
    _text_name = "reason"

    def __init__(self, wheel: str, reason: str | Callable[[], str]) -> None:
        super().__init__(reason)
        self.wheel = wheel

    reason = property(_Explained._get, doc="Why the wheel was rejected.")


@dataclass(frozen=True, slots=True)
class Selection:
    """The ranked compatible wheels (best first) and every rejected wheel."""

    ranked: tuple[RankedWheel, ...]
    rejected: tuple[Rejection, ...]

    @property
    def best(self) -> WheelFilename | None:
        return self.ranked[0].wheel if self.ranked else None

    def to_json(self) -> dict[str, object]:
        """The ``wn select --json`` document."""
        return {
            "ranked": [str(r.wheel) for r in self.ranked],
            "rejected": [{"wheel": r.wheel, "reason": r.reason} for r in self.rejected],
        }


@dataclass(frozen=True, slots=True)
class _Supported:
    """Per namespace: the supported (feature, values) lists, or why it is unusable."""

    lists: dict[str, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict)
    disabled: dict[str, str] = field(default_factory=dict)


def _effective_supported(
    metadata: VariantMetadata, supported: SupportedProperties, priorities: UserPriorities
) -> _Supported:
    """Apply the provider rules: disabled optional providers, then static lists, then detection."""
    result = _Supported()
    namespaces = dict.fromkeys([*metadata.namespace_priorities, *supported.namespaces])
    for ns in namespaces:
        provider = metadata.providers.get(ns)
        if provider is not None and provider.optional and ns not in priorities.enable_optional:
            result.disabled[ns] = f"provider '{ns}' is optional and not enabled"
            continue
        if provider is not None and provider.enable_if is not None:
            from packaging.markers import Marker

            if not Marker(provider.enable_if).evaluate():
                result.disabled[ns] = f"provider '{ns}' is disabled by enable-if"
                continue
        if provider is not None and provider.static_properties is not None:
            result.lists[ns] = list(provider.static_properties)
            continue
        features = supported.features(ns)
        if features is not None:
            result.lists[ns] = [(f.name, f.values) for f in features]
    return result


def _rank_table(
    metadata: VariantMetadata, effective: _Supported, priorities: UserPriorities
) -> RankTable:
    namespace_order = promote(metadata.namespace_priorities, priorities.namespaces)
    feature_promos: dict[str, list[str]] = {}
    for feat in priorities.features:
        feature_promos.setdefault(feat.namespace, []).append(feat.feature)
    for ns, feats in metadata.feature_priorities.items():
        feature_promos.setdefault(ns, []).extend(feats)
    value_promos: dict[FeatureKey, list[str]] = {}
    for prop in priorities.properties:
        value_promos.setdefault((prop.namespace, prop.feature), []).append(prop.value)
    for ns, by_feature in metadata.property_priorities.items():
        for feature, values in by_feature.items():
            value_promos.setdefault((ns, feature), []).extend(values)
    return RankTable.build(namespace_order, effective.lists, feature_promos, value_promos)


class Selector:
    """Ranks wheels for one target: its supported properties, priorities and tags."""

    def __init__(
        self,
        supported: SupportedProperties,
        *,
        priorities: UserPriorities | None = None,
        tags: Sequence[Tag] | None = None,
    ) -> None:
        if tags is None:
            from packaging.tags import sys_tags

            tags = list(sys_tags())
        self.supported = supported
        self.priorities = priorities or UserPriorities()
        self._tag_rank = {tag: i for i, tag in reversed(list(enumerate(tags)))}

    def rank(
        self,
        wheels: Iterable[str | WheelFilename],
        metadata: VariantMetadata | MetadataError | None,
    ) -> Selection:
        """Rank ``wheels`` (one release) using that release's combined variant metadata.

        ``metadata`` may be the error met while loading it: variant wheels are then
        rejected with that reason and the non-variant wheels still rank (PEP 825 asks
        installers to degrade gracefully).
        """
        with collector_paused():
            return self._rank(wheels, metadata)

    def _rank(
        self,
        wheels: Iterable[str | WheelFilename],
        metadata: VariantMetadata | MetadataError | None,
    ) -> Selection:
        rejected: list[Rejection] = []
        parsed: list[tuple[str, WheelFilename]] = []
        for item in wheels:
            try:
                wheel = item if isinstance(item, WheelFilename) else WheelFilename.parse(item)
            except InvalidFilenameError as exc:
                rejected.append(Rejection(str(item), str(exc)))
                continue
            parsed.append((item if isinstance(item, str) else str(item), wheel))

        table = None
        effective = _Supported()
        if isinstance(metadata, VariantMetadata):
            effective, table = self._judging_lists(metadata)

        release = parsed[0][1].release if parsed else None
        builds = sorted({w.build for _, w in parsed}, reverse=True)
        build_rank = {b: i for i, b in enumerate(builds)}
        tag_ranks: dict[tuple[str, str, str], int | None] = {}
        verdicts: dict[str, tuple[tuple[object, ...], Callable[[], str]] | Callable[[], str]] = {}
        keyed: list[tuple[tuple[object, ...], RankedWheel]] = []

        for name, wheel in parsed:
            if wheel.release != release:
                assert release is not None
                rejected.append(
                    Rejection(
                        name,
                        f"not of release {release[0]} {release[1]}: the selector ranks "
                        "one release at a time",
                    )
                )
                continue
            triple = (wheel.python_tag, wheel.abi_tag, wheel.platform_tag)
            if triple not in tag_ranks:
                tag_ranks[triple] = min(
                    (self._tag_rank[t] for t in wheel.tags if t in self._tag_rank), default=None
                )
            tag_rank = tag_ranks[triple]
            if tag_rank is None:
                rejected.append(
                    Rejection(
                        name,
                        f"platform tags {'-'.join(triple)} are not supported by the "
                        "target interpreter",
                    )
                )
                continue
            tail = (tag_rank, build_rank[wheel.build])
            if wheel.label is None:
                keyed.append(((1, (), "", *tail), RankedWheel(wheel, "non-variant wheel")))
                continue
            verdict = verdicts.get(wheel.label)
            if verdict is None:
                verdict = verdicts[wheel.label] = self._judge(
                    wheel.label, metadata, table, effective
                )
            if isinstance(verdict, tuple):
                key, why = verdict
                keyed.append(((0, *key, *tail), RankedWheel(wheel, why)))
            else:
                rejected.append(Rejection(name, verdict))

        keyed.sort(key=lambda pair: pair[0])
        return Selection(tuple(r for _, r in keyed), tuple(rejected))

    def _judging_lists(self, metadata: VariantMetadata) -> tuple[_Supported, RankTable]:
        """What this target supports for ``metadata``'s release, and the ranks built on it."""
        effective = _effective_supported(metadata, self.supported, self.priorities)
        return effective, _rank_table(metadata, effective, self.priorities)

    def variant_environment(
        self, wheel: WheelFilename, metadata: VariantMetadata | None
    ) -> VariantEnvironment:
        """The variant marker values of a selected ``wheel`` for this target (PEP 825).

        ``variant_properties`` keeps the wheel's properties that the target supports, as
        judged by the same supported lists the ranking used.
        """
        from wheelnext.core.markers import VariantEnvironment

        if wheel.label is None or metadata is None:
            return VariantEnvironment.for_wheel(wheel.label)
        _, table = self._judging_lists(metadata)
        return VariantEnvironment.for_wheel(
            wheel.label,
            metadata.properties(wheel.label) or (),
            supported=lambda p: p.value in table.values.get((p.namespace, p.feature), {}),
        )

    def _judge(
        self,
        label: str,
        metadata: VariantMetadata | MetadataError | None,
        table: RankTable | None,
        effective: _Supported,
    ) -> tuple[tuple[object, ...], Callable[[], str]] | Callable[[], str]:
        """(sort key, why) of a compatible variant label, or why it is rejected."""

        def text(message: str) -> Callable[[], str]:
            return lambda: message

        if metadata is None:
            return text("variant wheel but no variants metadata for this release")
        if isinstance(metadata, MetadataError):
            return text(f"variant metadata unusable: {metadata}")
        assert table is not None
        grouped = metadata.groups.get(label)
        if grouped is None:
            return text(f"variant label {label!r} is not in the variants metadata")
        key = table.key(grouped)
        if key is not None:
            return (key, label), partial(_why_ranked, label, table, grouped)
        return partial(_why_rejected, label, table, grouped, effective)


def _why_ranked(label: str, table: RankTable, grouped: GroupedProperties) -> str:
    if label == NULL_LABEL:
        return "null variant"
    best = table.best_properties(grouped)
    return f"variant {label!r}: " + ", ".join(str(p) for p in best)


def _why_rejected(
    label: str, table: RankTable, grouped: GroupedProperties, effective: _Supported
) -> str:
    for (ns, _), _values in grouped:
        if ns in effective.disabled:
            return f"variant {label!r}: {effective.disabled[ns]}"
        if ns not in effective.lists:
            return f"variant {label!r}: no provider answered for namespace '{ns}'"
    return f"variant {label!r}: {table.why_incompatible(grouped)}"


def select(
    wheels: Iterable[str | WheelFilename],
    metadata: VariantMetadata | MetadataError | None,
    supported: SupportedProperties,
    *,
    priorities: UserPriorities | None = None,
    tags: Sequence[Tag] | None = None,
) -> Selection:
    """Rank ``wheels`` for ``supported`` in one call (see ``Selector.rank``)."""
    return Selector(supported, priorities=priorities, tags=tags).rank(wheels, metadata)
