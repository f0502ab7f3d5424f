"""The ``aarch64`` provider's hooks (entry point ``wheelnext.providers``: ``aarch64``).

Sources, first that answers: the override ``WHEELNEXT_AARCH64_PIN``; ``/proc/cpuinfo``
(the kernel's hwcaps; under ``sysroot`` for recorded machines); archspec's raw flags
elsewhere. ``spec/namespaces/aarch64.md`` is the registry of every value.
"""

from __future__ import annotations

import platform
import sys

from wheelnext.core.cpuinfo import read_cpuinfo
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
from wheelnext.providers.arm.table import arch_table

NAMESPACE = "aarch64"
PIN_VARIABLE = "WHEELNEXT_AARCH64_PIN"
MACHINES = frozenset({"aarch64", "arm64"})


@hookimpl
def wheelnext_provider() -> ProviderDescription:
    table = arch_table()
    return ProviderDescription(
        NAMESPACE,
        "Arm A-profile architecture version (8a … 9.4a) and ISA extensions (hwcaps)",
        (
            FeatureDeclaration(
                "version", table.version_values, description="Arm architecture version"
            ),
            *(FeatureDeclaration(name, ("on",)) for name in table.features),
        ),
    )


def read_hwcaps(context: DetectContext) -> frozenset[str] | Absent:
    """This machine's hwcaps (or the recorded one's under ``sysroot``), or why there are none."""
    table = arch_table()
    pinned = context.tokens(PIN_VARIABLE)
    if pinned == ["none"]:
        return Absent(f"{PIN_VARIABLE}=none")
    if pinned:
        return table.pinned(pinned, PIN_VARIABLE)
    if context.live:
        machine = platform.machine().lower()
        if machine not in MACHINES:
            return Absent(f"machine is {machine or 'unknown'}, not AArch64")
    fields = read_cpuinfo(context)
    if fields is not None:
        if "features" not in fields or "cpu implementer" not in fields:
            return Absent("not an AArch64 CPU (no Features/CPU implementer in /proc/cpuinfo)")
        return frozenset(fields["features"].split())
    if not context.live:
        return Absent(f"no {context.path('/proc/cpuinfo')}")
    try:
        from archspec.cpu.detect import detected_info
    except ImportError:
        raise ProviderError("cannot read CPU features: no /proc/cpuinfo and no archspec") from None
    return frozenset(detected_info().features)


@hookimpl
def wheelnext_detect(context: DetectContext) -> list[DetectedFeature] | Absent:
    hwcaps = read_hwcaps(context)
    if isinstance(hwcaps, Absent):
        return hwcaps
    return arch_table().detected(hwcaps)


@hookimpl
def wheelnext_describe(prop: VariantProperty) -> str | None:
    table = arch_table()
    if prop.feature == "version":
        if prop.value not in table.version_values:
            return None
        included = ", ".join(v for v in table.closure(prop.value)[1:]) or "nothing older"
        return f"Armv{prop.value[:-1]}-A (-march=armv{prop.value[:-1]}-a); includes {included}"
    if prop.feature in table.features and prop.value == "on":
        return f"the kernel reports hwcap {prop.feature!r} (Linux elf_hwcaps)"
    return None


plugin_api = as_plugin_api(sys.modules[__name__])
