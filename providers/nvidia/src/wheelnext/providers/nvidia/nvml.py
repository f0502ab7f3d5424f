"""Reading the driver and GPUs through NVML (``nvidia-ml-py``, import name ``pynvml``).

``pynvml`` loads ``libnvidia-ml`` itself (``pynvml.nvmlLib``); that library is the only
thing tests replace, with recorded answers, so everything above it runs as on a GPU box.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from types import ModuleType

from wheelnext.core.providers import Absent
from wheelnext.providers.nvidia.table import Capability


@dataclass(frozen=True, slots=True)
class Gpu:
    """One GPU as NVML enumerates it (PCI bus order)."""

    index: int
    name: str
    uuid: str
    capability: Capability


@dataclass(frozen=True, slots=True)
class NvmlReading:
    """What the driver reports: its version, its CUDA version, and every GPU."""

    driver: str
    cuda: Capability
    gpus: tuple[Gpu, ...]
    skipped: tuple[str, ...] = ()  # GPUs NVML could not describe, with why


def load_nvml() -> ModuleType | None:
    """The ``pynvml`` module of ``nvidia-ml-py``, or None when it is not installed."""
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml  # type: ignore[no-any-return]


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def read_nvml(nvml: ModuleType) -> NvmlReading | Absent:
    """Ask NVML for the driver's CUDA version and each GPU's compute capability.

    Any NVML failure (no library, driver not loaded, version mismatch, no permission)
    is an ``Absent`` carrying NVML's own message: never an exception, never a retry.
    """
    error = nvml.NVMLError
    try:
        nvml.nvmlInit()
    except error as exc:
        return Absent(f"NVML unavailable: {exc}")
    try:
        try:
            cuda = nvml.nvmlSystemGetCudaDriverVersion_v2()
        except error:
            cuda = nvml.nvmlSystemGetCudaDriverVersion()
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        gpus, skipped = [], []
        for index in range(nvml.nvmlDeviceGetCount()):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
                uuid = _text(nvml.nvmlDeviceGetUUID(handle))
                name = _text(nvml.nvmlDeviceGetName(handle))
            except error as exc:  # e.g. GPU is lost: it runs nothing, leave it out
                skipped.append(f"GPU {index}: {exc}")
                continue
            gpus.append(Gpu(index, name, uuid, (int(major), int(minor))))
    except error as exc:
        return Absent(f"NVML query failed: {exc}")
    finally:
        with contextlib.suppress(error):
            nvml.nvmlShutdown()
    # 12080 means CUDA 12.8 (NVML encodes major * 1000 + minor * 10)
    return NvmlReading(driver, (cuda // 1000, cuda % 1000 // 10), tuple(gpus), tuple(skipped))


def visible(gpus: tuple[Gpu, ...], cuda_visible_devices: str | None) -> tuple[Gpu, ...]:
    """The GPUs a CUDA program would see under ``CUDA_VISIBLE_DEVICES``.

    As CUDA does: unset means all; entries are indices or (prefixes of) ``GPU-`` UUIDs;
    the list ends at the first entry that names no GPU or repeats one. Indices count in
    PCI bus order, NVML's order (CUDA's with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``). ``MIG-``
    entries name MIG slices, not GPUs; with any present, every GPU is kept.
    """
    if cuda_visible_devices is None:
        return gpus
    entries = [e.strip() for e in cuda_visible_devices.split(",")]
    if any(e.startswith("MIG-") for e in entries):
        return gpus
    chosen: list[Gpu] = []
    for entry in entries:
        if entry.isdigit() or (entry.startswith("-") and entry[1:].isdigit()):
            found = [g for g in gpus if g.index == int(entry)]
        elif entry.startswith("GPU-"):
            found = [g for g in gpus if g.uuid.startswith(entry)]
        else:
            found = []
        if len(found) != 1 or found[0] in chosen:
            break
        chosen.append(found[0])
    return tuple(chosen)
