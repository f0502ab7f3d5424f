"""The ``x86_64`` provider's hooks (entry point ``wheelnext.providers``: ``x86_64``).

Sources, first that answers: the override ``WHEELNEXT_X86_64_PIN``; a recorded
``/proc/cpuinfo`` when ``sysroot`` is not ``/``; CPUID with XGETBV (the ``cpuid``
package), corrected by the live kernel's flags where Linux shows them; the live
``/proc/cpuinfo``; archspec's raw flags. ``spec/namespaces/x86_64.md``
is the registry of every value.
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
from wheelnext.providers.x86 import sources
from wheelnext.providers.x86.table import REGISTERS, isa_table

NAMESPACE = "x86_64"
PIN_VARIABLE = "WHEELNEXT_X86_64_PIN"
MACHINES = frozenset({"x86_64", "amd64", "x64"})


@hookimpl
def wheelnext_provider() -> ProviderDescription:
    table = isa_table()
    return ProviderDescription(
        NAMESPACE,
        "x86-64 micro-architecture level (psABI v1-v4) and ISA extensions",
        (
            FeatureDeclaration("level", table.level_values, description="x86-64 psABI level"),
            *(FeatureDeclaration(name, ("on",)) for name in table.features),
        ),
    )


def read_flags(context: DetectContext) -> frozenset[str] | Absent:
    """This machine's flags (or the recorded one's under ``sysroot``), or why there are none."""
    table = isa_table()
    pinned = context.tokens(PIN_VARIABLE)
    if pinned == ["none"]:
        return Absent(f"{PIN_VARIABLE}=none")
    if pinned:
        return table.pinned(pinned, PIN_VARIABLE)
    if not context.live:
        fields = read_cpuinfo(context)
        if fields is None:
            return Absent(f"no {context.path('/proc/cpuinfo')}")
        if "flags" not in fields or "vendor_id" not in fields:
            return Absent("not an x86-64 CPU (no vendor_id/flags in /proc/cpuinfo)")
        return table.from_names(fields["flags"].split())
    machine = platform.machine().lower()
    if machine not in MACHINES:
        return Absent(f"machine is {machine or 'unknown'}, not x86-64")
    fields = read_cpuinfo(context)
    kernel = fields["flags"].split() if fields is not None and "flags" in fields else None
    backend = sources.load_cpuid()
    if backend is not None:
        flags = sources.cpuid_flags(backend, table)
        return flags if kernel is None else table.kernel_veto(flags, kernel)
    if kernel is not None:
        return table.from_names(kernel)
    from_archspec = sources.archspec_flags(table)
    if from_archspec is None:
        raise ProviderError("cannot read CPU flags: neither 'cpuid' nor 'archspec' is installed")
    return from_archspec


@hookimpl
def wheelnext_detect(context: DetectContext) -> list[DetectedFeature] | Absent:
    flags = read_flags(context)
    if isinstance(flags, Absent):
        return flags
    return isa_table().detected(flags)


@hookimpl
def wheelnext_describe(prop: VariantProperty) -> str | None:
    table = isa_table()
    if prop.feature == "level":
        required = dict(table.levels).get(prop.value)
        if required is None:
            return None
        return f"x86-64-{prop.value} (psABI level): needs {', '.join(sorted(required))}"
    flag = next((f for f in table.flags if f.name == prop.feature and f.feature), None)
    if flag is None or prop.value != "on":
        return None
    where = "reported by the Linux kernel only"
    if flag.cpuid is not None:
        bit = flag.cpuid
        reg = REGISTERS[bit.register].upper()
        where = f"CPUID.(EAX={bit.leaf:#x},ECX={bit.subleaf}):{reg}[{bit.bit}]"
    state = f", OS must enable {flag.state.upper()} state" if flag.state else ""
    return f"the CPU supports {flag.name} ({where}{state})"


plugin_api = as_plugin_api(sys.modules[__name__])
