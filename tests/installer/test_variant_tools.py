"""``wn variant make/show/index`` for package authors, and interoperability with the
published variantlib 0.2.2 in both directions (its CLI on our wheels, ours on its)."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import BIN
from tests.installer.wheels import build_wheel
from wheelnext.core.labels import hash_label
from wheelnext.core.metadata import load_metadata, parse_metadata
from wheelnext.core.properties import VariantProperty
from wheelnext.installer.archive import check_archive

V3 = "x86_64 :: level :: v3"


def wn(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "wn"), *args], capture_output=True, text=True, timeout=120, check=False
    )


def variantlib(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "variantlib"), *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    return build_wheel(tmp_path / "dist", "demo", "1.0", files={"demo/core.py": b"X = 1\n"})


def test_make_show_index(tmp_path: Path, plain: Path) -> None:
    out = tmp_path / "variants"
    original = plain.read_bytes()
    made = wn("variant", "make", str(plain), "-p", V3, "--label", "v3", "-o", str(out))
    assert made.returncode == 0, made.stderr
    wheel = out / "demo-1.0-py3-none-any-v3.whl"
    assert made.stdout.strip() == str(wheel)
    assert plain.read_bytes() == original  # the input is never modified
    info = check_archive(wheel)  # RECORD lists variant.json with its real hash
    assert "demo-1.0.dist-info/variant.json" in info.members
    with zipfile.ZipFile(wheel) as archive, zipfile.ZipFile(plain) as source:
        assert archive.read("demo/core.py") == source.read("demo/core.py")
        doc = json.loads(archive.read("demo-1.0.dist-info/variant.json"))
    assert doc["variants"] == {"v3": {"x86_64": {"level": ["v3"]}}}
    # the default format is PEP 825's 0.1.1: namespaces only, no provider entries
    assert doc["$schema"] == "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"
    assert "providers" not in doc

    # --null without --default-priorities: the namespaces of the release's other variants
    null = wn("variant", "make", str(plain), "--null", "-o", str(out))
    assert null.returncode == 0, null.stderr
    hashed = wn("variant", "make", str(plain), "-p", "x86_64 :: level :: v4", "-o", str(out))
    label = hash_label([VariantProperty.parse("x86_64 :: level :: v4")])
    assert hashed.stdout.strip().endswith(f"-{label}.whl")

    shown = wn("variant", "show", str(wheel))
    assert "  label:      v3: x86_64 :: level :: v3\n" in shown.stdout  # the hardware, not a hash
    hashed_shown = wn("variant", "show", hashed.stdout.strip()).stdout
    assert f"  label:      {label}: x86_64 :: level :: v4\n" in hashed_shown
    null_shown = wn("variant", "show", str(out / "demo-1.0-py3-none-any-null.whl")).stdout
    assert "  label:      null: no properties (null variant)\n" in null_shown
    assert f"property:   {V3}" in shown.stdout
    assert "format:     0.1.1 (" in shown.stdout
    as_json = json.loads(wn("variant", "show", "--json", str(wheel)).stdout)
    assert as_json["label"] == "v3"
    assert as_json["variant"] == doc
    assert "not a variant wheel" in wn("variant", "show", str(plain)).stdout

    indexed = wn("variant", "index", str(out))
    assert indexed.returncode == 0, indexed.stderr
    combined = load_metadata(out / "demo-1.0-variants.json")
    assert set(combined.labels) == {"v3", "null", label}
    assert combined.namespace_priorities == ("x86_64",)


def test_author_flow_ends_in_an_install(tmp_path: Path, plain: Path) -> None:
    """make + index, then wn install from the directory picks the machine's variant."""
    out = tmp_path / "variants"
    for level in ("v1", "v2", "v3", "v4"):
        assert (
            wn(
                "variant",
                "make",
                str(plain),
                "-p",
                f"x86_64 :: level :: {level}",
                "--label",
                level,
                "-o",
                str(out),
            ).returncode
            == 0
        )
    assert wn("variant", "index", str(out)).returncode == 0
    profile = tmp_path / "profile.json"
    profile.write_text(
        json.dumps(
            {
                "providers": [
                    {"namespace": "x86_64", "features": [{"name": "level", "values": ["v2", "v1"]}]}
                ]
            }
        )
    )
    target = tmp_path / "target"
    proc = wn(
        "install",
        "demo",
        "--no-index",
        "--find-links",
        str(out),
        "--target",
        str(target),
        "--properties",
        str(profile),
        "--no-cache",
    )
    assert proc.returncode == 0, proc.stderr
    installed = json.loads((target / "demo-1.0.dist-info" / "variant.json").read_text())
    assert list(installed["variants"]) == ["v2"]


