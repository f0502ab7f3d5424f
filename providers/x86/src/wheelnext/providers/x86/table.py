"""The x86-64 knowledge in ``data/isa.toml``: levels, CPUID bits and kernel flag names.

Every detection source (CPUID, ``/proc/cpuinfo``, archspec, an override) is turned into
one set of flag names here, and the level and published features are computed from that
set alone, so the sources can only differ in what they read, never in what it means.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from wheelnext.core.errors import ProviderError
from wheelnext.core.providers import DetectedFeature

REGISTERS = ("eax", "ebx", "ecx", "edx")


@dataclass(frozen=True, slots=True)
class CpuidBit:
    """Where a flag lives: ``CPUID(leaf, subleaf).register`` bit ``bit``."""

    leaf: int
    subleaf: int
    register: int  # index into (eax, ebx, ecx, edx)
    bit: int


@dataclass(frozen=True, slots=True)
class Flag:
    """One CPU flag: its property name, where to read it, and what the OS must enable."""

    name: str
    cpuid: CpuidBit | None
    kernel: str  # /proc/cpuinfo name; "" when the kernel hides it
    state: str | None
    feature: bool


@dataclass(frozen=True, slots=True)
class IsaTable:
    """Levels (v1 first), XCR0 masks per register state, and every flag in preference order."""

    levels: tuple[tuple[str, frozenset[str]], ...]
    states: dict[str, int]
    flags: tuple[Flag, ...]

    @property
    def level_values(self) -> tuple[str, ...]:
        """Every level value, best first (``v4`` … ``v1``)."""
        return tuple(name for name, _ in reversed(self.levels))

    @property
    def features(self) -> tuple[str, ...]:
        """The published ISA features, in preference order."""
        return tuple(f.name for f in self.flags if f.feature)

    def from_names(self, names: Iterable[str]) -> frozenset[str]:
        """Flags from kernel (``pni``) or property (``sse3``) spellings; unknown ones dropped."""
        present = set(names)
        return frozenset(f.name for f in self.flags if f.name in present or f.kernel in present)

    def kernel_veto(self, flags: frozenset[str], kernel_names: Iterable[str]) -> frozenset[str]:
        """``flags`` (from CPUID) corrected by the running kernel's ``/proc/cpuinfo`` flags.

        A flag the kernel can show but does not was disabled on purpose (errata such as
        RDSEED on Zen 5, ``clearcpuid=``, ``noavx512``); flags only the kernel knows
        (``ibrs_enhanced``) are added. Flags the kernel never shows stay as CPUID says.
        """
        kernel = self.from_names(kernel_names)
        shown = {f.name for f in self.flags if f.kernel}
        return frozenset((flags - (shown - kernel)) | (kernel & shown))

    def level(self, flags: frozenset[str]) -> int:
        """The highest psABI level whose flags, and every lower level's, are all in ``flags``."""
        reached = 0
        for number, (_, required) in enumerate(self.levels, start=1):
            if not required <= flags:
                break
            reached = number
        return reached

    def detected(self, flags: frozenset[str]) -> list[DetectedFeature]:
        """The supported features for ``flags``: ``level`` best first, then each ISA flag ``on``."""
        answer = []
        level = self.level(flags)
        if level:
            answer.append(DetectedFeature("level", self.level_values[-level:]))
        answer += [DetectedFeature(name, ("on",)) for name in self.features if name in flags]
        return answer

    def pinned(self, tokens: Iterable[str], variable: str) -> frozenset[str]:
        """The flags an override names: a level (``v3``) brings all its flags, others add one.

        Raises ``ProviderError`` naming ``variable`` for an unknown token.
        """
        levels = dict(self.levels)
        known = {f.name for f in self.flags}
        flags: set[str] = set()
        for token in tokens:
            if token in levels:
                for name, required in self.levels:
                    flags |= required
                    if name == token:
                        break
            elif token in known:
                flags.add(token)
            else:
                raise ProviderError(
                    f"{variable}: unknown token {token!r} (expected v1-v4 or an x86_64 feature)"
                )
        return frozenset(flags)


@cache
def isa_table() -> IsaTable:
    """The table in ``data/isa.toml`` (read once)."""
    raw = tomllib.loads((Path(__file__).parent / "data" / "isa.toml").read_text("utf-8"))
    levels = tuple((name, frozenset(required)) for name, required in raw["levels"].items())
    flags = []
    for entry in raw["flag"]:
        bit = entry.get("cpuid")
        flags.append(
            Flag(
                name=entry["name"],
                cpuid=CpuidBit(bit[0], bit[1], REGISTERS.index(bit[2]), bit[3]) if bit else None,
                kernel=entry.get("kernel", entry["name"]),
                state=entry.get("state"),
                feature=entry.get("feature", True),
            )
        )
    return IsaTable(levels, dict(raw["states"]), tuple(flags))
