from __future__ import annotations

import pytest

from wheelnext.core.errors import MarkerError
from wheelnext.core.markers import VariantEnvironment, VariantMarker, VariantRequirement
from wheelnext.core.properties import VariantProperty

P = VariantProperty.parse
SUPPORTED = {"nvidia :: cuda_version_lower_bound :: 12.8", "nvidia :: sm_arch :: 120_real"}
# vector K1: a wheel listing 110_real and 120_real on a GPU supporting only 120_real
CU = VariantEnvironment.for_wheel(
    "cu",
    [
        P("nvidia::sm_arch::110_real"),
        P("nvidia::sm_arch::120_real"),
        P("nvidia::cuda_version_lower_bound::12.8"),
    ],
    supported=lambda p: str(p) in SUPPORTED,
)
NULL = VariantEnvironment.for_wheel("null")
PLAIN = VariantEnvironment.for_wheel(None)


def test_k1_environment_keeps_supported_properties_only() -> None:
    assert CU.as_dict() == {
        "variant_label": "cu",
        "variant_properties": SUPPORTED,
        "variant_features": {"nvidia :: cuda_version_lower_bound", "nvidia :: sm_arch"},
        "variant_namespaces": {"nvidia"},
    }


@pytest.mark.parametrize(
    ("marker", "cu", "null", "plain"),
    [
        ('"nvidia :: sm_arch :: 120_real" in variant_properties', True, False, False),
        ('"nvidia::sm_arch::120_real" in variant_properties', True, False, False),
        ('"nvidia::sm_arch::110_real" in variant_properties', False, False, False),
        ('"nvidia::sm_arch::110_real" not in variant_properties', True, True, True),
        ('"nvidia :: sm_arch" in variant_features', True, False, False),
        ('"nvidia" in variant_namespaces', True, False, False),
        ('variant_label == "cu"', True, False, False),
        ('variant_label == "null"', False, True, False),
        ('variant_label == ""', False, False, True),
        ('variant_label != ""', True, True, False),
        ('"c" in variant_label', True, False, False),
        ('variant_label in "cuda"', True, False, True),
        ('"x86_64" in variant_namespaces or variant_label == "null"', False, True, False),
        (
            '("nvidia" in variant_namespaces and python_version >= "3") or os_name == "nope"',
            True,
            False,
            False,
        ),
    ],
)
def test_marker_truth_table(marker: str, cu: bool, null: bool, plain: bool) -> None:
    parsed = VariantMarker(marker)
    assert [parsed.evaluate(env) for env in (CU, NULL, PLAIN)] == [cu, null, plain]


def test_standard_markers_use_the_given_environment() -> None:
    marker = VariantMarker('sys_platform == "linux" and "nvidia" in variant_namespaces')
    assert marker.uses_variants
    assert marker.evaluate(CU, {"sys_platform": "linux"})
    assert not marker.evaluate(CU, {"sys_platform": "win32"})
    assert not VariantMarker('os_name == "posix"').uses_variants


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('variant_properties == "a::b::c"', "is a set"),
        ('variant_properties in "a::b::c"', "is a set"),
        ('"a::b" in variant_properties', "invalid variant property 'a::b'"),
        ('"a::b::c" in variant_features', "expected 'namespace :: feature'"),
        ('"A" in variant_namespaces', "invalid variant namespace 'A'"),
        ('variant_label >= "a"', "supports ==, !=, in and not in"),
        ("variant_label == os_name", "compare a variant marker with a quoted string"),
        ('no_such_variable == "b"', "invalid marker"),
        ('python_version >= "3" and', "unexpected end"),
        ('(python_version >= "3"', "missing"),
        ('python_version >= "3" $', "unexpected text"),
    ],
)
def test_invalid_markers(marker: str, message: str) -> None:
    with pytest.raises(MarkerError, match=message):
        VariantMarker(marker)


def test_requirements_with_variant_markers() -> None:
    req = VariantRequirement.parse(
        'cuda-runtime[extra]>=12; "nvidia :: sm_arch :: 120_real" in variant_properties'
    )
    assert req.requirement.name == "cuda-runtime"
    assert req.requirement.extras == {"extra"}
    assert req.applies(CU)
    assert not req.applies(PLAIN)
    assert VariantRequirement.parse("numpy>=2").applies(PLAIN)
    url = VariantRequirement.parse('pkg @ https://example.com/a;b.whl ; variant_label == "cu"')
    assert url.requirement.url == "https://example.com/a;b.whl"
    assert url.applies(CU)
    with pytest.raises(MarkerError, match="invalid requirement"):
        VariantRequirement.parse("not a requirement!!")


def test_selector_gives_the_marker_environment_of_the_chosen_wheel() -> None:
    from packaging.tags import Tag

    from tests.helpers import metadata_doc
    from wheelnext.core.metadata import parse_metadata
    from wheelnext.core.selector import Selector
    from wheelnext.core.supported import SupportedProperties

    metadata = parse_metadata(
        metadata_doc(
            ["nvidia"],
            {
                "cu": {
                    "nvidia": {
                        "sm_arch": ["110_real", "120_real"],
                        "cuda_version_lower_bound": ["12.8"],
                    }
                },
                "null": {},
            },
        )
    )
    supported = SupportedProperties.from_features(
        {"nvidia": {"cuda_version_lower_bound": ["12.9", "12.8"], "sm_arch": ["120_real"]}}
    )
    selector = Selector(supported, tags=[Tag("py3", "none", "any")])
    best = selector.rank(["pkg-1.0-py3-none-any-cu.whl"], metadata).best
    assert best is not None
    assert selector.variant_environment(best, metadata) == CU
    plain = best.with_label(None)
    assert selector.variant_environment(plain, metadata) == PLAIN
    assert selector.variant_environment(best.with_label("null"), metadata) == NULL
