"""The kernel's KFD topology (``/sys/class/kfd/kfd/topology/nodes/*/properties``).

The amdgpu driver publishes one node per CPU socket and per GPU; a GPU node's
``gfx_target_version`` names its ISA. No ROCm user space or AMD library is needed, so
this reads the same in containers that mount ``/sys`` and in recorded trees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wheelnext.core.providers import DetectContext

TOPOLOGY = "/sys/class/kfd/kfd/topology/nodes"
AMD_VENDOR_ID = 0x1002


@dataclass(frozen=True, slots=True)
class GpuNode:
    """One GPU node: its KFD node number, ISA, size and identity."""

    node: int
    gfx: str
    simd_count: int
    unique_id: int


def parse_properties(text: str) -> dict[str, int]:
    """``key value`` lines (all values are integers in KFD); malformed lines are skipped."""
    properties = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and value.strip().isdigit():
            properties[key] = int(value)
    return properties


def gfx_name(version: int) -> str:
    """``gfx_target_version`` → target name: 90010 → gfx90a, 110501 → gfx1151."""
    major, minor, stepping = version // 10000, version // 100 % 100, version % 100
    return f"gfx{major}{minor}{stepping:x}"


def gpu_nodes(context: DetectContext) -> list[GpuNode] | None:
    """Every AMD GPU node in node order, or None when there is no KFD topology at all."""
    root = context.path(TOPOLOGY)
    if not root.is_dir():
        return None
    nodes = []
    for directory in sorted(root.iterdir(), key=_node_number):
        try:
            properties = parse_properties((directory / "properties").read_text())
        except (OSError, ValueError):  # cgroup-masked nodes answer EPERM: not ours to use
            continue
        version = properties.get("gfx_target_version", 0)
        if version == 0 or properties.get("vendor_id", AMD_VENDOR_ID) != AMD_VENDOR_ID:
            continue  # CPU nodes report 0; other vendors' nodes are not AMD GPUs
        nodes.append(
            GpuNode(
                _node_number(directory),
                gfx_name(version),
                properties.get("simd_count", 0),
                properties.get("unique_id", 0),
            )
        )
    return nodes


def _node_number(path: Path) -> int:
    return int(path.name) if path.name.isdigit() else 1 << 30


def visible(nodes: list[GpuNode], environ: dict[str, str]) -> list[GpuNode]:
    """The GPUs ROCm programs see: ``ROCR_VISIBLE_DEVICES``, then ``HIP_VISIBLE_DEVICES``
    (or ``CUDA_VISIBLE_DEVICES``, which HIP also reads), each a list of indices or
    ``GPU-<unique_id in hex>`` ending at the first entry that names no GPU."""
    for variable in ("ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"):
        value = environ.get(variable)
        if variable == "HIP_VISIBLE_DEVICES" and value is None:
            value = environ.get("CUDA_VISIBLE_DEVICES")
        if value is None:
            continue
        chosen: list[GpuNode] = []
        for entry in (e.strip() for e in value.split(",")):
            if entry.isdigit() and int(entry) < len(nodes):
                found = nodes[int(entry)]
            elif entry.startswith("GPU-"):
                matches = [n for n in nodes if f"{n.unique_id:016x}" == entry[4:].lower()]
                if len(matches) != 1:
                    break
                found = matches[0]
            else:
                break
            if found in chosen:
                break
            chosen.append(found)
        nodes = chosen
    return nodes


def rocm_version(context: DetectContext) -> tuple[int, int] | None:
    """The ROCm install's version from ``$ROCM_PATH/.info/version`` (``/opt/rocm`` by default)."""
    base = context.environ.get("ROCM_PATH") or "/opt/rocm"
    try:
        text = context.path(f"{base}/.info/version").read_text().strip()
    except OSError:
        return None
    parts = text.split("-")[0].split(".")
    if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[0]), int(parts[1])
