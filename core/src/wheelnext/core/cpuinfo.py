"""Linux ``/proc/cpuinfo``: the kernel's view of the CPU, read through ``DetectContext``.

The kernel lists only features that both the CPU and the running kernel support (it
clears, e.g., AVX-512 flags when it does not enable their register state), so CPU
providers use it as their Linux source and tests feed it recorded dumps via ``sysroot``.
"""

from __future__ import annotations

from wheelnext.core.providers import DetectContext


def first_processor(text: str) -> dict[str, str]:
    """The ``key : value`` lines of the first processor block of a cpuinfo dump.

    Keys are lower-cased with inner whitespace collapsed (``CPU part`` → ``cpu part``);
    every processor of a machine reports the same ISA, so the first block is enough.
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(" ".join(key.lower().split()), value.strip())
    return fields


def read_cpuinfo(context: DetectContext) -> dict[str, str] | None:
    """The first processor block of ``/proc/cpuinfo`` under the context's root, or None."""
    try:
        with context.path("/proc/cpuinfo").open(encoding="utf-8", errors="replace") as f:
            # the first block ends at the first blank line: avoid reading 256 cores' worth
            head = ""
            for line in f:
                head += line
                if not line.strip() and head.strip():
                    break
    except OSError:
        return None
    return first_processor(head) or None
