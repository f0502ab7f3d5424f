"""The ``nvidia`` provider's hooks (entry point ``wheelnext.providers``: ``nvidia``).

Readings come from NVML, or from the overrides (``WHEELNEXT_NVIDIA_CUDA_DRIVER``,
``WHEELNEXT_NVIDIA_SM``, or the public provider's ``NV_VARIANT_PROVIDER_FORCE_*``);
``table.py`` turns them into values. ``spec/namespaces/nvidia.md`` is the registry.
"""

from __future__ import annotations

import sys

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
    split_tokens,
)
from wheelnext.providers.nvidia import nvml
from wheelnext.providers.nvidia.table import (
    Capability,
    cuda_table,
    parse_capability,
    parse_cuda_version,
)

NAMESPACE = "nvidia"
CUDA_OVERRIDES = ("WHEELNEXT_NVIDIA_CUDA_DRIVER", "NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION")
SM_OVERRIDES = ("WHEELNEXT_NVIDIA_SM", "NV_VARIANT_PROVIDER_FORCE_SM_ARCH")


@hookimpl
def wheelnext_provider() -> ProviderDescription:
    table = cuda_table()
    versions = tuple(name for name, _ in table.cuda_versions)
    return ProviderDescription(
        NAMESPACE,
        "NVIDIA driver CUDA capability and GPU SM architectures",
        (
            FeatureDeclaration("cuda_version_lower_bound", versions),
            FeatureDeclaration("cuda_version_upper_bound", versions),
            FeatureDeclaration(
                "sm_arch", tuple(name for name, _, _ in table.sm_values), multi_value=True
            ),
        ),
    )


def readings(context: DetectContext) -> tuple[Capability | None, list[Capability]] | Absent:
    """(driver CUDA version, capabilities of the visible GPUs), or why there are none."""
    try:
        cuda_pin = context.setting(*CUDA_OVERRIDES)
        sm_pin = context.setting(*SM_OVERRIDES)
        cuda = parse_cuda_version(cuda_pin[1], cuda_pin[0]) if cuda_pin else None
        caps = [parse_capability(c, sm_pin[0]) for c in split_tokens(sm_pin[1])] if sm_pin else None
    except ValueError as exc:
        raise ProviderError(str(exc)) from None
    if cuda is not None and caps is not None:
        return cuda, caps
    if not context.live:
        return Absent("NVML reads the live driver only; nothing recorded under the sysroot")
    module = nvml.load_nvml()
    if module is None:
        if cuda is not None or caps is not None:
            return cuda, caps or []
        return Absent("nvidia-ml-py (pynvml) is not installed")
    reading = nvml.read_nvml(module)
    if isinstance(reading, Absent):
        return (cuda, caps or []) if cuda is not None or caps is not None else reading
    if caps is None:
        shown = nvml.visible(reading.gpus, context.environ.get("CUDA_VISIBLE_DEVICES"))
        if not shown:
            if not reading.gpus:
                return Absent(f"NVML reports no usable GPU (driver {reading.driver})")
            return Absent(
                f"CUDA_VISIBLE_DEVICES={context.environ.get('CUDA_VISIBLE_DEVICES')!r} "
                "hides every GPU"
            )
        caps = [gpu.capability for gpu in shown]
    return (cuda or reading.cuda), caps


@hookimpl
def wheelnext_detect(context: DetectContext) -> list[DetectedFeature] | Absent:
    found = readings(context)
    if isinstance(found, Absent):
        return found
    cuda, caps = found
    table = cuda_table()
    answer = []
    if cuda is not None:
        answer.append(DetectedFeature("cuda_version_lower_bound", table.lower_bounds(cuda)))
        answer.append(DetectedFeature("cuda_version_upper_bound", table.upper_bounds(cuda)))
    answer.append(DetectedFeature("sm_arch", table.sm_for(caps)))
    return [feature for feature in answer if feature.values]


@hookimpl
def wheelnext_describe(prop: VariantProperty) -> str | None:
    table = cuda_table()
    if prop.feature in {"cuda_version_lower_bound", "cuda_version_upper_bound"}:
        version = dict(table.cuda_versions).get(prop.value)
        if version is None:
            return None
        if prop.feature == "cuda_version_lower_bound":
            return f"the driver supports CUDA {prop.value} or newer"
        return f"the driver's CUDA version is below {prop.value}"
    sm = {name: (value, real) for name, value, real in table.sm_values}.get(prop.value)
    if prop.feature != "sm_arch" or sm is None:
        return None
    (major, minor), real = sm
    arch = table.architectures.get(major, "")
    if real:
        return (
            f"native code (SASS) for compute capability {major}.{minor} ({arch}); "
            f"runs on {major}.x GPUs with minor >= {minor}"
        )
    return f"PTX for compute_{major}{minor} ({arch}), JIT-compiled on any GPU >= {major}.{minor}"


plugin_api = as_plugin_api(sys.modules[__name__])
