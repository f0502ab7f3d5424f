"""Start-to-finish cost of ``wn-detect --json`` against ``python -c pass``.

Detection runs at the start of every install, so it must cost far less than the
installer's own start (``pip --version`` is shown for scale). Each command runs as a fresh
process from the same interpreter, the commands interleaved round by round (so a busy
spell of the machine hits all of them alike); the best wall time of each is reported,
with its CPU time (user + system of the child, which other load disturbs less). The x86
provider's detection call alone is measured in-process. ``wn-detect`` is timed three
ways: as users run it (the detection cache answers), ``--profile-url`` (the same, printed
as a token) and ``--no-cache`` (every provider in its own process).

    .venv/bin/python bench/detect.py [--runs 21]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run_once(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def detection_only(runs: int) -> float:
    from wheelnext.core.providers import DetectContext
    from wheelnext.providers.x86 import plugin

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        plugin.wheelnext_detect(DetectContext())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="rounds (default 21)")
    runs = parser.parse_args().runs
    detect = str(BIN / "wn-detect")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "wn-detect --json": [detect, "--json"],  # warm: the detection cache answers
        "wn-detect --profile-url": [detect, "--profile-url"],
        "wn-detect --no-cache": [detect, "--json", "--no-cache"],  # every provider runs
        "pip --version": [sys.executable, "-m", "pip", "--version"],
    }
    for command in commands.values():  # warm the cache and the file system, untimed
        run_once(command)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            wall, cpu = run_once(command)
            walls[name].append(wall)
            cpus[name].append(cpu)
    bare_wall, bare_cpu = min(walls["python -c pass"]), min(cpus["python -c pass"])
    print(f"best of {runs} interleaved runs    wall  ratio      cpu  ratio   median wall")
    for name in commands:
        wall, cpu = min(walls[name]), min(cpus[name])
        print(
            f"{name:26s} {wall * 1e3:7.1f} ms {wall / bare_wall:5.2f}x "
            f"{cpu * 1e3:7.1f} ms {cpu / bare_cpu:5.2f}x "
            f"{statistics.median(walls[name]) * 1e3:8.1f} ms"
        )
    extra = min(walls["wn-detect --json"]) - bare_wall
    print(f"wn-detect --json over the interpreter: {extra * 1e3:.1f} ms (wall)")
    print(f"x86_64 detection call {detection_only(runs) * 1e3:7.2f} ms (in-process, median)")


if __name__ == "__main__":
    main()
