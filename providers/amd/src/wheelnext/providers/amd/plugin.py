"""The ``amd`` provider's hooks (entry point ``wheelnext.providers``: ``amd``).

Readings come from the kernel's KFD topology and the ROCm install's version file, or
from the overrides (``WHEELNEXT_AMD_GFX_ARCH``, ``WHEELNEXT_AMD_ROCM_VERSION``, or the
public provider's ``AMD_VARIANT_PROVIDER_FORCE_*``). ``spec/namespaces/amd.md`` is the
registry of every value.
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
from wheelnext.providers.amd import kfd
from wheelnext.providers.amd.table import amd_table

NAMESPACE = "amd"
GFX_OVERRIDES = ("WHEELNEXT_AMD_GFX_ARCH", "AMD_VARIANT_PROVIDER_FORCE_GFX_ARCH")
ROCM_OVERRIDES = ("WHEELNEXT_AMD_ROCM_VERSION", "AMD_VARIANT_PROVIDER_FORCE_ROCM_VERSION")


@hookimpl
def wheelnext_provider() -> ProviderDescription:
    table = amd_table()
    return ProviderDescription(
        NAMESPACE,
        "AMD GPU gfx architectures (KFD topology) and the installed ROCm release",
        (
            FeatureDeclaration("gfx_arch", table.gfx_targets, multi_value=True),
            FeatureDeclaration("rocm_version", table.rocm_versions),
        ),
    )


def _rocm(text: str, variable: str) -> str:
    parts = text.split(".")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ProviderError(f"{variable}: {text!r} is not a ROCm version like 6.4 or 6.4.1")
    return f"{int(parts[0])}.{int(parts[1])}"


def _hsa_override(context: DetectContext) -> str | None:
    """``HSA_OVERRIDE_GFX_VERSION=11.0.0`` makes ROCm treat every GPU as gfx1100."""
    value = context.environ.get("HSA_OVERRIDE_GFX_VERSION", "").strip()
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ProviderError(f"HSA_OVERRIDE_GFX_VERSION: {value!r} is not like 11.0.0")
    major, minor, stepping = (int(p) for p in parts)
    return kfd.gfx_name(major * 10000 + minor * 100 + stepping)


def readings(context: DetectContext) -> tuple[list[str], str | None] | Absent:
    """(gfx targets of the visible GPUs, most compute first; ROCm major.minor), or why not."""
    gfx_pin = context.setting(*GFX_OVERRIDES)
    rocm_pin = context.setting(*ROCM_OVERRIDES)
    rocm = _rocm(rocm_pin[1], rocm_pin[0]) if rocm_pin else None
    if gfx_pin:
        targets = [t.lower() for t in split_tokens(gfx_pin[1])]
    else:
        nodes = kfd.gpu_nodes(context)
        if nodes is None:
            if rocm is not None:
                return [], rocm
            return Absent(f"no AMD GPU driver: {kfd.TOPOLOGY} does not exist")
        if not nodes:
            return Absent("the KFD topology lists no AMD GPU")
        shown = kfd.visible(nodes, dict(context.environ))
        if not shown:
            return Absent("ROCR_VISIBLE_DEVICES/HIP_VISIBLE_DEVICES hide every GPU")
        forced = _hsa_override(context)
        # the biggest device first: that is where the work runs (dGPU before iGPU)
        shown = sorted(shown, key=lambda n: -n.simd_count)
        targets = [forced or node.gfx for node in shown]
    if rocm is None:
        found = kfd.rocm_version(context)
        rocm = f"{found[0]}.{found[1]}" if found else None
    return list(dict.fromkeys(targets)), rocm


@hookimpl
def wheelnext_detect(context: DetectContext) -> list[DetectedFeature] | Absent:
    found = readings(context)
    if isinstance(found, Absent):
        return found
    targets, rocm = found
    table = amd_table()
    known = tuple(t for t in targets if t in table.gfx_targets)
    answer = []
    if known:
        answer.append(DetectedFeature("gfx_arch", known))
    if rocm in table.rocm_versions:
        answer.append(DetectedFeature("rocm_version", (rocm,)))
    if not answer:
        unknown = ", ".join(targets) or "none"
        return Absent(f"no gfx target this provider version knows (found: {unknown})")
    return answer


@hookimpl
def wheelnext_describe(prop: VariantProperty) -> str | None:
    table = amd_table()
    if prop.feature == "gfx_arch" and prop.value in table.gfx_targets:
        return (
            f"code objects for the {prop.value} ISA (LLVM AMDGPU target); runs only on {prop.value}"
        )
    if prop.feature == "rocm_version" and prop.value in table.rocm_versions:
        return f"the system ROCm install is release {prop.value}"
    return None


plugin_api = as_plugin_api(sys.modules[__name__])
