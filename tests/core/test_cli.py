"""``wn-detect``, ``wn select`` and ``wn`` as users run them: installed scripts, real providers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import InstallProvider
from tests.helpers import BIN, FICTIONAL, metadata_doc, on_pty

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
    cells = table_cells(proc.stdout)
    status, lines = cells["fictional_hw"]
    assert (status, lines[0]) == ("ok", "fictional-hw-provider 2.1")
    assert feature_rows(lines) == [["arch", "gen3, gen2, gen1"], ["mode", "safe"]]
    # the status word in its column, the reason on a line of its own under the provider
    assert cells["broken_hw"] == (
        "failed",
        ["raising-provider 0.3", "RuntimeError: driver exploded"],
    )


FLAGGY = """
    from wheelnext.core.hookspecs import hookimpl
    from wheelnext.core.providers import DetectedFeature, FeatureDeclaration, ProviderDescription

    GENERATIONS = tuple(f"g{n}" for n in range(12, 0, -1))
    FLAGS = tuple(f"flag{n:02}" for n in range(1, 21))

    @hookimpl
    def wheelnext_provider():
        return ProviderDescription(
            "flaggy_accelerator_namespace",
            "flags",
            (
                FeatureDeclaration("generation", GENERATIONS),
                *(FeatureDeclaration(name, ("on",)) for name in FLAGS),
            ),
        )

    @hookimpl
    def wheelnext_detect(context):  # flags first: the table keeps the provider's order
        return [
            *(DetectedFeature(name, ("on",)) for name in FLAGS[:10]),
            DetectedFeature("generation", GENERATIONS),
            *(DetectedFeature(name, ("on",)) for name in FLAGS[10:]),
        ]
"""
LONG_DIST = "flaggy-accelerator-provider-with-a-rather-long-distribution-name"


def table_cells(out: str) -> dict[str, tuple[str, list[str]]]:
    """Each provider's status and the lines of its last cell (provider, reason, features)."""
    cells: dict[str, tuple[str, list[str]]] = {}
    namespace = ""
    for line in out.splitlines():
        if line.startswith("│"):
            first, status, rest = line[1:-1].split("│")
            if first.strip():
                namespace = first.strip()
                cells[namespace] = (status.strip(), [])
            cells[namespace][1].append(rest[1:].rstrip())
    return cells


def feature_rows(lines: list[str]) -> list[list[str]]:
    """(feature, values) of a provider's cell lines after its first (the distribution),
    a wrapped line joined to the row above with a space."""
    rows: list[list[str]] = []
    for line in lines[1:]:
        if line.startswith(" "):
            rows[-1][1] += " " + line.strip()
        else:
            feature, values = line.split("  ", 1)
            rows.append([feature, values.strip()])
    return rows


def test_wn_detect_table_folds_flags_keeps_names_whole(install_provider: InstallProvider) -> None:
    install_provider("flaggy_provider", FLAGGY, dist=LONG_DIST, version="3.0")
    proc = run("wn-detect", "--no-cache", "--namespace", "flaggy_accelerator_namespace")
    assert proc.returncode == 0, proc.stderr
    # piped: names in full even where an 80-column terminal would have folded them
    status, lines = table_cells(proc.stdout)["flaggy_accelerator_namespace"]
    assert (status, lines[0]) == ("ok", f"{LONG_DIST} 3.0")
    assert feature_rows(lines) == [
        ["generation", "g12, g11, g10, g9, g8, g7, g6, g5, … (+4 more)"],
        # the flags, folded into one wrapped row after the other features
        ["20 flags on", ", ".join(f"flag{n:02}" for n in range(1, 21))],
    ]
    assert "--all" in proc.stdout

    every = run("wn-detect", "--no-cache", "--all", "--namespace", "flaggy_accelerator_namespace")
    features = feature_rows(table_cells(every.stdout)["flaggy_accelerator_namespace"][1])
    assert features[:10] == [[f"flag{n:02}", "on"] for n in range(1, 11)]
    assert features[10] == ["generation", ", ".join(f"g{n}" for n in range(12, 0, -1))]
    assert len(features) == 21
    assert "flags on" not in every.stdout


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


