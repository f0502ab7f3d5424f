"""The CUDA catalogue and compatibility rules of ``data/cuda.toml``.

Pure functions from readings (driver CUDA version, compute capabilities) to supported
values, so NVML, overrides and recorded machines all go through the same rules.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

Capability = tuple[int, int]


@dataclass(frozen=True, slots=True)
class CudaTable:
    """Every declared value, best first, with the numbers each stands for."""

    cuda_versions: tuple[tuple[str, Capability], ...]  # ("12.8", (12, 8)), ("12", (12, 0))
    sm_values: tuple[tuple[str, Capability, bool], ...]  # ("90_real", (9, 0), True)
    architectures: dict[int, str]

    @property
    def max_cuda(self) -> Capability:
        return max(v for _, v in self.cuda_versions)

    def lower_bounds(self, driver: Capability) -> tuple[str, ...]:
        """Lower-bound values the driver satisfies (value <= driver), best first.

        A driver newer than the catalogue is clamped to its newest value, never dropped.
        """
        driver = min(driver, self.max_cuda)
        return tuple(name for name, version in self.cuda_versions if version <= driver)

    def upper_bounds(self, driver: Capability) -> tuple[str, ...]:
        """Exclusive upper-bound values above the driver's version, loosest first."""
        return tuple(name for name, version in self.cuda_versions if version > driver)

    def sm_for(self, capabilities: Iterable[Capability]) -> tuple[str, ...]:
        """SM values every one of ``capabilities`` can run, real code first, newest first.

        ``{M}{m}_real`` runs on the same major with minor >= m; ``{M}{m}_virtual`` (PTX)
        is JIT-compiled on any capability >= M.m. A machine with several GPUs supports
        only what all of them run (the intersection), so a wheel never installs code one
        visible GPU cannot execute.
        """
        gpus = list(capabilities)
        if not gpus:
            return ()

        def runs(value: Capability, real: bool, gpu: Capability) -> bool:
            if real:
                return value[0] == gpu[0] and value[1] <= gpu[1]
            return value <= gpu

        return tuple(
            name
            for name, value, real in self.sm_values
            if all(runs(value, real, gpu) for gpu in gpus)
        )


def parse_cuda_version(text: str, what: str) -> Capability:
    """``12.8``, ``12.8.1`` or ``12`` → (12, 8); ValueError naming ``what`` otherwise."""
    parts = text.strip().split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{what}: {text!r} is not a CUDA version like 12.8")
    return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0


def parse_capability(text: str, what: str) -> Capability:
    """A compute capability as ``9.0``, ``90``, ``sm_90``, ``compute_90`` or ``120``."""
    raw = text.strip().lower().removeprefix("sm_").removeprefix("compute_")
    raw = raw.removesuffix("_real").removesuffix("_virtual")
    if "." in raw:
        major, _, minor = raw.partition(".")
    else:
        major, minor = raw[:-1], raw[-1:]
    if not (major.isdigit() and minor.isdigit() and len(minor) == 1):
        raise ValueError(f"{what}: {text!r} is not a compute capability like 9.0 or sm_90")
    return int(major), int(minor)


@cache
def cuda_table() -> CudaTable:
    """The table in ``data/cuda.toml`` (read once)."""
    raw = tomllib.loads((Path(__file__).parent / "data" / "cuda.toml").read_text("utf-8"))
    catalog = raw["catalog"]
    versions: list[tuple[str, Capability]] = []
    for major in catalog["cuda_majors"]:
        versions += [
            (f"{major}.{minor}", (major, minor)) for minor in range(catalog["cuda_minors"], -1, -1)
        ]
        versions.append((str(major), (major, 0)))
    sm: list[tuple[str, Capability, bool]] = []
    for real in (True, False):
        suffix = "real" if real else "virtual"
        for major in catalog["sm_majors"]:
            sm += [
                (f"{major}{minor}_{suffix}", (major, minor), real)
                for minor in range(catalog["sm_minors"], -1, -1)
            ]
    names = {int(k): v for k, v in raw["architectures"].items()}
    return CudaTable(tuple(versions), tuple(sm), names)
