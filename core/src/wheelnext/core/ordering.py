"""The standard's variant order, computed as one sort key per variant (PEP 825 "Sorting").

For each feature a variant lists, its *best value* is the listed value ranked highest by
the supported list. Each best value gets the key (namespace rank, feature rank, value
rank); a variant's keys are sorted ascending and compared element-wise. If one list is a
prefix of the other the longer sorts first, and a full tie is broken by label ascending.

Appending an end marker greater than every key makes plain tuple comparison give exactly
that order, so sorting is O(n log n) with each key computed once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from wheelnext.core.properties import VariantProperty

FeatureKey = tuple[str, str]
GroupedProperties = tuple[tuple[FeatureKey, tuple[str, ...]], ...]
VariantKey = tuple[tuple[float, ...], ...]

_END: tuple[float, ...] = (math.inf,)
_UNLISTED = 1 << 30


def promote(base: Iterable[str], *promotions: Iterable[str]) -> list[str]:
    """Items of ``promotions`` that occur in ``base`` first, in order, then the rest.

    Promoting never adds an item: only supported entries can be ranked.
    """
    base = list(base)
    present = set(base)
    order: list[str] = []
    seen: set[str] = set()
    for item in (*(i for p in promotions for i in p), *base):
        if item in present and item not in seen:
            seen.add(item)
            order.append(item)
    return order


def group_properties(properties: Iterable[VariantProperty]) -> GroupedProperties:
    """Fold a property set into ((namespace, feature), values) pairs."""
    grouped: dict[FeatureKey, list[str]] = {}
    for prop in properties:
        grouped.setdefault((prop.namespace, prop.feature), []).append(prop.value)
    return tuple((key, tuple(sorted(values))) for key, values in sorted(grouped.items()))


@dataclass(frozen=True, slots=True)
class RankTable:
    """Ranks of namespaces, features and values; lower is better."""

    namespaces: Mapping[str, int]
    features: Mapping[FeatureKey, int]
    values: Mapping[FeatureKey, Mapping[str, int]]

    @classmethod
    def build(
        cls,
        namespace_order: Sequence[str],
        supported: Mapping[str, Sequence[tuple[str, Sequence[str]]]],
        feature_promotions: Mapping[str, Sequence[str]] | None = None,
        value_promotions: Mapping[FeatureKey, Sequence[str]] | None = None,
    ) -> RankTable:
        """Ranks from the namespace order and the supported lists (provider order).

        ``feature_promotions``/``value_promotions`` move listed supported entries to the
        front (user configuration first, then the package's default-priorities).
        """
        feature_promotions = feature_promotions or {}
        value_promotions = value_promotions or {}
        namespaces = {ns: i for i, ns in enumerate(dict.fromkeys(namespace_order))}
        features: dict[FeatureKey, int] = {}
        values: dict[FeatureKey, dict[str, int]] = {}
        for ns, feats in supported.items():
            by_name = {name: vals for name, vals in feats if vals}
            for rank, name in enumerate(promote(by_name, feature_promotions.get(ns, ()))):
                key = (ns, name)
                features[key] = rank
                ordered = promote(by_name[name], value_promotions.get(key, ()))
                values[key] = {v: i for i, v in enumerate(ordered)}
        return cls(namespaces, features, values)

    def key(self, grouped: GroupedProperties) -> VariantKey | None:
        """The sort key of a variant, or None if it is not compatible."""
        keys = []
        values, features, namespaces = self.values, self.features, self.namespaces
        for feature_key, listed in grouped:
            ranks = values.get(feature_key)
            if ranks is None:
                return None
            if len(listed) == 1:  # the common case: one value per feature
                best = ranks.get(listed[0])
            else:
                best = min((ranks[v] for v in listed if v in ranks), default=None)
            if best is None:
                return None
            keys.append((namespaces.get(feature_key[0], _UNLISTED), features[feature_key], best))
        keys.sort()
        keys.append(_END)  # type: ignore[arg-type]
        return tuple(keys)

    def why_incompatible(self, grouped: GroupedProperties) -> str | None:
        """Name the first feature a variant needs that this table cannot satisfy."""
        values = self.values
        for (ns, feature), listed in grouped:
            ranks = values.get((ns, feature))
            if ranks is None:
                shown = ", ".join(listed)
                return f"'{ns} :: {feature}' is not supported (wheel needs one of: {shown})"
            for value in listed:
                if value in ranks:
                    break
            else:
                return f"no supported value of '{ns} :: {feature}' among: {', '.join(listed)}"
        return None

    def best_properties(self, grouped: GroupedProperties) -> list[VariantProperty]:
        """The best-value property of every feature of a compatible variant, in key order."""
        best = []
        for (ns, feature), listed in grouped:
            ranks = self.values[(ns, feature)]
            value = min((v for v in listed if v in ranks), key=ranks.__getitem__)
            rank = (self.namespaces.get(ns, _UNLISTED), self.features[(ns, feature)])
            best.append((rank, VariantProperty(ns, feature, value)))
        return [prop for _, prop in sorted(best)]