@pytest.mark.usefixtures("providers")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--explain", "fictional_hw :: arch :: gen9"],
            "wn-detect: error: --explain: fictional-hw-provider 2.1 declares no value 'gen9' "
            "for 'fictional_hw :: arch' (its values, best first: gen3, gen2, gen1)",
        ),
        (
            ["--explain", "fictional_hw :: speed :: fast"],
            "wn-detect: error: --explain: fictional-hw-provider 2.1 declares no feature "
            "'speed' in namespace 'fictional_hw' (its features: arch, mode)",
        ),
        (
            ["--namespace", "fictional_hw", "--namespace", "nobody"],
            "wn-detect: error: --namespace nobody: no installed provider answers for it "
            "(installed: ",
        ),
        (["--json", "--namespace", "nobody"], "wn-detect: error: --namespace nobody: "),
        (
            ["--sysroot", "/no/such/root"],
            "wn-detect: error: --sysroot /no/such/root: does not exist",
        ),
        (["--sysroot", __file__], f"wn-detect: error: --sysroot {__file__}: not a directory"),
    ],
)
def test_wn_detect_wrong_requests_are_errors(args: list[str], message: str) -> None:
    """What cannot be answered is one line and status 1, never an empty table and 0."""
    proc = run("wn-detect", *args, env={"FICTIONAL_HW_GEN": "gen2"})
    assert proc.returncode == 1, proc.stdout
    assert proc.stdout == ""
    # the chatty test provider's warning may come first; the error is one line
    lines = [x for x in proc.stderr.splitlines() if not x.startswith("wheelnext: warning:")]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(message), proc.stderr
    if args[0] == "--namespace":
        assert "fictional_hw" in proc.stderr  # the installed namespaces are named


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_wn_detect_timeout_must_be_positive_seconds(value: str) -> None:
    proc = run("wn-detect", "--timeout", value)
    assert proc.returncode == 1  # a wrong value (issue 16); tests/core/test_detect_cli.py
    assert proc.stderr.startswith(f"wn-detect: error: --timeout {value}: expected")


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


@pytest.mark.parametrize(
    ("name", "wheels", "message"),
    [
        (
            "demo-1.0-variants.json",
            ["demo-1.0-py3-none-any-g1.whl", "other-1.0-py3-none-any-g1.whl"],
            "--wheel other-1.0-py3-none-any-g1.whl: not a wheel of demo 1.0 "
            "(from demo-1.0-variants.json)",
        ),
        (
            "demo-1.0-variants.json",
            ["demo-2.0-py3-none-any-g1.whl"],
            "--wheel demo-2.0-py3-none-any-g1.whl: not a wheel of demo 1.0 "
            "(from demo-1.0-variants.json)",
        ),
        (
            "v.json",
            ["demo-1.0-py3-none-any-g1.whl", "other-1.0-py3-none-any.whl"],
            "--wheel other-1.0-py3-none-any.whl: not a wheel of demo 1.0 (from the first --wheel)",
        ),
    ],
)
def test_select_refuses_another_releases_wheel(
    tmp_path: Path, name: str, wheels: list[str], message: str
) -> None:
    variants = write(tmp_path / name, VARIANTS)
    profile = write(tmp_path / "p.json", {"providers": []})
    argv = ["wn", "select", "--variants-json", str(variants), "--properties", str(profile)]
    proc = run(*argv, *(arg for wheel in wheels for arg in ("--wheel", wheel)))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [f"wn select: error: {message}"]
    # the same release spelled otherwise (equal version) is ranked
    same = run(*argv, "--wheel", "demo-1.0.0-py3-none-any.whl")
    assert same.returncode == 0, same.stderr
    assert same.stdout == "demo-1.0.0-py3-none-any.whl\n"


