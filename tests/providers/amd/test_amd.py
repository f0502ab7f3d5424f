"""The amd provider against recorded KFD sysfs trees, overrides, variantlib and this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.providers.recorded import DATA
from tests.providers.running import as_configs, run_installed, values, variantlib_configs
from wheelnext.providers.amd.kfd import gfx_name, parse_properties

KFD = DATA / "kfd"

EXPECTED = {
    "mi250x-x2": {"gfx_arch": ("gfx90a",), "rocm_version": ("6.1",)},
    "mi300x-x8": {"gfx_arch": ("gfx942",), "rocm_version": ("6.2",)},
    "mi325x": {"gfx_arch": ("gfx942",), "rocm_version": ("6.4",)},
    "rx7900xtx": {"gfx_arch": ("gfx1100",), "rocm_version": ("6.3",)},
    # the discrete card (192 SIMDs) before the integrated one (4 SIMDs)
    "rx7900xtx-with-igpu": {"gfx_arch": ("gfx1100", "gfx1036"), "rocm_version": ("7.0",)},
}


@pytest.mark.parametrize("machine", sorted(EXPECTED))
def test_recorded_kfd_trees_give_exact_properties(machine: str) -> None:
    result = run_installed("amd", sysroot=KFD / machine, environ={})
    assert values(result) == EXPECTED[machine]


@pytest.mark.parametrize(
    ("environ", "gfx"),
    [
        ({"ROCR_VISIBLE_DEVICES": "1"}, ("gfx1100",)),  # KFD order: iGPU is device 0
        ({"HIP_VISIBLE_DEVICES": "0"}, ("gfx1036",)),
        ({"CUDA_VISIBLE_DEVICES": "1,0"}, ("gfx1100", "gfx1036")),  # HIP reads it too
        ({"ROCR_VISIBLE_DEVICES": "GPU-a1ffc9d1799c317f"}, ("gfx1100",)),  # by unique id
        ({"ROCR_VISIBLE_DEVICES": "1,5,0"}, ("gfx1100",)),  # ends at the first bad entry
        ({"HSA_OVERRIDE_GFX_VERSION": "11.0.0"}, ("gfx1100",)),  # every GPU runs as gfx1100
    ],
)
def test_visibility_and_hsa_override(environ: dict[str, str], gfx: tuple[str, ...]) -> None:
    result = run_installed("amd", sysroot=KFD / "rx7900xtx-with-igpu", environ=environ)
    assert values(result)["gfx_arch"] == gfx


def test_hidden_gpus_and_missing_driver_are_absent(tmp_path: Path) -> None:
    hidden = run_installed("amd", sysroot=KFD / "mi300x-x8", environ={"ROCR_VISIBLE_DEVICES": ""})
    assert (hidden.status, hidden.error) == (
        "absent",
        "ROCR_VISIBLE_DEVICES/HIP_VISIBLE_DEVICES hide every GPU",
    )
    nothing = run_installed("amd", sysroot=tmp_path, environ={})
    assert (nothing.status, nothing.error) == (
        "absent",
        "no AMD GPU driver: /sys/class/kfd/kfd/topology/nodes does not exist",
    )
    cpu_only = tmp_path / "cpu-only" / "sys/class/kfd/kfd/topology/nodes/0"
    cpu_only.mkdir(parents=True)
    (cpu_only / "properties").write_text("cpu_cores_count 16\ngfx_target_version 0\n")
    result = run_installed("amd", sysroot=tmp_path / "cpu-only", environ={})
    assert (result.status, result.error) == ("absent", "the KFD topology lists no AMD GPU")


def test_an_unknown_future_target_is_left_out_with_the_reason(tmp_path: Path) -> None:
    node = tmp_path / "sys/class/kfd/kfd/topology/nodes/1"
    node.mkdir(parents=True)
    (node / "properties").write_text("simd_count 64\ngfx_target_version 120500\nvendor_id 4098\n")
    result = run_installed("amd", sysroot=tmp_path, environ={})
    assert (result.status, result.error) == (
        "absent",
        "no gfx target this provider version knows (found: gfx1250)",
    )


def test_overrides_public_and_ours() -> None:
    ours = run_installed(
        "amd",
        environ={"WHEELNEXT_AMD_GFX_ARCH": "gfx942 gfx90a", "WHEELNEXT_AMD_ROCM_VERSION": "6.4.1"},
    )
    assert values(ours) == {"gfx_arch": ("gfx942", "gfx90a"), "rocm_version": ("6.4",)}
    public = run_installed(
        "amd",
        environ={
            "AMD_VARIANT_PROVIDER_FORCE_GFX_ARCH": "gfx1100;gfx1201",
            "AMD_VARIANT_PROVIDER_FORCE_ROCM_VERSION": "7.0",
        },
    )
    assert values(public) == {"gfx_arch": ("gfx1100", "gfx1201"), "rocm_version": ("7.0",)}
    bad = run_installed("amd", environ={"WHEELNEXT_AMD_ROCM_VERSION": "seven"})
    assert (bad.status, bad.error) == (
        "failed",
        "WHEELNEXT_AMD_ROCM_VERSION: 'seven' is not a ROCm version like 6.4 or 6.4.1",
    )


@pytest.mark.parametrize(
    ("version", "name"),
    [
        (90010, "gfx90a"),
        (90402, "gfx942"),
        (110501, "gfx1151"),
        (100300, "gfx1030"),
        (120001, "gfx1201"),
    ],
)
def test_gfx_target_version_decoding(version: int, name: str) -> None:
    assert gfx_name(version) == name


def test_properties_parser_skips_garbage() -> None:
    assert parse_properties("gfx_target_version 90402\njunk\nsimd_count x\n\nvendor_id 4098") == {
        "gfx_target_version": 90402,
        "vendor_id": 4098,
    }


def test_live_machine_without_amd_gpu_is_absent() -> None:
    result = run_installed("amd", environ={})
    if Path("/sys/class/kfd/kfd/topology/nodes").is_dir():
        assert result.status in {"ok", "absent"}
    else:
        assert result.status == "absent"


def test_variantlib_loads_it_by_plugin_api_with_the_same_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environ = {"WHEELNEXT_AMD_GFX_ARCH": "gfx90a", "WHEELNEXT_AMD_ROCM_VERSION": "6.4"}
    ours = run_installed("amd", environ=environ)
    supported, everything = variantlib_configs("amd", monkeypatch, environ)
    assert supported == as_configs(ours)
    assert everything["gfx_arch"][:4] == ["gfx900", "gfx906", "gfx908", "gfx90a"]
