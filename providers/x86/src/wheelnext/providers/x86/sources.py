"""Where x86 flags are read from: CPUID (exact, any OS), ``/proc/cpuinfo``, archspec.

``cpuid_flags`` takes any object with the ``cpuid`` package's ``cpuid_count`` and
``xgetbv``; ``load_cpuid`` is the loading boundary tests replace with recorded dumps.
"""

from __future__ import annotations

from typing import Protocol

from wheelnext.providers.x86.table import IsaTable

EXTENDED = 0x80000000


class CpuidBackend(Protocol):
    """The two instructions detection needs (the ``cpuid`` package provides both)."""

    def cpuid_count(self, leaf: int, subleaf: int) -> tuple[int, int, int, int]: ...

    def xgetbv(self, ctr: int) -> int: ...


def load_cpuid() -> CpuidBackend | None:
    """The ``cpuid`` package (a C extension: absent where it has no wheel), or None."""
    try:
        import cpuid
    except ImportError:
        return None
    return cpuid  # type: ignore[no-any-return]


def cpuid_flags(backend: CpuidBackend, table: IsaTable) -> frozenset[str]:
    """Every table flag the CPU reports and the OS has enabled the register state for.

    Leaves above the CPU's maximum (CPUID 0 / 0x80000000) read as zero; XGETBV(0) is
    only executed when the OS has set OSXSAVE, as the SDM requires.
    """
    max_basic = backend.cpuid_count(0, 0)[0]
    max_extended = backend.cpuid_count(EXTENDED, 0)[0]
    max_sub7 = backend.cpuid_count(7, 0)[0] if max_basic >= 7 else 0
    registers: dict[tuple[int, int], tuple[int, int, int, int]] = {}

    def read(leaf: int, subleaf: int) -> tuple[int, int, int, int]:
        valid = max_extended >= leaf if leaf >= EXTENDED else max_basic >= leaf
        if leaf == 7 and subleaf > max_sub7:
            valid = False
        if (leaf, subleaf) not in registers:
            registers[leaf, subleaf] = backend.cpuid_count(leaf, subleaf) if valid else (0,) * 4
        return registers[leaf, subleaf]

    osxsave = bool(read(1, 0)[2] >> 27 & 1)
    xcr0 = backend.xgetbv(0) if osxsave else 0
    flags = set()
    for flag in table.flags:
        if flag.cpuid is None:
            continue
        bit = flag.cpuid
        if not read(bit.leaf, bit.subleaf)[bit.register] >> bit.bit & 1:
            continue
        if flag.state is not None:
            mask = table.states[flag.state]
            if not osxsave or xcr0 & mask != mask:
                continue
        flags.add(flag.name)
    return frozenset(flags)


def archspec_flags(table: IsaTable) -> frozenset[str] | None:
    """The raw host flags archspec reads (macOS sysctl, Windows CPUID), or None."""
    try:
        from archspec.cpu.detect import detected_info
    except ImportError:
        return None
    return table.from_names(detected_info().features)