def test_select_names_the_hardware_beside_each_label_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal each ranked variant wheel shows its properties; a pipe gets filenames."""
    import os

    variants = write(tmp_path / "demo_pkg-1.0-variants.json", VARIANTS)
    profile = write(
        tmp_path / "p.json",
        {
            "providers": [
                {"namespace": "fictional_hw", "features": [{"name": "arch", "values": ["gen1"]}]}
            ]
        },
    )
    argv = [str(BIN / "wn"), "select", "--variants-json", str(variants), "--properties"]
    assert on_pty([*argv, str(profile)], dict(os.environ)).decode().splitlines() == [
        "demo_pkg-1.0-py3-none-any-g1.whl  [g1: fictional_hw :: arch :: gen1]",
        "demo_pkg-1.0-py3-none-any-g12.whl  [g12: fictional_hw :: arch :: gen1; "
        "fictional_hw :: arch :: gen2]",
        "demo_pkg-1.0-py3-none-any-null.whl  [null: no properties]",
        "demo_pkg-1.0-py3-none-any.whl",
    ]
    piped = run("wn", "select", "--variants-json", str(variants), "--properties", str(profile))
    assert piped.stdout.splitlines()[:2] == [
        "demo_pkg-1.0-py3-none-any-g1.whl",
        "demo_pkg-1.0-py3-none-any-g12.whl",
    ]


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
    assert "\n  detect " in helped.stdout  # each command beside its one-line description
    assert "\n  select " in helped.stdout
    assert run("wn").returncode == 2
    unknown = run("wn", "frobnicate")
    assert unknown.returncode == 2
    assert "unknown command 'frobnicate'" in unknown.stderr
    assert run("wn", "--version").stdout.startswith("wn (wheelnext-core 0.")
    assert ", wheelnext-installer 0." in run("wn", "--version").stdout
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


MANY_VALUES = """
    from wheelnext.core.hookspecs import hookimpl
    from wheelnext.core.providers import FeatureDeclaration, ProviderDescription

    ARCHS = tuple(f"{n}_{kind}" for kind in ("real", "virtual") for n in range(129, 49, -1))

    @hookimpl
    def wheelnext_provider():
        return ProviderDescription("many_hw", "m", (FeatureDeclaration("arch", ARCHS),))

    @hookimpl
    def wheelnext_detect(context):
        return []
