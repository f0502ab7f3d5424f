"""The catalogue of ``data/rocm.toml``: declared gfx targets and ROCm releases."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True, slots=True)
class AmdTable:
    gfx_targets: tuple[str, ...]
    rocm_versions: tuple[str, ...]


@cache
def amd_table() -> AmdTable:
    """The table in ``data/rocm.toml`` (read once)."""
    raw = tomllib.loads((Path(__file__).parent / "data" / "rocm.toml").read_text("utf-8"))
    return AmdTable(tuple(raw["gfx"]["targets"]), tuple(raw["rocm"]["versions"]))
