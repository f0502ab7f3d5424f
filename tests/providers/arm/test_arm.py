"""The aarch64 provider against recorded real CPUs, overrides, archspec's data and this machine."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest

from tests.providers.recorded import cpuinfo_root
from tests.providers.running import on_features, run_installed, values
from wheelnext.providers.arm.table import arch_table

V8 = "aes asimd cpuid crc32 evtstrm fp pmull sha1 sha2"
N1 = f"ssbs asimddp lrcpc asimdhp dcpop fphp asimdrdm atomics {V8}"
V1_FEATURES = (
    "paca pacg asimdfhm bf16 dcpodp dgh dit flagm i8mm ilrcpc jscvt rng sha3 sha512 sm3 sm4 "
    f"svebf16 svei8mm uscat fcma sve {N1}"
)
SVE2_CRYPTO = "sveaes svepmull svebitperm svesha3"

# dump → (best version, every feature reported `on`)
EXPECTED = {
    "linux-amazon-cortex_a72": ("8a", V8),  # Graviton 1, an Armv8.0 core
    "linux-centos7-thunderx2": ("8.1a", f"asimdrdm atomics {V8}"),
    "linux-amazon-neoverse_n1": ("8.2a", N1),  # Graviton 2
    "linux-rocky8-a64fx": (
        "8.2a",
        "asimdhp dcpop fcma fphp sve asimdrdm atomics asimd cpuid crc32 evtstrm fp sha1 sha2",
    ),
    "linux-amazon-neoverse_v1": ("8.4a", V1_FEATURES),  # Graviton 3, SVE
    "linux-asahi-m2": (
        "8.6a",
        "flagm2 frint sb bti ecv paca pacg ssbs asimdfhm bf16 dcpodp dit flagm i8mm ilrcpc "
        "jscvt sha3 sha512 uscat asimddp lrcpc asimdhp dcpop fcma fphp asimdrdm atomics "
        f"{V8}",
    ),
    "linux-ubuntu22.04-ampere1a": (
        "8.6a",
        "flagm2 frint sb bti ecv paca pacg ssbs asimdfhm bf16 dcpodp dit flagm i8mm ilrcpc "
        "jscvt rng sha3 sha512 sm3 sm4 uscat asimddp lrcpc asimdhp dcpop fcma fphp asimdrdm "
        f"atomics {V8}",
    ),
    # Neoverse V2 (NVIDIA Grace, Graviton 4): SVE2, and bf16/i8mm make it 9.1a in
    # user-space terms (-march=armv9.1-a = armv9-a + bf16 + i8mm)
    "linux-rhel9-neoverse_v2": (
        "9.1a",
        f"{SVE2_CRYPTO} svesm4 sve2 flagm2 frint sb {V1_FEATURES}".replace(
            "paca pacg ", ""
        ).replace("rng ", ""),
    ),
    "linux-ubuntu22.04-neoverse_n2": (
        "9.1a",
        f"sve2 flagm2 frint sb {V1_FEATURES}".replace("dgh dit ", "").replace("rng ", ""),
    ),
    "linux-ubuntu24.04-neoverse_v3ae": (
        "9.2a",
        f"afp wfxt {SVE2_CRYPTO} svesm4 sve2 flagm2 frint sb bti ecv {V1_FEATURES}".replace(
            "rng ", ""
        ),
    ),
}


def version_list(best: str) -> tuple[str, ...]:
    """Every version a CPU of version ``best`` supports, best first (independent of the table)."""
    eights = ["8.9a", "8.8a", "8.7a", "8.6a", "8.5a", "8.4a", "8.3a", "8.2a", "8.1a", "8a"]
    if best.startswith("9"):
        nines = ["9.4a", "9.3a", "9.2a", "9.1a", "9.0a"]
        minor = int(best[2])
        return (*nines[nines.index(best) :], *eights[eights.index(f"8.{5 + minor}a") :])
    return tuple(eights[eights.index(best) :])


@pytest.mark.parametrize("dump", sorted(EXPECTED))
def test_recorded_cpuinfo_gives_exact_version_and_features(tmp_path: Path, dump: str) -> None:
    best, features = EXPECTED[dump]
    result = run_installed("aarch64", sysroot=cpuinfo_root(tmp_path, dump))
    assert values(result)["version"] == version_list(best)
    assert on_features(result, "version") == set(features.split())


def test_version_lists_nest() -> None:
    # 9.2a supports 9.1a, 9.0a and 8.7a … 8a, and never 8.8a
    assert version_list("9.2a") == (
        "9.2a", "9.1a", "9.0a", "8.7a", "8.6a", "8.5a", "8.4a", "8.3a", "8.2a", "8.1a", "8a",
    )  # fmt: skip
    table = arch_table()
    for version in table.version_values:
        supported = table.supported_versions(table.pinned([version], "PIN"))
        assert supported[0] == version
        assert supported == version_list(version)


def test_an_unknown_core_gets_the_version_its_features_prove(tmp_path: Path) -> None:
    # NVIDIA Olympus (Vera) is newer than archspec 0.2.7's model table's matching
    result = run_installed("aarch64", sysroot=cpuinfo_root(tmp_path, "linux-ubuntu26.04-olympus"))
    assert values(result)["version"][0] == "9.2a"
    assert {"f8fma", "lut", "ls64", "fpmr", "sve2"} <= on_features(result, "version")


def test_never_below_what_archspec_model_data_says() -> None:
    """Cross-check with archspec's microarchitecture table: for every AArch64 model it
    knows, the model's own features give at least the version archspec assigns it."""
    import archspec.cpu

    table = arch_table()
    checked = 0
    for name, target in archspec.cpu.TARGETS.items():
        generic = target.generic.name
        if target.family.name != "aarch64" or not generic.startswith("armv") or name == generic:
            continue
        expected = generic.removeprefix("armv")
        supported = table.supported_versions(frozenset(target.features))
        assert expected in supported, f"{name}: archspec says {expected}, features give {supported}"
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize(
    ("pin", "best", "extra"),
    [
        ("8.2a", "8.2a", set()),
        ("9.0a,sve,bf16", "9.0a", {"sve", "bf16"}),
    ],
)
def test_pin_override_goes_through_the_same_expansion(pin: str, best: str, extra: set[str]) -> None:
    result = run_installed("aarch64", environ={"WHEELNEXT_AARCH64_PIN": pin})
    assert values(result)["version"] == version_list(best)
    assert extra <= on_features(result, "version")


