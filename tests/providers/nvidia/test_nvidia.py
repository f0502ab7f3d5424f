"""The nvidia provider against recorded NVML answers, overrides, variantlib and this machine."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers import BIN
from tests.providers.recorded_nvml import recorded_nvml
from tests.providers.running import as_configs, run_installed, values, variantlib_configs
from wheelnext.providers.nvidia.table import cuda_table


def cuda_lower(major: int, minor: int) -> tuple[str, ...]:
    """Lower bounds for a driver at major.minor, written out independently of the table."""
    out: list[str] = []
    for m in range(15, 10, -1):
        out += [f"{m}.{n}" for n in range(20, -1, -1) if (m, n) <= (major, minor)]
        if (m, 0) <= (major, minor):
            out.append(str(m))
    return tuple(out)


def cuda_upper(major: int, minor: int) -> tuple[str, ...]:
    out: list[str] = []
    for m in range(15, 10, -1):
        out += [f"{m}.{n}" for n in range(20, -1, -1) if (m, n) > (major, minor)]
        if (m, 0) > (major, minor):
            out.append(str(m))
    return tuple(out)


def sm(real: list[tuple[int, int]], ptx_upto: tuple[int, int]) -> tuple[str, ...]:
    """Real values given, then every PTX value up to ``ptx_upto``, newest first."""
    virtual = [
        f"{m}{n}_virtual" for m in range(12, 4, -1) for n in range(9, -1, -1) if (m, n) <= ptx_upto
    ]
    return (*[f"{m}{n}_real" for m, n in real], *virtual)


def down(major: int, minor: int) -> list[tuple[int, int]]:
    return [(major, n) for n in range(minor, -1, -1)]


EXPECTED = {
    "h100-80gb-hbm3-x2": ((12, 2), sm(down(9, 0), (9, 0))),
    "a100-sxm4-40gb-x2": ((13, 0), sm(down(8, 0), (8, 0))),
    "a100-sxm4-80gb-cuda11.4": ((11, 4), sm(down(8, 0), (8, 0))),
    "quadro-p2200-cuda11.0": ((11, 0), sm(down(6, 1), (6, 1))),
    "b200-x2-cuda13.3": ((13, 3), sm(down(10, 0), (10, 0))),
    # 8.9 + 8.9 + 12.0 + 8.6: no native code runs on all of them; PTX up to 8.6 does
    "mixed-rtx4090-rtx4090-rtx5090-a6000": ((12, 8), sm([], (8, 6))),
    # the lost GPU is left out; the V100 answers
    "v100-pcie-cuda12.2-lost-gpu": ((12, 2), sm(down(7, 0), (7, 0))),
}


@pytest.mark.parametrize("machine", sorted(EXPECTED))
def test_recorded_machines_give_exact_properties(
    monkeypatch: pytest.MonkeyPatch, machine: str
) -> None:
    (major, minor), sm_values = EXPECTED[machine]
    with recorded_nvml(monkeypatch, machine) as library:
        result = run_installed("nvidia", environ={})
    assert values(result) == {
        "cuda_version_lower_bound": cuda_lower(major, minor),
        "cuda_version_upper_bound": cuda_upper(major, minor),
        "sm_arch": sm_values,
    }
    assert library.calls[0] == "nvmlInitWithFlags"
    assert library.calls[-1] == "nvmlShutdown"


@pytest.mark.parametrize(
    ("visible", "sm_values"),
    [
        ("0", sm(down(8, 9), (8, 9))),  # the RTX 4090 alone
        ("2", sm(down(12, 0), (12, 0))),  # the RTX 5090 alone
        ("0,3", sm(down(8, 6), (8, 6))),  # RTX 4090 + A6000: what both run
        ("GPU-00000000-0000-0000-0000-6d6978650003", sm(down(8, 6), (8, 6))),  # by UUID
        ("1,7,2", sm(down(8, 9), (8, 9))),  # CUDA stops at the first invalid entry
    ],
)
def test_cuda_visible_devices_selects_the_gpus(
    monkeypatch: pytest.MonkeyPatch, visible: str, sm_values: tuple[str, ...]
) -> None:
    with recorded_nvml(monkeypatch, "mixed-rtx4090-rtx4090-rtx5090-a6000"):
        result = run_installed("nvidia", environ={"CUDA_VISIBLE_DEVICES": visible})
    assert values(result)["sm_arch"] == sm_values


@pytest.mark.parametrize(
    ("machine", "environ", "reason"),
    [
        ("driver-not-loaded", {}, "NVML unavailable: Driver Not Loaded"),
        ("container-unknown-error", {}, "NVML unavailable: Unknown Error"),
        ("zero-devices", {}, "NVML reports no usable GPU (driver 580.126.09)"),
        (
            "h100-80gb-hbm3-x2",
            {"CUDA_VISIBLE_DEVICES": ""},
            "CUDA_VISIBLE_DEVICES='' hides every GPU",
        ),
        (
            "h100-80gb-hbm3-x2",
            {"CUDA_VISIBLE_DEVICES": "-1"},
            "CUDA_VISIBLE_DEVICES='-1' hides every GPU",
        ),
    ],
)
def test_nvml_failures_are_absent_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, machine: str, environ: dict[str, str], reason: str
) -> None:
    with recorded_nvml(monkeypatch, machine):
        result = run_installed("nvidia", environ=environ)
    assert (result.status, result.error) == ("absent", reason)


def test_a_driver_newer_than_the_catalogue_is_clamped_not_dropped() -> None:
    result = run_installed(
        "nvidia", environ={"WHEELNEXT_NVIDIA_CUDA_DRIVER": "16.1", "WHEELNEXT_NVIDIA_SM": "13.0"}
    )
    found = values(result)
    assert found["cuda_version_lower_bound"][0] == "15.20"
    assert "cuda_version_upper_bound" not in found  # nothing known lies above 16.1
    # a GPU newer than every known major runs no listed native code, but all PTX
    assert found["sm_arch"] == sm([], (12, 9))


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {
                "NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION": "12.8",
                "NV_VARIANT_PROVIDER_FORCE_SM_ARCH": "9.0",
            },
            ((12, 8), sm(down(9, 0), (9, 0))),
        ),
        (
            {"WHEELNEXT_NVIDIA_CUDA_DRIVER": "12.8.1", "WHEELNEXT_NVIDIA_SM": "sm_86, compute_89"},
            ((12, 8), sm(down(8, 6), (8, 6))),
        ),
        (
            {"WHEELNEXT_NVIDIA_CUDA_DRIVER": "12", "WHEELNEXT_NVIDIA_SM": "120"},
            ((12, 0), sm(down(12, 0), (12, 0))),
        ),
    ],
)
def test_overrides_need_no_driver_and_follow_the_same_rules(
    environ: dict[str, str], expected: tuple[tuple[int, int], tuple[str, ...]]
) -> None:
    (major, minor), sm_values = expected
    result = run_installed("nvidia", environ=environ)  # no NVML on this machine
    assert values(result) == {
        "cuda_version_lower_bound": cuda_lower(major, minor),
        "cuda_version_upper_bound": cuda_upper(major, minor),
        "sm_arch": sm_values,
    }


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"NV_VARIANT_PROVIDER_FORCE_SM_ARCH": "9"},
            "NV_VARIANT_PROVIDER_FORCE_SM_ARCH: '9' is not a compute capability like 9.0 or sm_90",
        ),
        (
            {"WHEELNEXT_NVIDIA_CUDA_DRIVER": "v12.7"},
            "WHEELNEXT_NVIDIA_CUDA_DRIVER: 'v12.7' is not a CUDA version like 12.8",
        ),
    ],
)
def test_malformed_overrides_fail_the_provider_with_one_line(
    environ: dict[str, str], message: str
) -> None:
    result = run_installed("nvidia", environ=environ)
    assert (result.status, result.error) == ("failed", message)


def test_supported_values_are_always_declared() -> None:
    table = cuda_table()
    declared_sm = {name for name, _, _ in table.sm_values}
    for caps in ([(5, 0)], [(9, 0), (7, 5)], [(12, 1)], [(4, 0)], [(13, 5)]):
        assert set(table.sm_for(caps)) <= declared_sm
    assert table.sm_for([(4, 0)]) == ()  # below the catalogue: nothing, sm_arch omitted


def test_live_machine_without_a_driver_is_absent_with_nvml_reason() -> None:
    result = run_installed("nvidia", environ={})
    if result.status == "ok":  # a GPU machine: the answer must at least be well formed
        assert "sm_arch" in values(result)
        return
    assert result.status == "absent"
    assert (result.error or "").startswith("NVML unavailable: ")


def test_variantlib_loads_it_by_plugin_api_with_the_same_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environ = {"WHEELNEXT_NVIDIA_CUDA_DRIVER": "12.9", "WHEELNEXT_NVIDIA_SM": "9.0,10.0"}
    ours = run_installed("nvidia", environ=environ)
    supported, everything = variantlib_configs("nvidia", monkeypatch, environ)
    assert supported == as_configs(ours)
    assert len(everything["sm_arch"]) == 160
    # 9.0 and 10.0 share no native code: only PTX up to 9.0
    assert values(ours)["sm_arch"] == sm([], (9, 0))


def test_wn_detect_json_reports_the_nvml_reason() -> None:
    proc = subprocess.run(
        [BIN / "wn-detect", "--json", "--namespace", "nvidia"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": str(BIN)},
    )
    (provider,) = json.loads(proc.stdout)["providers"]
    assert provider["distribution"] == "wheelnext-provider-nvidia"
    assert provider["status"] in {"absent", "ok"}
