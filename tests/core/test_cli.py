"""``wn-detect``, ``wn select`` and ``wn`` as users run them: installed scripts, real providers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import InstallProvider
from tests.helpers import BIN, FICTIONAL, metadata_doc

RAISING = """
    from wheelnext.core.hookspecs import hookimpl
    from wheelnext.core.providers import FeatureDeclaration, ProviderDescription
    @hookimpl
    def wheelnext_provider():
        print("chatty provider output")
        return ProviderDescription("broken_hw", "broken", (FeatureDeclaration("f", ("a",)),))
    @hookimpl
    def wheelnext_detect(context):
        raise RuntimeError("driver exploded")
"""


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


@pytest.fixture
def providers(install_provider: InstallProvider) -> None:
    install_provider("fictional_provider", FICTIONAL, dist="fictional-hw-provider", version="2.1")
    install_provider("raising_provider", RAISING, dist="raising-provider", version="0.3")


def mine(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p
        for p in doc["providers"]
        if p["distribution"] in ("fictional-hw-provider", "raising-provider")
    ]


@pytest.mark.usefixtures("providers")
@pytest.mark.parametrize("isolation", ["process", "subprocess", "thread"])
def test_wn_detect_json_contract(isolation: str) -> None:
    proc = run("wn-detect", "--json", "--isolation", isolation, env={"FICTIONAL_HW_GEN": "gen2"})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # the chatty provider's print went to stderr
    assert "chatty provider output" in proc.stderr
    assert mine(doc) == [
        {
            "namespace": "fictional_hw",
            "status": "ok",
            "distribution": "fictional-hw-provider",
            "version": "2.1",
            "error": None,
            "features": [
                {"name": "arch", "values": ["gen2", "gen1"], "multi_value": True},
                {"name": "mode", "values": ["safe"], "multi_value": False},
            ],
        },
        {
            "namespace": "broken_hw",
            "status": "failed",
            "distribution": "raising-provider",
            "version": "0.3",
            "error": "RuntimeError: driver exploded",
            "features": [],
        },
    ]


@pytest.mark.usefixtures("providers")
def test_wn_detect_absent_and_namespace_filter() -> None:
    proc = run("wn-detect", "--json", "--namespace", "fictional_hw", env={"FICTIONAL_HW_GEN": ""})
    doc = json.loads(proc.stdout)
    assert [(p["namespace"], p["status"], p["error"]) for p in doc["providers"]] == [
        ("fictional_hw", "absent", "no fictional accelerator")
    ]


@pytest.mark.usefixtures("providers")
def test_wn_detect_table() -> None:
    proc = run("wn-detect", env={"FICTIONAL_HW_GEN": "gen3", "COLUMNS": "200"})
    assert proc.returncode == 0
    out = proc.stdout
    for text in (
        "fictional_hw",
        "ok",
        "fictional-hw-provider 2.1",
        "gen3, gen2, gen1",
        "failed: RuntimeError: driver exploded",
    ):
        assert text in out, text


@pytest.mark.usefixtures("providers")
def test_wn_detect_explain_names_provider_version_meaning_and_this_machine() -> None:
    proc = run(
        "wn-detect", "--explain", "fictional_hw::arch :: gen2", env={"FICTIONAL_HW_GEN": "gen2"}
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "fictional_hw :: arch :: gen2",
        "  provider:     fictional-hw-provider 2.1 (fictional_provider)",
        "  meaning:      gen2 of the fictional accelerator",
        "  this machine: supported (preference 1 of 2)",
    ]
    absent = run(
        "wn-detect",
        "--json",
        "--explain",
        "fictional_hw :: mode :: fast",
        env={"FICTIONAL_HW_GEN": ""},
    )
    assert json.loads(absent.stdout) == {
        "property": "fictional_hw :: mode :: fast",
        "distribution": "fictional-hw-provider",
        "version": "2.1",
        "provider": "fictional_provider",
        "kind": "native",
        "description": "fast of the fictional accelerator",
        "error": None,
        "this_machine": "provider absent: no fictional accelerator",
    }


@pytest.mark.usefixtures("providers")
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "nobody :: x :: y",
            "wn-detect: error: --explain: no installed provider answers for namespace 'nobody'",
        ),
        ("just-text", "wn-detect: error: --explain: invalid variant property 'just-text'"),
    ],
)
def test_wn_detect_explain_errors(text: str, message: str) -> None:
    proc = run("wn-detect", "--explain", text)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith(message)
    assert len(proc.stderr.strip().splitlines()) == 1


def test_wn_detect_usage_error() -> None:
    proc = run("wn-detect", "--no-such-flag")
    assert proc.returncode == 2
    assert "unrecognized arguments" in proc.stderr


def test_wn_detect_json_does_not_import_heavy_modules() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from wheelnext.core.cli.detect import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['--json'])\n"
        "print(sorted(m for m in ('pydantic', 'rich', 'packaging.tags') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


# ------------------------------------------------------------------ wn select


def write(path: Path, doc: Any) -> Path:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


VARIANTS = metadata_doc(
    ["fictional_hw"],
    {
        "g3": {"fictional_hw": {"arch": ["gen3"]}},
        "g12": {"fictional_hw": {"arch": ["gen1", "gen2"]}},
        "g1": {"fictional_hw": {"arch": ["gen1"]}},
        "null": {},
    },
)


@pytest.mark.usefixtures("providers")
def test_select_for_this_machine_and_for_a_saved_profile(tmp_path: Path) -> None:
    variants = write(tmp_path / "demo_pkg-1.0-variants.json", VARIANTS)
    live = run("wn", "select", "--variants-json", str(variants), env={"FICTIONAL_HW_GEN": "gen2"})
    assert live.returncode == 0, live.stderr
    assert live.stdout.splitlines() == [
        "demo_pkg-1.0-py3-none-any-g12.whl",
        "demo_pkg-1.0-py3-none-any-g1.whl",
        "demo_pkg-1.0-py3-none-any-null.whl",
        "demo_pkg-1.0-py3-none-any.whl",
    ]
    assert "rejected demo_pkg-1.0-py3-none-any-g3.whl" in live.stderr

    # the wn-detect --json of another machine (gen3) selects for that machine
    profile = tmp_path / "gen3-machine.json"
    profile.write_text(run("wn-detect", "--json", env={"FICTIONAL_HW_GEN": "gen3"}).stdout)
    other = run(
        "wn", "select", "--variants-json", str(variants), "--properties", str(profile), "--json"
    )
    assert json.loads(other.stdout) == {
        "ranked": [
            "demo_pkg-1.0-py3-none-any-g3.whl",
            "demo_pkg-1.0-py3-none-any-g12.whl",
            "demo_pkg-1.0-py3-none-any-g1.whl",
            "demo_pkg-1.0-py3-none-any-null.whl",
            "demo_pkg-1.0-py3-none-any.whl",
        ],
        "rejected": [],
    }


def test_select_minimal_profile_and_explicit_wheels(tmp_path: Path) -> None:
    variants = write(tmp_path / "v.json", VARIANTS)
    profile = write(
        tmp_path / "p.json",
        {
            "providers": [
                {"namespace": "fictional_hw", "features": [{"name": "arch", "values": ["gen1"]}]}
            ]
        },
    )
    proc = run(
        "wn", "select", "--variants-json", str(variants), "--properties", str(profile), "--json",
        "--wheel", "demo-1.0-cp399-cp399-linux_x86_64-g1.whl",
        "--wheel", "demo-1.0-py3-none-any-g1.whl",
        "--wheel", "demo-1.0-py3-none-any-g3.whl",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ranked"] == ["demo-1.0-py3-none-any-g1.whl"]
    assert [r["wheel"] for r in doc["rejected"]] == [
        "demo-1.0-cp399-cp399-linux_x86_64-g1.whl",
        "demo-1.0-py3-none-any-g3.whl",
    ]
    assert (
        "no supported value of 'fictional_hw :: arch' among: gen3" in doc["rejected"][1]["reason"]
    )


BAD_FILES = [
    ("{oops", "invalid JSON"),
    (
        json.dumps(metadata_doc(["a"], {"x": {"a": {"f": []}}})),
        "variants.x.a.f: List should have at least 1 item",
    ),
    (
        json.dumps(
            metadata_doc(["a"], {}, schema="https://variants-schema.wheelnext.dev/v7.0.0.json")
        ),
        "unsupported variant metadata schema version 7.0.0",
    ),
]


@pytest.mark.parametrize(("content", "problem"), BAD_FILES)
def test_select_bad_variants_file(tmp_path: Path, content: str, problem: str) -> None:
    bad = write(tmp_path / "bad-1.0-variants.json", content)
    proc = run("wn", "select", "--variants-json", str(bad), "--properties", str(bad))
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"wn select: error: {bad}: ")
    assert problem in lines[0]


@pytest.mark.parametrize(
    ("profile", "problem"),
    [
        ("[", "invalid JSON"),
        (
            '{"providers": [{"namespace": "a"}]}',
            "invalid properties profile: providers.0.features: Field required",
        ),
        (
            '{"providers": [{"namespace": "a", "features": [{"name": "f", "values": ["x", "x"]}]}]}',  # noqa: E501
            "lists a value twice",
        ),
        ("{}", "providers: Field required"),
    ],
)
def test_select_bad_profile(tmp_path: Path, profile: str, problem: str) -> None:
    variants = write(tmp_path / "v-1.0-variants.json", VARIANTS)
    bad = write(tmp_path / "profile.json", profile)
    proc = run("wn", "select", "--variants-json", str(variants), "--properties", str(bad))
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"wn select: error: {bad}: ")
    assert problem in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_select_needs_a_release_name_without_wheels(tmp_path: Path) -> None:
    variants = write(tmp_path / "variants.json", VARIANTS)
    profile = write(tmp_path / "p.json", {"providers": []})
    proc = run("wn", "select", "--variants-json", str(variants), "--properties", str(profile))
    assert proc.returncode == 1
    assert "expected '{name}-{version}-variants.json'" in proc.stderr


def test_select_usage_errors() -> None:
    assert run("wn", "select").returncode == 2
    assert run("wn", "select", "--variants-json").returncode == 2


def test_wn_dispatcher(tmp_path: Path) -> None:
    helped = run("wn", "--help")
    assert helped.returncode == 0
    assert "  detect\n" in helped.stdout
    assert "  select\n" in helped.stdout
    assert run("wn").returncode == 2
    unknown = run("wn", "frobnicate")
    assert unknown.returncode == 2
    assert "unknown command 'frobnicate'" in unknown.stderr
    assert run("wn", "--version").stdout.startswith("wn (wheelnext-core) ")
    detect = run("wn", "detect", "--json")
    assert detect.returncode == 0
    assert set(json.loads(detect.stdout)) == {"providers"}
    assert run("wn", "detect", "--bogus").stderr.startswith("usage: wn detect")


def test_live_wn_detect_on_this_machine() -> None:
    """The installed providers of this environment, run for real: valid contract, exit 0."""
    proc = run("wn-detect", "--json")
    assert proc.returncode == 0, proc.stderr
    for provider in json.loads(proc.stdout)["providers"]:
        assert provider["status"] in ("ok", "absent", "failed")
        assert set(provider) == {
            "namespace",
            "status",
            "distribution",
            "version",
            "error",
            "features",
        }
