"""The selector around ordering: tags, build numbers, groups and rejection reasons."""

from __future__ import annotations

from packaging.tags import Tag, sys_tags

from tests.helpers import metadata_doc
from wheelnext.core.errors import UnknownSchemaVersionError
from wheelnext.core.metadata import parse_metadata
from wheelnext.core.selector import Selector, select
from wheelnext.core.supported import SupportedProperties

MD = parse_metadata(
    metadata_doc(
        ["x86_64"],
        {"v3": {"x86_64": {"level": ["v3"]}}, "v2": {"x86_64": {"level": ["v2"]}}, "null": {}},
    )
)
SUPPORTED = SupportedProperties.from_features({"x86_64": {"level": ["v3", "v2", "v1"]}})
LINUX = [Tag("cp312", "cp312", "manylinux_2_28_x86_64"), Tag("py3", "none", "any")]


def names(selection: object) -> list[str]:
    return [str(r.wheel) for r in selection.ranked]  # type: ignore[attr-defined]


def test_variant_order_beats_tags_and_groups_come_in_order() -> None:
    wheels = [
        "pkg-1.0-py3-none-any.whl",
        "pkg-1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        "pkg-1.0-py3-none-any-null.whl",
        "pkg-1.0-py3-none-any-v3.whl",
        "pkg-1.0-cp312-cp312-manylinux_2_28_x86_64-v2.whl",
        "pkg-1.0-cp312-cp312-manylinux_2_28_x86_64-v3.whl",
    ]
    assert names(select(wheels, MD, SUPPORTED, tags=LINUX)) == [
        "pkg-1.0-cp312-cp312-manylinux_2_28_x86_64-v3.whl",
        "pkg-1.0-py3-none-any-v3.whl",
        "pkg-1.0-cp312-cp312-manylinux_2_28_x86_64-v2.whl",
        "pkg-1.0-py3-none-any-null.whl",
        "pkg-1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        "pkg-1.0-py3-none-any.whl",
    ]


def test_higher_build_number_first_within_a_group() -> None:
    wheels = [
        "pkg-1.0-1-py3-none-any-v3.whl",
        "pkg-1.0-2-py3-none-any-v3.whl",
        "pkg-1.0-py3-none-any-v3.whl",
    ]
    assert names(select(wheels, MD, SUPPORTED, tags=LINUX)) == [
        "pkg-1.0-2-py3-none-any-v3.whl",
        "pkg-1.0-1-py3-none-any-v3.whl",
        "pkg-1.0-py3-none-any-v3.whl",
    ]


def test_rejection_reasons() -> None:
    wheels = [
        "pkg-1.0-cp39-cp39-win_amd64-v3.whl",
        "pkg-1.0-py3-none-any-v9.whl",
        "pkg-2.0-py3-none-any-v3.whl",
        "not a wheel",
        "pkg-1.0-py3-none-any-v3.whl",
    ]
    result = select(wheels, MD, SUPPORTED, tags=LINUX)
    assert names(result) == ["pkg-1.0-py3-none-any-v3.whl"]
    reasons = {r.wheel: r.reason for r in result.rejected}
    assert (
        "platform tags cp39-cp39-win_amd64 are not supported"
        in reasons["pkg-1.0-cp39-cp39-win_amd64-v3.whl"]
    )
    assert (
        reasons["pkg-1.0-py3-none-any-v9.whl"]
        == "variant label 'v9' is not in the variants metadata"
    )
    assert "one release at a time" in reasons["pkg-2.0-py3-none-any-v3.whl"]
    assert "must end in .whl" in reasons["not a wheel"]


def test_without_metadata_variants_are_rejected_and_plain_wheels_rank() -> None:
    result = select(
        ["pkg-1.0-py3-none-any-v3.whl", "pkg-1.0-py3-none-any.whl"], None, SUPPORTED, tags=LINUX
    )
    assert names(result) == ["pkg-1.0-py3-none-any.whl"]
    assert result.rejected[0].reason == "variant wheel but no variants metadata for this release"


def test_unusable_metadata_degrades_to_non_variant_wheels() -> None:
    error = UnknownSchemaVersionError(
        "unsupported variant metadata schema version 9.0.0", "pkg-1.0-variants.json"
    )
    result = select(
        ["pkg-1.0-py3-none-any-v3.whl", "pkg-1.0-py3-none-any.whl"], error, SUPPORTED, tags=LINUX
    )
    assert names(result) == ["pkg-1.0-py3-none-any.whl"]
    assert result.rejected[0].reason == (
        "variant metadata unusable: pkg-1.0-variants.json: "
        "unsupported variant metadata schema version 9.0.0"
    )


def test_why_explains_the_best_values_and_json_shape() -> None:
    result = select(
        ["pkg-1.0-py3-none-any-v3.whl", "pkg-1.0-py3-none-any-null.whl"], MD, SUPPORTED, tags=LINUX
    )
    assert [r.why for r in result.ranked] == ["variant 'v3': x86_64 :: level :: v3", "null variant"]
    assert result.best is not None
    assert result.best.label == "v3"
    assert result.to_json() == {
        "ranked": ["pkg-1.0-py3-none-any-v3.whl", "pkg-1.0-py3-none-any-null.whl"],
        "rejected": [],
    }


def test_absent_or_failed_provider_supports_nothing() -> None:
    from wheelnext.core.supported import ProviderResult

    absent = SupportedProperties((ProviderResult("x86_64", "absent"),))
    result = select(
        ["pkg-1.0-py3-none-any-v3.whl", "pkg-1.0-py3-none-any-null.whl"], MD, absent, tags=LINUX
    )
    assert names(result) == ["pkg-1.0-py3-none-any-null.whl"]
    assert "no provider answered for namespace 'x86_64'" in result.rejected[0].reason


def test_default_tags_are_this_interpreter() -> None:
    selector = Selector(SUPPORTED)
    best = next(iter(sys_tags()))
    wheel = f"pkg-1.0-{best.interpreter}-{best.abi}-{best.platform}-v2.whl"
    assert names(selector.rank([wheel, "pkg-1.0-py3-none-any-v2.whl"], MD)) == [
        wheel,
        "pkg-1.0-py3-none-any-v2.whl",
    ]
