from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.tags import Tag
from packaging.version import Version

from wheelnext.core.errors import InvalidFilenameError
from wheelnext.core.filenames import (
    WheelFilename,
    is_variants_json_filename,
    parse_variants_json_filename,
    variants_json_filename,
)

# digest §12.2 (variantlib's regex and the PEP 825 grammar agree on these)
VECTORS = [
    ("numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64.whl", (), "cp313", None),
    ("numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64-x86_64_v3.whl", (), "cp313", "x86_64_v3"),
    (
        "numpy-2.3.2-1-cp313-cp313t-musllinux_1_2_x86_64-x86_64_v3.whl",
        (1, ""),
        "cp313",
        "x86_64_v3",
    ),
    ("numpy-2.3.2-1-cp313-cp313t-musllinux_1_2_x86_64.whl", (1, ""), "cp313", None),
    ("pkg-1.0-1-none-any-foo.whl", (1, ""), "none", None),
    ("pkg-1.0-py3-none-any-1.whl", (), "py3", "1"),
    ("pkg-1.0-py3-none-any-null.whl", (), "py3", "null"),
    ("pkg-1.0-py3-none-any-x8664v3.openblas.whl", (), "py3", "x8664v3.openblas"),
    ("pkg-1.0-py3-none-any-12345678901234567.whl", (), "py3", "12345678901234567"),
]


@pytest.mark.parametrize(("filename", "build", "python_tag", "label"), VECTORS)
def test_parse_vectors(filename: str, build: tuple[()], python_tag: str, label: str | None) -> None:
    wheel = WheelFilename.parse(filename)
    assert wheel.build == build
    assert wheel.python_tag == python_tag
    assert wheel.label == label
    assert str(wheel) == filename


def test_compressed_tag_sets_expand() -> None:
    wheel = WheelFilename.parse(
        "torch-2.9.0-cp312-cp312-manylinux_2_24_x86_64.manylinux_2_28_x86_64-cu128.whl"
    )
    assert wheel.tags == {
        Tag("cp312", "cp312", "manylinux_2_24_x86_64"),
        Tag("cp312", "cp312", "manylinux_2_28_x86_64"),
    }
    assert wheel.label == "cu128"
    assert str(wheel).endswith("manylinux_2_24_x86_64.manylinux_2_28_x86_64-cu128.whl")


def test_name_and_version_are_normalised() -> None:
    wheel = WheelFilename.parse("Foo.Bar-01.0-py3-none-any-v3.whl")
    assert wheel.name == "foo-bar"
    assert wheel.version == Version("1.0")
    assert str(wheel) == "foo_bar-1.0-py3-none-any-v3.whl"


def test_null_and_variant_flags() -> None:
    null = WheelFilename.parse("pkg-1.0-py3-none-any-null.whl")
    assert null.is_variant
    assert null.is_null_variant
    plain = null.with_label(None)
    assert not plain.is_variant
    assert str(plain) == "pkg-1.0-py3-none-any.whl"
    assert str(plain.with_label("v3")) == "pkg-1.0-py3-none-any-v3.whl"


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("pkg-1.0-py3-none-any-Foo.whl", "invalid variant label 'Foo'"),
        ("pkg-1.0-py3-none-any.zip", "must end in .whl"),
        ("pkg-1.0-any.whl", "wrong number"),
        ("pkg-1.0-1-py3-none-any-v3-extra.whl", "wrong number"),
        ("pkg-1.0-x-py3-none-any-v3.whl", "pkg-1.0-x-py3-none-any-v3.whl"),
        ("pkg-notaversion-py3-none-any.whl", "pkg-notaversion-py3-none-any.whl"),
        ("pkg-1.0-1-3py-none-any.whl", "must not start with a digit"),
    ],
)
def test_invalid_filenames_name_the_file(filename: str, message: str) -> None:
    with pytest.raises(InvalidFilenameError, match=message):
        WheelFilename.parse(filename)


def test_variants_json_names() -> None:
    assert variants_json_filename("Foo.Bar", "1.0.post1") == "foo_bar-1.0.post1-variants.json"
    assert parse_variants_json_filename("foo_bar-1.0-variants.json") == ("foo-bar", Version("1.0"))
    assert is_variants_json_filename("foo-1.0-variants.json")
    assert not is_variants_json_filename("foo-1.0-py3-none-any.whl")
    with pytest.raises(InvalidFilenameError, match="expected"):
        parse_variants_json_filename("foo-variants.json")
    with pytest.raises(InvalidFilenameError, match="bad version"):
        parse_variants_json_filename("foo-x!y-variants.json")


names = st.from_regex(r"[a-z][a-z0-9]{0,5}(_[a-z0-9]{1,3})?", fullmatch=True)
labels = st.from_regex(r"[0-9a-z_.]{1,20}", fullmatch=True)
versions = st.builds(lambda a, b: f"{a}.{b}", st.integers(0, 99), st.integers(0, 99))
builds = st.one_of(st.just(""), st.builds(str, st.integers(0, 999)))
plats = st.lists(
    st.sampled_from(["any", "linux_x86_64", "manylinux_2_28_aarch64"]),
    min_size=1,
    max_size=2,
    unique=True,
)


@given(names, versions, builds, plats, st.one_of(st.none(), labels))
def test_format_parse_round_trip(
    name: str, version: str, build: str, plat: list[str], label: str | None
) -> None:
    build_part = f"-{build}" if build else ""
    label_part = f"-{label}" if label is not None else ""
    filename = f"{name}-{version}{build_part}-py3-none-{'.'.join(plat)}{label_part}.whl"
    wheel = WheelFilename.parse(filename)
    assert wheel.label == label
    assert bool(wheel.build) == bool(build)
    assert WheelFilename.parse(str(wheel)) == wheel
