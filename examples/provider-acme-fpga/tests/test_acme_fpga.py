"""Acme FPGA provider tests: recorded sysfs trees, overrides, and the contract suite."""

from __future__ import annotations

from pathlib import Path

from wheelnext.core.supported import ProviderResult
from wheelnext.core.testing import ProviderContract, run_installed

DATA = Path(__file__).parent / "data"


def run(sysroot: Path | None = None, **environ: str) -> ProviderResult:
    return run_installed("acme_fpga", environ, sysroot)


def test_one_gen3_board() -> None:
    result = run(DATA / "board-gen3")
    assert result.status == "ok"
    assert {f.name: f.values for f in result.features} == {
        "fabric": ("gen3", "gen2", "gen1"),
        "dsp": ("fp16", "int8"),
    }


def test_two_boards_support_what_both_load() -> None:
    result = run(DATA / "board-gen4-and-gen2")
    assert {f.name: f.values for f in result.features} == {
        "fabric": ("gen2", "gen1"),
        "dsp": ("int8",),
    }


def test_override_and_absent() -> None:
    forced = run(ACME_FPGA_FORCE="gen4:fp8+int8")
    assert {f.name: f.values for f in forced.features}["dsp"] == ("fp8", "int8")
    assert run(ACME_FPGA_FORCE="none").status == "absent"
    bad = run(ACME_FPGA_FORCE="gen9")
    assert (bad.status, bad.error) == (
        "failed",
        "unknown fabric generation 'gen9' (known: ['gen4', 'gen3', 'gen2', 'gen1'])",
    )


class TestContract(ProviderContract):
    namespace = "acme_fpga"
    present_environments = ({"ACME_FPGA_FORCE": "gen3:fp16+int8"}, {"ACME_FPGA_FORCE": "gen1"})
    absent_environments = ({"ACME_FPGA_FORCE": "none"},)