def _made(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        doc: dict[str, Any] = json.loads(archive.read("demo-1.0.dist-info/variant.json"))
    parse_metadata(json.dumps(doc))
    return doc


@pytest.mark.parametrize(
    ("args", "schema"),
    [([], "peps/825/v0.1.1.json"), (["--format", "pep825"], "peps/825/v0.1.1.json")],
)
def test_pep825_is_the_default_format(
    tmp_path: Path, plain: Path, args: list[str], schema: str
) -> None:
    proc = wn("variant", "make", str(plain), "-p", V3, "--label", "v3", *args, "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    doc = _made(tmp_path / "demo-1.0-py3-none-any-v3.whl")
    assert doc["$schema"] == f"https://variants-schema.wheelnext.dev/{schema}"
    assert set(doc) == {"$schema", "default-priorities", "variants"}


def test_variantlib_format_records_providers(tmp_path: Path, plain: Path) -> None:
    argv = ["variant", "make", str(plain), "--format", "variantlib", "-o", str(tmp_path)]
    assert wn(*argv, "-p", V3, "--label", "v3").returncode == 0
    doc = _made(tmp_path / "demo-1.0-py3-none-any-v3.whl")
    assert doc["$schema"] == "https://variants-schema.wheelnext.dev/v0.2.0.json"
    assert doc["providers"]["x86_64"]["requires"][0].startswith("wheelnext-provider-x86>=")
    assert doc["providers"]["x86_64"]["plugin-api"] == "wheelnext.providers.x86.plugin:plugin_api"
    # --null with neither --default-priorities nor --format: the siblings' namespaces,
    # providers and format, so the release indexes as one
    null = wn("variant", "make", str(plain), "--null", "-o", str(tmp_path))
    assert null.returncode == 0, null.stderr
    null_doc = _made(tmp_path / "demo-1.0-py3-none-any-null.whl")
    assert null_doc["$schema"] == doc["$schema"]
    assert null_doc["default-priorities"] == {"namespace": ["x86_64"]}
    assert null_doc["providers"] == doc["providers"]
    assert wn("variant", "index", str(tmp_path)).returncode == 0


def test_null_takes_the_namespaces_of_its_own_release_only(tmp_path: Path, plain: Path) -> None:
    out = tmp_path / "out"
    other = build_wheel(tmp_path / "other", "other", "1.0")
    assert wn("variant", "make", str(other), "-p", V3, "-o", str(out)).returncode == 0
    later = build_wheel(tmp_path / "later", "demo", "2.0")
    assert wn("variant", "make", str(later), "-p", V3, "-o", str(out)).returncode == 0
    before = sorted(p.name for p in out.iterdir())
    proc = wn("variant", "make", str(plain), "--null", "-o", str(out))
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "wn variant: error: give the release's namespaces (--default-priorities) for a null "
        f"variant: no variant wheel of {plain.name}'s release in {out}"
    ]
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-p", "x86_64 :: level :: v9"],
            "'x86_64 :: level :: v9' is not declared by the installed provider",
        ),
        (
            ["-p", "x86_64 :: level :: v3", "-p", "x86_64 :: level :: v4", "--label", "x"],
            "feature 'x86_64 :: level' takes one value",
        ),
        (["-p", "x86_64 level v3"], "--property:"),
        (
            ["-p", "acme :: board :: a1", "--format", "variantlib"],
            "no provider known for namespace 'acme'",
        ),
        (
            ["-p", "acme :: board :: a1", "--provider", "acme=acme-provider"],
            "--provider: only --format variantlib records providers",
        ),
        (
            ["-p", V3, "--plugin-api", "x86_64=a.b:c"],
            "--plugin-api: only --format variantlib records providers",
        ),
        (["--null"], "give the release's namespaces (--default-priorities)"),
        (["-p", V3, "--default-priorities", "aarch64"], "namespace 'x86_64' is missing"),
        (["-p", V3, "--label", "has-dash"], "invalid variant"),
    ],
)
def test_make_refuses(tmp_path: Path, plain: Path, args: list[str], message: str) -> None:
    proc = wn("variant", "make", str(plain), *args, "-o", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_unvalidated_and_explicit_provider(tmp_path: Path, plain: Path) -> None:
    proc = wn(
        "variant",
        "make",
        str(plain),
        "-p",
        "acme :: board :: a1",
        "--label",
        "a1",
        "--provider",
        "acme=acme-provider>=2",
        "--plugin-api",
        "acme=acme.plugin:api",
        "--format",
        "variantlib",
        "-o",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(tmp_path / "demo-1.0-py3-none-any-a1.whl") as archive:
        doc = json.loads(archive.read("demo-1.0.dist-info/variant.json"))
    assert doc["providers"] == {
        "acme": {"requires": ["acme-provider>=2"], "plugin-api": "acme.plugin:api"}
    }


def test_already_variant_and_index_conflicts(tmp_path: Path, plain: Path) -> None:
    out = tmp_path / "out"
    assert (
        wn("variant", "make", str(plain), "-p", V3, "--label", "fast", "-o", str(out)).returncode
        == 0
    )
    again = wn("variant", "make", str(out / "demo-1.0-py3-none-any-fast.whl"), "-p", V3)
    assert again.returncode == 1
    assert "already a variant wheel (label 'fast')" in again.stderr
    # the same label with other properties, in another build of the release
    other = build_wheel(tmp_path / "other", "demo", "1.0", tag="py311-none-any")
    assert (
        wn(
            "variant",
            "make",
            str(other),
            "-p",
            "x86_64 :: level :: v4",
            "--label",
            "fast",
            "-o",
            str(out),
        ).returncode
        == 0
    )
    proc = wn("variant", "index", str(out))
    assert proc.returncode == 1
    assert "inconsistent with the other wheels of its release" in proc.stderr
    assert "variant label 'fast' differs" in proc.stderr
    assert not list(out.glob("*-variants.json"))


def test_variantlib_reads_ours(tmp_path: Path, plain: Path) -> None:
    out = tmp_path / "ours"
    for args in (["-p", V3, "--label", "v3"], ["--null", "--default-priorities", "x86_64"]):
        made = wn("variant", "make", str(plain), *args, "--format", "variantlib", "-o", str(out))
        assert made.returncode == 0, made.stderr
    analyzed = variantlib("analyze-wheel", "-i", str(out / "demo-1.0-py3-none-any-v3.whl"))
    assert analyzed.returncode == 0, analyzed.stderr
    assert "Variant: `v3`" in analyzed.stdout
    assert V3 in analyzed.stdout
    theirs = variantlib("generate-index-json", "-d", str(out))
    assert theirs.returncode == 0, theirs.stderr
    from_variantlib = load_metadata(out / "demo-1.0-variants.json")
    (out / "demo-1.0-variants.json").unlink()
    assert wn("variant", "index", str(out)).returncode == 0
    assert load_metadata(out / "demo-1.0-variants.json") == from_variantlib


def test_we_read_variantlibs(tmp_path: Path, plain: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1.0"\n'
        '[variant.default-priorities]\nnamespace = ["x86_64"]\n'
        '[variant.providers.x86_64]\nrequires = ["wheelnext-provider-x86"]\n'
        'plugin-api = "wheelnext.providers.x86.plugin:plugin_api"\n'
    )
    out = tmp_path / "theirs"
    out.mkdir()
    common = [
        "-f",
        str(plain),
        "-o",
        str(out),
        "--pyproject-toml",
        str(tmp_path / "pyproject.toml"),
    ]
    made = variantlib("make-variant", *common, "-p", V3, "--no-isolation")
    assert made.returncode == 0, made.stderr
    assert variantlib("make-variant", *common, "--null-variant").returncode == 0
    label = hash_label([VariantProperty.parse(V3)])
    shown = json.loads(
        wn("variant", "show", "--json", str(out / f"demo-1.0-py3-none-any-{label}.whl")).stdout
    )
    assert shown["variant"]["variants"] == {label: {"x86_64": {"level": ["v3"]}}}
    assert check_archive(out / f"demo-1.0-py3-none-any-{label}.whl").members
    assert wn("variant", "index", str(out)).returncode == 0
    ours = load_metadata(out / "demo-1.0-variants.json")
    (out / "demo-1.0-variants.json").unlink()
    assert variantlib("generate-index-json", "-d", str(out)).returncode == 0
    assert load_metadata(out / "demo-1.0-variants.json") == ours
    assert set(ours.labels) == {label, "null"}


def test_missing_input_is_one_line(tmp_path: Path) -> None:
    for args in (
        ["make", str(tmp_path / "nope-1.0-py3-none-any.whl"), "-p", V3],
        ["show", str(tmp_path / "nope.whl")],
        ["index", str(tmp_path / "nodir")],
    ):
        proc = wn("variant", *args)
        assert proc.returncode == 1, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("content", ["empty", "plain"])
def test_index_without_variant_wheels_is_an_error(
    tmp_path: Path, plain: Path, content: str
) -> None:
    folder = plain.parent if content == "plain" else tmp_path / "empty"
    folder.mkdir(exist_ok=True)
    proc = wn("variant", "index", str(folder))
    assert proc.returncode == 1
    suffix = " (1 wheel without a label)" if content == "plain" else ""
    assert proc.stderr.splitlines() == [
        f"wn variant: error: {folder}: no variant wheels to index{suffix}"
    ]
    assert not list(folder.glob("*-variants.json"))
