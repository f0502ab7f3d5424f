"""Recorded hardware answers for provider tests: sysroot trees and CPUID replays."""

from __future__ import annotations

import shutil
from pathlib import Path

DATA = Path(__file__).parent / "data"


def cpuinfo_root(tmp_path: Path, dump: str) -> Path:
    """A sysroot whose ``/proc/cpuinfo`` is the recorded ``data/cpuinfo/<dump>``."""
    root = tmp_path / dump
    (root / "proc").mkdir(parents=True)
    shutil.copyfile(DATA / "cpuinfo" / dump, root / "proc" / "cpuinfo")
    return root


class RecordedCpuid:
    """Replays a recorded CPUID dump as the ``cpuid`` package would answer live.

    Leaves the dump lacks read as zero; ``xgetbv(0)`` returns the recorded XCR0 or the
    ``xcr0`` the test assumes for dumps recorded without one.
    """

    def __init__(self, dump: str, xcr0: int | None = None) -> None:
        self.leaves: dict[tuple[int, int], tuple[int, int, int, int]] = {}
        recorded = None
        for line in (DATA / "cpuid" / dump).read_text().splitlines():
            cells = [c.strip() for c in line.split(",")]
            if cells[0] == "xgetbv":
                recorded = int(cells[2])
            elif len(cells) == 6:
                leaf, sub, a, b, c, d = (int(x) for x in cells)
                self.leaves[leaf, sub] = (a, b, c, d)
        self.xcr0 = xcr0 if xcr0 is not None else recorded
        self.calls: list[tuple[int, int]] = []

    def cpuid_count(self, leaf: int, subleaf: int) -> tuple[int, int, int, int]:
        self.calls.append((leaf, subleaf))
        return self.leaves.get((leaf, subleaf), (0, 0, 0, 0))

    def xgetbv(self, ctr: int) -> int:
        if self.xcr0 is None:
            raise AssertionError("this dump has no recorded XCR0: pass xcr0=")
        assert ctr == 0
        return self.xcr0
