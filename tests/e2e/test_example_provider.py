"""A vendor's path end to end: build the example provider, install it into a fresh virtual
environment, and use it there through ``wn-detect --json`` and ``wn select``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import metadata_doc

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "provider-acme-fpga"
BOARD_GEN3 = EXAMPLE / "tests" / "data" / "board-gen3"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with wheelnext-core and the example, from built wheels."""
    work = tmp_path_factory.mktemp("example-provider")
    wheels = work / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT / "core"), str(EXAMPLE)],
        check=True,
        timeout=300,
    )
    built = sorted(p.name for p in wheels.iterdir())
    assert [name.split("-")[0] for name in built] == [
        "acme_fpga_variant_provider",
        "wheelnext_core",
    ]
    env = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=120)
    subprocess.run(
        [
            str(env / "bin" / "python"), "-m", "pip", "install", "-q",
            "--disable-pip-version-check", "--find-links", str(wheels), "wheelnext-core==0.1.0",
            "acme-fpga-variant-provider[test]==1.0.0",
        ],
        check=True,
        timeout=600,
    )  # fmt: skip
    return env


def run(venv: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        env={**env, **environ},
        timeout=300,
        check=False,
    )


def test_wn_detect_in_the_fresh_environment_sees_only_the_example(venv: Path) -> None:
    proc = run(venv, "wn-detect", "--json", "--sysroot", str(BOARD_GEN3))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "providers": [
            {
                "namespace": "acme_fpga",
                "status": "ok",
                "distribution": "acme-fpga-variant-provider",
                "version": "1.0.0",
                "error": None,
                "features": [
                    {"name": "fabric", "values": ["gen3", "gen2", "gen1"], "multi_value": True},
                    {"name": "dsp", "values": ["fp16", "int8"], "multi_value": True},
                ],
            }
        ]
    }
    explain = run(
        venv, "wn-detect", "--explain", "acme_fpga :: fabric :: gen4", "--sysroot", str(BOARD_GEN3)
    )
    assert explain.stdout.splitlines()[1:] == [
        "  provider:     acme-fpga-variant-provider 1.0.0 (acme_fpga_provider.plugin)",
        "  meaning:      a bitstream for fabric gen4; loads on gen4 boards and newer",
        "  this machine: not supported",
    ]


VARIANTS = metadata_doc(
    ["acme_fpga"],
    {
        "g4": {"acme_fpga": {"fabric": ["gen4"]}},
        "g3fp16": {"acme_fpga": {"fabric": ["gen3"], "dsp": ["fp16"]}},
        "g3": {"acme_fpga": {"fabric": ["gen3"]}},
        "g2": {"acme_fpga": {"fabric": ["gen2"]}},
        "null": {},
    },
)


def test_wn_select_with_a_saved_profile_and_live(venv: Path, tmp_path: Path) -> None:
    variants = tmp_path / "acme_kernels-2.0-variants.json"
    variants.write_text(json.dumps(VARIANTS))
    profile = tmp_path / "board-gen3.json"
    profile.write_text(run(venv, "wn-detect", "--json", "--sysroot", str(BOARD_GEN3)).stdout)
    saved = run(
        venv, "wn", "select", "--variants-json", str(variants), "--properties", str(profile)
    )
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.splitlines() == [
        "acme_kernels-2.0-py3-none-any-g3fp16.whl",
        "acme_kernels-2.0-py3-none-any-g3.whl",
        "acme_kernels-2.0-py3-none-any-g2.whl",
        "acme_kernels-2.0-py3-none-any-null.whl",
        "acme_kernels-2.0-py3-none-any.whl",
    ]
    assert "rejected acme_kernels-2.0-py3-none-any-g4.whl" in saved.stderr
    live = run(venv, "wn", "select", "--variants-json", str(variants), ACME_FPGA_FORCE="gen4:int8")
    assert live.stdout.splitlines()[0] == "acme_kernels-2.0-py3-none-any-g4.whl"
    absent = run(venv, "wn", "select", "--variants-json", str(variants), ACME_FPGA_FORCE="none")
    assert absent.stdout.splitlines() == [
        "acme_kernels-2.0-py3-none-any-null.whl",
        "acme_kernels-2.0-py3-none-any.whl",
    ]


def test_the_example_passes_its_own_tests_and_the_contract_suite(venv: Path) -> None:
    proc = run(
        venv, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "-c", str(EXAMPLE / "pyproject.toml"), "--rootdir", str(EXAMPLE), str(EXAMPLE / "tests"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "11 passed" in proc.stdout
