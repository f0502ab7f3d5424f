"""Start-to-finish cost of ``wn-detect --json`` against ``python -c pass``.

Detection runs at the start of every install, so it must cost far less than the
installer's own start (``pip --version`` is shown for scale). Each command runs as a fresh
process from the same interpreter, best of N wall time; the x86 provider's detection call
alone is measured in-process. ``wn-detect`` is timed twice: as users run it (the
detection cache answers) and with ``--no-cache`` (every provider in its own process).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 15
BIN = Path(sys.executable).parent


def best_of(command: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def detection_only() -> float:
    from wheelnext.core.providers import DetectContext
    from wheelnext.providers.x86 import plugin

    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        plugin.wheelnext_detect(DetectContext())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    bare = best_of([sys.executable, "-c", "pass"])
    detect = best_of([str(BIN / "wn-detect"), "--json"])  # warm: the detection cache answers
    cold = best_of([str(BIN / "wn-detect"), "--json", "--no-cache"])  # every provider runs
    pip = best_of([sys.executable, "-m", "pip", "--version"])
    print(f"python -c pass        {bare * 1e3:7.1f} ms   1.00x")
    print(f"wn-detect --json      {detect * 1e3:7.1f} ms   {detect / bare:.2f}x")
    print(f"  of which extra      {(detect - bare) * 1e3:7.1f} ms")
    print(f"wn-detect --no-cache  {cold * 1e3:7.1f} ms   {cold / bare:.2f}x (providers isolated)")
    print(f"pip --version         {pip * 1e3:7.1f} ms   {pip / bare:.2f}x (an install's floor)")
    print(f"x86_64 detection call {detection_only() * 1e3:7.2f} ms (in-process, median)")


if __name__ == "__main__":
    main()