def test_pin_none_and_bad_pin() -> None:
    assert run_installed("aarch64", environ={"WHEELNEXT_AARCH64_PIN": "none"}).status == "absent"
    bad = run_installed("aarch64", environ={"WHEELNEXT_AARCH64_PIN": "armv8"})
    assert bad.status == "failed"
    assert "WHEELNEXT_AARCH64_PIN: unknown token 'armv8'" in (bad.error or "")


@pytest.mark.parametrize("dump", ["linux-rhel7-haswell", "linux-rocky9-zen5"])
def test_an_x86_machine_is_absent_not_failed(tmp_path: Path, dump: str) -> None:
    result = run_installed("aarch64", sysroot=cpuinfo_root(tmp_path, dump))
    assert result.status == "absent"
    assert "not an AArch64 CPU" in (result.error or "")


def test_declarations_cover_every_recorded_hwcap_we_publish() -> None:
    table = arch_table()
    assert len(set(table.features)) == len(table.features)
    witnesses = set().union(*(v.witness for v in table.versions))
    assert witnesses <= set(table.features)  # a pinned version's witnesses are published
    assert "asimdrdmatomics" not in table.features  # the public list's fused typos
    assert json.dumps(table.version_values)  # plain strings, best first
    assert table.version_values[-1] == "8a"


@pytest.mark.skipif(platform.machine().lower() in {"aarch64", "arm64"}, reason="x86 host check")
def test_live_on_this_non_arm_machine_is_absent() -> None:
    result = run_installed("aarch64", environ={})
    assert result.status == "absent"
    assert f"machine is {platform.machine().lower()}, not AArch64" == result.error
