"""Rank 10,000 variants x 8 properties: wheelnext's selector against variantlib 0.2.2.

Both get the same variants and the same supported properties; the script first checks
they produce the same order, then prints the best-of-N time of each and the ratio.

    python bench/rank.py [--variants N] [--repeat R]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from importlib.metadata import version

from packaging.tags import Tag

from wheelnext.core.labels import hash_label
from wheelnext.core.metadata import VariantMetadata
from wheelnext.core.ordering import RankTable
from wheelnext.core.properties import VariantProperty
from wheelnext.core.schema_versions import PEP825_V0_1_1
from wheelnext.core.selector import Selector
from wheelnext.core.supported import SupportedProperties

NAMESPACES = ["ns_a", "ns_b"]
FEATURES = [f"f{i}" for i in range(4)]
VALUES = [f"v{i}" for i in range(10)]


def make_input(
    n: int, seed: int = 825
) -> tuple[dict[str, frozenset[VariantProperty]], dict[str, dict[str, list[str]]]]:
    """n distinct variants, each with one value for each of 8 features; 7/10 values supported."""
    rnd = random.Random(seed)
    supported = {ns: {f: rnd.sample(VALUES, 7) for f in FEATURES} for ns in NAMESPACES}
    variants: dict[str, frozenset[VariantProperty]] = {}
    while len(variants) < n:
        props = frozenset(
            VariantProperty(ns, f, rnd.choice(VALUES[:8])) for ns in NAMESPACES for f in FEATURES
        )
        variants[hash_label(props)] = props
    return variants, supported


def best_of(repeat: int, fn: Callable[[], list[str]]) -> tuple[float, list[str]]:
    best, result = float("inf"), []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from variantlib.models.variant import VariantDescription as VDesc
    from variantlib.models.variant import VariantProperty as VProp
    from variantlib.resolver.lib import sort_and_filter_supported_variants

    variants, supported = make_input(args.variants)
    # variantlib's input: its own model objects, built outside the timed region
    vdescs = [
        VDesc([VProp(p.namespace, p.feature, p.value) for p in sorted(props)], label=label)
        for label, props in variants.items()
    ]
    vprops = [VProp(ns, f, v) for ns, fs in supported.items() for f, vs in fs.items() for v in vs]
    # ours: the normalised metadata object, also built outside the timed region
    metadata = VariantMetadata(PEP825_V0_1_1, tuple(NAMESPACES), variants)
    profile = SupportedProperties.from_features(supported)
    wheels = [f"pkg-1.0-py3-none-any-{label}.whl" for label in variants]
    tags = [Tag("py3", "none", "any")]

    def theirs() -> list[str]:
        ranked = sort_and_filter_supported_variants(
            list(vdescs), vprops, namespace_priorities=NAMESPACES
        )
        return [d.label for d in ranked if d.label != "null"]

    def ours_sort() -> list[str]:
        table = RankTable.build(NAMESPACES, {ns: list(fs.items()) for ns, fs in supported.items()})
        keyed = []
        for label, grouped in metadata.groups.items():
            key = table.key(grouped)
            if key is not None:
                keyed.append(((key, label), label))
        keyed.sort()
        return [label for _, label in keyed]

    def ours_selector() -> list[str]:
        selection = Selector(profile, tags=tags).rank(wheels, metadata)
        return [str(r.wheel.label) for r in selection.ranked]

    t_theirs, r_theirs = best_of(args.repeat, theirs)
    t_sort, r_sort = best_of(args.repeat, ours_sort)
    t_sel, r_sel = best_of(args.repeat, ours_selector)
    assert r_sort == r_theirs, "different order than variantlib"
    assert r_sel == r_theirs, "selector order differs from variantlib"

    vl = f"variantlib {version('variantlib')}"
    print(f"input: {len(variants)} variants x 8 properties, {len(r_theirs)} compatible")
    print(f"best of {args.repeat} runs; the same order from all three was checked first")
    rows = [
        (f"{vl} sort_and_filter_supported_variants", t_theirs),
        ("wheelnext RankTable keys + sort (same work)", t_sort),
        ("wheelnext Selector.rank (also parses 10k filenames)", t_sel),
    ]
    for name, seconds in rows:
        print(f"{name:<55} {seconds * 1000:8.1f} ms  ratio {t_theirs / seconds:5.2f}x")


if __name__ == "__main__":
    main()
