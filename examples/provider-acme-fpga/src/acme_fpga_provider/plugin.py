"""The ``acme_fpga`` provider: fabric generation and DSP modes of the installed boards.

Reads ``/sys/class/acme_fpga/board*/{generation,dsp_modes}`` through ``context.path`` (so
recorded trees work under ``--sysroot``); ``ACME_FPGA_FORCE`` pins the answer
(``gen3``, ``gen3:fp16+int8``, or ``none``).
"""

from __future__ import annotations

import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from wheelnext.core.errors import ProviderError
from wheelnext.core.hookspecs import hookimpl
from wheelnext.core.plugin_api import as_plugin_api
from wheelnext.core.properties import VariantProperty
from wheelnext.core.providers import (
    Absent,
    DetectContext,
    DetectedFeature,
    FeatureDeclaration,
    ProviderDescription,
)

NAMESPACE = "acme_fpga"
FORCE = "ACME_FPGA_FORCE"
BOARDS = "/sys/class/acme_fpga"


@cache
def table() -> dict[str, Any]:
    """``data/boards.toml``, read once."""
    return tomllib.loads((Path(__file__).parent / "data" / "boards.toml").read_text("utf-8"))


@hookimpl
def wheelnext_provider() -> ProviderDescription:
    return ProviderDescription(
        NAMESPACE,
        "Acme FPGA fabric generation and DSP modes",
        (
            FeatureDeclaration("fabric", tuple(table()["generations"]), multi_value=True),
            FeatureDeclaration("dsp", tuple(table()["dsp_modes"]), multi_value=True),
        ),
    )


def read_boards(context: DetectContext) -> list[tuple[str, set[str]]] | Absent:
    """(generation, DSP modes) of every board, from the override or sysfs."""
    forced = context.environ.get(FORCE, "").strip()
    if forced == "none":
        return Absent(f"{FORCE}=none")
    if forced:
        generation, _, modes = forced.partition(":")
        return [(generation, set(modes.split("+")) if modes else {"int8"})]
    root = context.path(BOARDS)
    boards = sorted(root.glob("board*")) if root.is_dir() else []
    if not boards:
        return Absent(f"no Acme FPGA board ({BOARDS} is empty or missing)")
    return [
        (
            (board / "generation").read_text().strip(),
            set((board / "dsp_modes").read_text().split()),
        )
        for board in boards
    ]


@hookimpl
def wheelnext_detect(context: DetectContext) -> list[DetectedFeature] | Absent:
    boards = read_boards(context)
    if isinstance(boards, Absent):
        return boards
    generations: list[str] = table()["generations"]
    unknown = [g for g, _ in boards if g not in generations]
    if unknown:
        raise ProviderError(f"unknown fabric generation {unknown[0]!r} (known: {generations})")
    # a bitstream must load on every board: the oldest board decides
    oldest = max(generations.index(g) for g, _ in boards)
    modes = set.intersection(*(m for _, m in boards))
    return [
        DetectedFeature("fabric", tuple(generations[oldest:])),
        DetectedFeature("dsp", tuple(m for m in table()["dsp_modes"] if m in modes)),
    ]


@hookimpl
def wheelnext_describe(prop: VariantProperty) -> str | None:
    if prop.feature == "fabric":
        return f"a bitstream for fabric {prop.value}; loads on {prop.value} boards and newer"
    if prop.feature == "dsp":
        return f"the bitstream uses {prop.value} DSP blocks"
    return None


plugin_api = as_plugin_api(sys.modules[__name__])