"""


@pytest.mark.parametrize(
    ("value", "listed"),
    [
        ("90", "the nearest of its 160 values, best first: 90_real, 90_virtual, … and 158 more"),
        ("129_rea", "the nearest of its 160 values, best first: 129_real, … and 159 more"),
        (
            "zzz",
            "the first of its 160 values, best first: "
            + ", ".join(f"{n}_real" for n in range(129, 117, -1))
            + ", … and 148 more",
        ),
    ],
)
def test_wn_detect_explain_bounds_a_long_list_of_values(
    install_provider: InstallProvider, value: str, listed: str
) -> None:
    """An undeclared value of a feature with 160 values: one readable line, not all 160."""
    install_provider("many_provider", MANY_VALUES, dist="many-provider", version="1.0")
    proc = run("wn-detect", "--explain", f"many_hw :: arch :: {value}")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (
        f"wn-detect: error: --explain: many-provider 1.0 declares no value {value!r} for "
        f"'many_hw :: arch' ({listed}; wn-detect --explain 'many_hw :: arch' lists them)\n"
    )


def test_wn_detect_explain_a_feature_lists_every_declared_value(
    install_provider: InstallProvider,
) -> None:
    """``--explain 'ns :: feature'``, where the error above points: all values, best first."""
    install_provider("many_provider", MANY_VALUES, dist="many-provider", version="1.0")
    archs = [f"{n}_{kind}" for kind in ("real", "virtual") for n in range(129, 49, -1)]
    proc = run("wn-detect", "--explain", "many_hw::arch")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "many_hw :: arch",
        "  provider:     many-provider 1.0 (many_provider)",
        "  values:       160 declared, best first:",
        *(f"    {arch}" for arch in archs),
    ]
    doc = json.loads(run("wn-detect", "--explain", "many_hw :: arch", "--json").stdout)
    assert doc == {
        "feature": "many_hw :: arch",
        "distribution": "many-provider",
        "version": "1.0",
        "provider": "many_provider",
        "kind": "native",
        "values": archs,
    }
    for text, problem in [
        ("many_hw :: speed", "many-provider 1.0 declares no feature 'speed' in namespace "
         "'many_hw' (its features: arch)"),
        ("nobody :: arch", "no installed provider answers for namespace 'nobody'"),
        ("Many :: arch", "invalid variant property 'Many :: arch': expected "),
    ]:  # fmt: skip
        bad = run("wn-detect", "--explain", text)
        assert (bad.returncode, bad.stdout) == (1, "")
        assert bad.stderr.startswith(f"wn-detect: error: --explain: {problem}")
        assert len(bad.stderr.splitlines()) == 1


@pytest.mark.usefixtures("providers")
def test_wn_detect_version_names_core_and_every_provider() -> None:
    from wheelnext.core import __version__

    for argv, prog in ((["wn-detect"], "wn-detect"), (["wn", "detect"], "wn detect")):
        proc = run(*argv, "--version")
        assert proc.returncode == 0, proc.stderr
        (line,) = proc.stdout.splitlines()
        head, _, providers = line.partition("; providers: ")
        assert head == f"{prog} (wheelnext-core {__version__})"
        assert {"fictional-hw-provider 2.1", "raising-provider 0.3"} <= set(providers.split(", "))


def test_select_takes_the_file_name_of_a_wheel_path(tmp_path: Path) -> None:
    """``--wheel dist/x.whl`` ranks x.whl (the file need not exist); a name that is not a
    wheel filename is one line and status 1, not a rejection and status 0."""
    variants = write(tmp_path / "demo-1.0-variants.json", VARIANTS)
    profile = write(tmp_path / "p.json", {"providers": []})
    argv = ["wn", "select", "--variants-json", str(variants), "--properties", str(profile)]
    proc = run(*argv, "--wheel", str(tmp_path / "no" / "such" / "demo-1.0-py3-none-any.whl"))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "demo-1.0-py3-none-any.whl\n", "")
    for wheel, problem in [
        ("/tmp/x/demo.whl", "invalid wheel filename 'demo.whl': wrong number of '-' separated"),
        ("dist/", "invalid wheel filename '': must end in .whl"),
        ("demo-1.0-py3-none-any-BAD!.whl", "invalid variant label 'BAD!'"),
    ]:
        bad = run(*argv, "--wheel", "demo-1.0-py3-none-any.whl", "--wheel", wheel)
        assert (bad.returncode, bad.stdout) == (1, ""), bad.stderr
        assert bad.stderr.startswith(f"wn select: error: --wheel {wheel}: ")
        assert problem in bad.stderr
        assert len(bad.stderr.splitlines()) == 1


def test_select_without_wheels_says_the_names_are_made_up(tmp_path: Path) -> None:
    variants = write(tmp_path / "demo-1.0-variants.json", VARIANTS)
    profile = write(tmp_path / "p.json", {"providers": []})
    argv = ["wn", "select", "--variants-json", str(variants), "--properties", str(profile)]
    made_up = run(*argv)
    assert made_up.returncode == 0, made_up.stderr
    assert made_up.stdout.splitlines()[-1] == "demo-1.0-py3-none-any.whl"
    assert made_up.stderr.splitlines()[0] == (
        "wn select: note: no --wheel given: ranking each label of demo-1.0-variants.json as "
        "demo-1.0-py3-none-any-LABEL.whl, and the non-variant demo-1.0-py3-none-any.whl, "
        "as if the release had them (--wheel FILENAME ranks real wheels)"
    )
    real = run(*argv, "--wheel", "demo-1.0-py3-none-any-null.whl")
    assert (real.stdout, real.stderr) == ("demo-1.0-py3-none-any-null.whl\n", "")


def test_wn_interrupted_before_its_command_starts_says_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C while ``wn`` is still importing a command (the first half second of a run)
    is one line and exit 130, as once the command has started: never a traceback."""
    from wheelnext.core import discovery
    from wheelnext.core.cli import wn

    def interrupted(ref: str) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(wn, "_commands", lambda name=None: {"install": "somewhere:main"})
    monkeypatch.setattr(discovery, "load_object", interrupted)
    assert wn.main(["install", "requests"]) == 130
    assert capsys.readouterr().err == "wn: interrupted\n"
