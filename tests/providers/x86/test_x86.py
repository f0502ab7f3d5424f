"""The x86_64 provider against recorded real CPUs, CPUID replays, overrides and this machine."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import pytest

from tests.providers.recorded import DATA, RecordedCpuid, cpuinfo_root
from tests.providers.running import on_features, run_installed, values
from wheelnext.core.cpuinfo import first_processor
from wheelnext.providers.x86 import sources
from wheelnext.providers.x86.table import isa_table

V1 = "sse2 sse mmx"
V2 = f"sse4_2 sse4_1 ssse3 sse3 cx16 lahf_lm popcnt {V1}"
V3 = f"avx2 avx bmi2 bmi1 abm f16c fma movbe xsave {V2}"
V4 = f"avx512bw avx512cd avx512dq avx512f avx512vl {V3}"
ICELAKE_AVX512 = (
    "avx512_bitalg avx512_vbmi2 avx512_vnni avx512_vpopcntdq avx512ifma avx512vbmi "
    "vaes vpclmulqdq gfni"
)

# dump → (best level, every feature reported `on`), worked out from each CPU's documented
# ISA and the flags its kernel printed (hypervisors and old kernels hide some).
EXPECTED = {
    "linux-scientific7-k10": ("v1", "abm sse4a sse3 cx16 lahf_lm popcnt sse2 sse mmx"),
    "linux-rhel7-ivybridge": (
        "v2",
        f"xsaveopt avx f16c xsave rdrand aes pclmulqdq fsgsbase {V2}",
    ),
    "linux-scientific7-piledriver": (
        "v2",
        f"avx bmi1 abm f16c fma xsave aes pclmulqdq sse4a {V2}",
    ),
    "linux-rhel7-haswell": (
        "v3",
        f"tsc_adjust xsaveopt rdrand aes pclmulqdq fsgsbase {V3}",
    ),
    "linux-rhel7-broadwell": (
        "v3",
        f"tsc_adjust rdseed xsaveopt adx rdrand aes pclmulqdq fsgsbase {V3}",
    ),
    "linux-ubuntu20.04-zen3": (
        "v3",
        "rdpid sha_ni vaes vpclmulqdq pku clwb clzero clflushopt rdseed xsavec xsaveopt adx "
        f"rdrand aes pclmulqdq sse4a fsgsbase {V3}",
    ),
    "linux-ubuntu24.04-alderlake": (
        "v3",
        "avx_vnni ibrs_enhanced tsc_adjust flush_l1d serialize waitpkg movdir64b movdiri "
        "rdpid sha_ni vaes vpclmulqdq gfni pku clwb clflushopt rdseed xsavec xsaveopt adx "
        f"rdrand aes pclmulqdq fsgsbase {V3}",
    ),
    "linux-rhel7-skylake_avx512": (
        "v4",
        f"tsc_adjust clwb clflushopt rdseed xsavec xsaveopt adx rdrand aes pclmulqdq fsgsbase {V4}",
    ),
    "linux-centos7-cascadelake": (
        "v4",
        "ibrs_enhanced tsc_adjust flush_l1d avx512_vnni pku clwb clflushopt rdseed xsavec "
        f"xsaveopt adx rdrand aes pclmulqdq fsgsbase {V4}",
    ),
    "linux-unknown-sapphirerapids": (
        "v4",
        "amx_tile amx_bf16 amx_int8 avx512_fp16 avx512_bf16 avx_vnni serialize cldemote "
        "waitpkg movdir64b movdiri ibrs_enhanced tsc_adjust flush_l1d rdpid sha_ni pku clwb "
        f"clflushopt rdseed xsavec xsaveopt adx rdrand aes pclmulqdq fsgsbase "
        f"{ICELAKE_AVX512} {V4}",
    ),
    "linux-rocky8.5-zen4": (
        "v4",
        "flush_l1d avx512_bf16 rdpid sha_ni pku clwb clzero clflushopt rdseed xsavec xsaveopt "
        f"adx rdrand aes pclmulqdq sse4a fsgsbase {ICELAKE_AVX512} {V4}",
    ),
    "linux-rocky9-zen5": (
        "v4",
        "avx_vnni cppc ibrs_enhanced tsc_adjust flush_l1d movdir64b movdiri avx512_bf16 "
        "avx512_vp2intersect rdpid sha_ni pku clwb clzero clflushopt rdseed xsavec xsaveopt "
        f"adx rdrand aes pclmulqdq sse4a fsgsbase {ICELAKE_AVX512} {V4}",
    ),
}
LEVELS = {
    "v1": ("v1",),
    "v2": ("v2", "v1"),
    "v3": ("v3", "v2", "v1"),
    "v4": ("v4", "v3", "v2", "v1"),
}


@pytest.mark.parametrize("dump", sorted(EXPECTED))
def test_recorded_cpuinfo_gives_exact_level_and_features(tmp_path: Path, dump: str) -> None:
    level, features = EXPECTED[dump]
    result = run_installed("x86_64", sysroot=cpuinfo_root(tmp_path, dump))
    assert values(result)["level"] == LEVELS[level]
    assert on_features(result, "level") == set(features.split())


def test_features_come_in_declared_preference_order(tmp_path: Path) -> None:
    result = run_installed("x86_64", sysroot=cpuinfo_root(tmp_path, "linux-unknown-sapphirerapids"))
    names = [f.name for f in result.features]
    declared = ["level", *isa_table().features]
    assert names == sorted(names, key=declared.index)
    assert names[:3] == ["level", "avx_vnni", "ibrs_enhanced"]


def test_the_zen3_vm_keeps_the_flags_archspec_model_matching_loses(tmp_path: Path) -> None:
    # the public provider reports the matched model's static list; real flags win here
    result = run_installed("x86_64", sysroot=cpuinfo_root(tmp_path, "linux-ubuntu20.04-zen3"))
    assert {"vaes", "sha_ni", "adx", "vpclmulqdq", "rdpid"} <= on_features(result, "level")


@pytest.mark.parametrize(
    ("xcr0", "level", "has"),
    [
        (0xE7, "v4", {"avx512f", "avx512_vnni", "avx2", "vaes"}),
        # OS enabled AVX but not AVX-512 state: every AVX-512 flag must go
        (0x07, "v3", {"avx2", "fma", "vaes", "gfni"}),
        # no AVX state at all: AVX-family flags go, SSE-encoded ones stay
        (0x03, "v2", {"gfni", "sha_ni", "aes", "bmi2"}),
    ],
)
def test_recorded_cpuid_respects_os_enabled_register_state(
    xcr0: int, level: str, has: set[str]
) -> None:
    # Ice Lake client CPUID dump: the CPU has AVX-512; XCR0 decides what is usable
    flags = sources.cpuid_flags(RecordedCpuid("windows-cpuid-icelake", xcr0=xcr0), isa_table())
    detected = {f.name: f.values for f in isa_table().detected(flags)}
    assert detected["level"][0] == level
    assert has <= set(detected)
    avx512 = {name for name in detected if name.startswith("avx512")}
    assert bool(avx512) == (level == "v4")
    if level == "v2":
        assert not {"avx", "avx2", "fma", "f16c", "vaes", "vpclmulqdq"} & set(detected)


def test_recorded_cpuid_broadwell() -> None:
    flags = sources.cpuid_flags(RecordedCpuid("windows-cpuid-broadwell", xcr0=0x7), isa_table())
    detected = {f.name for f in isa_table().detected(flags)}
    assert isa_table().level(flags) == 3
    assert {"adx", "rdseed", "avx2", "bmi2", "fsgsbase"} <= detected
    assert not {"avx512f", "sha_ni", "clflushopt", "avx_vnni"} & detected


def test_recorded_cpuid_skips_xgetbv_without_osxsave() -> None:
    recorded = RecordedCpuid("windows-cpuid-icelake", xcr0=None)
    a, b, c, d = recorded.leaves[1, 0]
    recorded.leaves[1, 0] = (a, b, c & ~(1 << 27), d)  # the OS never set OSXSAVE
    flags = sources.cpuid_flags(recorded, isa_table())  # xgetbv would raise: not called
    assert isa_table().level(flags) == 2
    assert "avx" not in flags


def test_leaves_above_the_maximum_are_not_queried() -> None:
    recorded = RecordedCpuid("windows-cpuid-broadwell", xcr0=0x7)
    _, b, c, d = recorded.leaves[0, 0]
    recorded.leaves[0, 0] = (1, b, c, d)  # a CPU whose highest basic leaf is 1
    flags = sources.cpuid_flags(recorded, isa_table())
    assert not any(leaf in {7, 0xD} for leaf, _ in recorded.calls)
    assert "avx2" not in flags
    assert isa_table().level(flags) == 2


def test_kernel_vetoes_what_it_disabled_on_the_recorded_dev_machine() -> None:
    # both recorded on one Zen 5 guest: CPUID reports RDSEED, which Linux turns off on
    # Zen 5 (RDSEED erratum); everything else the kernel can show, the two agree on
    table = isa_table()
    by_cpuid = sources.cpuid_flags(RecordedCpuid("dev-machine-epyc-zen5-kvm"), table)
    kernel_words = first_processor((DATA / "cpuinfo" / "dev-machine-epyc-zen5-kvm").read_text())[
        "flags"
    ].split()
    by_kernel = table.from_names(kernel_words)
    shown = {f.name for f in table.flags if f.cpuid is not None and f.kernel}
    assert (by_cpuid & shown) - by_kernel == {"rdseed"}
    assert by_kernel & shown <= by_cpuid
    combined = table.kernel_veto(by_cpuid, kernel_words)
    assert "rdseed" not in combined
    assert combined & shown == by_kernel & shown
    assert table.level(combined) == 4


def test_kernel_veto_keeps_cpuid_only_flags_and_adds_kernel_only_ones() -> None:
    table = isa_table()
    from_cpuid = frozenset({"sha512", "avx512f", "avx2"})
    combined = table.kernel_veto(from_cpuid, ["avx2", "ibrs_enhanced"])  # noavx512 kernel
    assert combined == {"sha512", "avx2", "ibrs_enhanced"}


@pytest.mark.parametrize(
    ("pin", "level", "extra"),
    [
        ("v3", ("v3", "v2", "v1"), set()),
        ("v2, sha_ni vaes", ("v2", "v1"), {"sha_ni", "vaes"}),
        ("v4;amx_tile", ("v4", "v3", "v2", "v1"), {"amx_tile"}),
    ],
)
def test_pin_override_goes_through_the_same_expansion(
    pin: str, level: tuple[str, ...], extra: set[str]
) -> None:
    result = run_installed("x86_64", environ={"WHEELNEXT_X86_64_PIN": pin})
    assert values(result)["level"] == level
    expected = set(V4.split()) if level[0] == "v4" else set()
    expected = expected or set({"v3": V3, "v2": V2}[level[0]].split())
    assert on_features(result, "level") == expected | extra


def test_pin_none_answers_absent_and_bad_pin_fails_clearly() -> None:
    absent = run_installed("x86_64", environ={"WHEELNEXT_X86_64_PIN": "none"})
    assert (absent.status, absent.error) == ("absent", "WHEELNEXT_X86_64_PIN=none")
    bad = run_installed("x86_64", environ={"WHEELNEXT_X86_64_PIN": "v3,avx1024"})
    assert bad.status == "failed"
    assert bad.error == (
        "WHEELNEXT_X86_64_PIN: unknown token 'avx1024' (expected v1-v4 or an x86_64 feature)"
    )


@pytest.mark.parametrize("dump", ["linux-amazon-neoverse_v1", "linux-rhel9-neoverse_v2"])
def test_an_arm_machine_is_absent_not_failed(tmp_path: Path, dump: str) -> None:
    result = run_installed("x86_64", sysroot=cpuinfo_root(tmp_path, dump))
    assert result.status == "absent"
    assert result.error is not None
    assert "not an x86-64 CPU" in result.error


def test_missing_cpuinfo_under_sysroot_is_absent(tmp_path: Path) -> None:
    result = run_installed("x86_64", sysroot=tmp_path)
    assert result.status == "absent"
    assert str(tmp_path / "proc" / "cpuinfo") in (result.error or "")


def test_every_declared_flag_has_a_source_and_a_unique_name() -> None:
    table = isa_table()
    names = [f.name for f in table.flags]
    assert len(names) == len(set(names))
    assert all(f.cpuid is not None or f.kernel for f in table.flags)
    assert all(f.state in {None, *table.states} for f in table.flags)
    for _, required in table.levels:
        assert required <= set(names)
    bits = [
        (f.cpuid.leaf, f.cpuid.subleaf, f.cpuid.register, f.cpuid.bit)
        for f in table.flags
        if f.cpuid
    ]
    assert len(bits) == len(set(bits))


@pytest.mark.skipif(
    platform.machine().lower() not in {"x86_64", "amd64"}, reason="needs an x86-64 machine"
)
def test_live_machine_matches_the_kernel_flags() -> None:
    """This machine, live: CPUID (or the fallback) against the kernel's own flags."""
    table = isa_table()
    kernel_text = Path("/proc/cpuinfo").read_text()
    kernel = table.from_names(first_processor(kernel_text)["flags"].split())
    result = run_installed("x86_64", environ={})
    found = values(result)
    # the level from the kernel's view, computed independently of the provider's code
    psabi = [
        "cmov cx8 fpu fxsr mmx syscall sse sse2",
        "cx16 lahf_lm popcnt pni sse4_1 sse4_2 ssse3",
        "avx avx2 bmi1 bmi2 f16c fma abm movbe xsave",
        "avx512f avx512bw avx512cd avx512dq avx512vl",
    ]
    words = set(re.split(r"\s+", first_processor(kernel_text)["flags"]))
    level = 0
    while level < 4 and set(psabi[level].split()) <= words:
        level += 1
    assert found["level"][0] == f"v{level}"
    visible_to_both = {f.name for f in table.flags if f.cpuid is not None and f.kernel}
    assert set(found) & visible_to_both == (kernel & visible_to_both) & set(table.features)
