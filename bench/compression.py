"""Install the PyTorch 2.13.0 CPU wheel (12,248 members) from a local file: ``wn install``
against ``pip install --no-deps --no-compile --target`` and ``uv pip install --no-deps
--target``; wall time and peak RSS, interleaved runs, medians, ratios wn / peer.

The wheel comes from ``pip download torch==2.13.0 --no-deps`` into ``bench/.cache`` (on
this machine pip's configuration finds it in a local folder; uv cannot download it, so
every tool is given the local file's path). Each run is a fresh process into an empty
target; peak RSS is the ``ru_maxrss`` ``wait4`` reports for that process and every
descendant it waited for. uv runs with ``--no-cache`` (a fresh temporary cache: it unpacks
the wheel every run, as the others do).

``--zstd 3,10,19`` adds the older comparison: each wheel of ``--only``/the list rewritten
with ``wn wheel recompress --zstd`` at those levels, size and wn's in-process check and
install time against the published (DEFLATE) wheel.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))


CACHE = Path(__file__).parent / ".cache"
WHEELS = {
    "torch==2.13.0": "torch-2.13.0*.whl",
    "numpy==2.2.6": "numpy-2.2.6-*.whl",
    "nvidia-nvjitlink-cu12==12.4.127": "nvidia_nvjitlink_cu12-12.4.127-*.whl",
}


def fetch(requirement: str, pattern: str) -> Path:
    found = sorted(CACHE.glob(pattern))
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary",
                ":all:",
                "-d",
                str(CACHE),
                requirement,
            ],
            check=True,
        )
        found = sorted(CACHE.glob(pattern))
    return found[0]


def install_time(wheel: Path, work: Path, runs: int) -> float:
    """Best time for wn's path: every archive check, then the transactional install."""
    from wheelnext.installer.archive import check_archive
    from wheelnext.installer.target import probe
    from wheelnext.installer.transaction import transaction

    times = []
    for _ in range(runs):
        target_dir = work / "target"
        shutil.rmtree(target_dir, ignore_errors=True)
        start = time.perf_counter()
        info = check_archive(wheel)
        with transaction(probe(None, target_dir)) as tx:
            tx.install(wheel, info)
        times.append(time.perf_counter() - start)
    shutil.rmtree(work / "target", ignore_errors=True)
    return min(times)


def pip_install(wheel: Path, target: Path) -> list[str]:
    """pip installing ``wheel`` alone into ``target``, offline, compiling nothing."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-index",
        "--no-compile",
        "--disable-pip-version-check",
        "-q",
        "--target",
        str(target),
        str(wheel),
    ]


def pip_time(wheel: Path, work: Path, runs: int) -> float:
    times = []
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    for _ in range(runs):
        target_dir = work / "pip"
        shutil.rmtree(target_dir, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run(pip_install(wheel, target_dir), check=True, env=env)
        times.append(time.perf_counter() - start)
    shutil.rmtree(work / "pip", ignore_errors=True)
    return min(times)


BIN = Path(sys.executable).parent
ENV = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "UV_NO_CONFIG": "1"}


def measured(command: list[str]) -> tuple[float, int]:
    """Run ``command``; its wall time and the peak RSS (bytes) of its process tree."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        child = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)
        took = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            errors.seek(0)
            tail = errors.read().decode(errors="replace")[-2000:]
            sys.exit(f"{command[0]} failed ({child.returncode}): {tail}")
    return took, usage.ru_maxrss * 1024


def install_commands(wheel: Path) -> dict[str, Callable[[Path], list[str]]]:
    return {
        "wn": lambda target: [
            str(BIN / "wn"),
            "install",
            str(wheel),
            "--no-deps",
            "--no-index",
            "--no-cache",
            "--target",
            str(target),
            "-q",
        ],
        "pip": lambda target: pip_install(wheel, target),
        "uv": lambda target: [
            str(BIN / "uv"),
            "pip",
            "install",
            "--no-deps",
            "--no-cache",
            "--python",
            sys.executable,
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
    }


def members(target: Path) -> int:
    return sum(1 for p in target.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def compare_installers(wheel: Path, runs: int) -> None:
    """wn, pip and uv installing ``wheel``, interleaved; medians and ratios."""
    tools = install_commands(wheel)
    results: dict[str, list[tuple[float, int]]] = {tool: [] for tool in tools}
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        for run in range(runs):
            order = list(tools.items())
            order = order[run % len(order) :] + order[: run % len(order)]
            for tool, command in order:
                target = Path(tmp) / f"{tool}{run}"
                results[tool].append(measured(command(target)))
                counts[tool] = members(target)
                # kept until the end: a deletion makes the next run's file creations
                # slower on this machine's ext4 (see install.py's docstring)
    print(f"{wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB; files installed: {counts}")
    print(f"{platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"medians of {runs} interleaved runs")
    print("| tool | time | peak RSS | time wn / tool | RSS wn / tool |")
    print("|---|---:|---:|---:|---:|")
    median = {
        tool: (
            statistics.median(t for t, _ in values),
            statistics.median(r for _, r in values),
        )
        for tool, values in results.items()
    }
    wn_time, wn_rss = median["wn"]
    for tool, (took, rss) in median.items():
        print(
            f"| {tool} | {took:.2f} s | {rss / 2**20:.0f} MiB | {wn_time / took:.2f} "
            f"| {wn_rss / rss:.2f} |"
        )


def compare_zstd(args: argparse.Namespace) -> None:
    """The older zstd-vs-DEFLATE table (sizes, recompress time, wn's install time)."""
    from wheelnext.installer.recompress import recompress

    levels = [int(x) for x in args.zstd.split(",")]
    CACHE.mkdir(exist_ok=True)
    print("| wheel | encoding | size | of published | recompress s | wn install s | vs published |")
    print("|---|---|---|---|---|---|---|")
    for requirement, pattern in WHEELS.items():
        if (args.only or "torch==2.13.0") != requirement and args.only != "all":
            continue
        published = fetch(requirement, pattern)
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            work = Path(tmp)
            base_size = published.stat().st_size
            base_install = install_time(published, work, args.runs)
            pip = pip_time(published, work, args.runs)
            name = requirement
            print(
                f"| {name} | deflate (published) | {base_size / 1e6:.1f} MB | 100.0 % | - "
                f"| {base_install:.2f} | 1.00x (pip: {pip:.2f} s, {pip / base_install:.2f}x) |"
            )
            for level in levels:
                out = work / f"zstd{level}" / published.name
                start = time.perf_counter()
                recompress(published, out, "zstd", level)
                took = time.perf_counter() - start
                size = out.stat().st_size
                installed = install_time(out, work, args.runs)
                print(
                    f"| {name} | zstd-{level} | {size / 1e6:.1f} MB | {size / base_size:.1%} "
                    f"| {took:.1f} | {installed:.2f} | {base_install / installed:.2f}x |",
                    flush=True,
                )
                out.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=3, help="runs per tool and case (default %(default)s)"
    )
    parser.add_argument(
        "--zstd",
        metavar="LEVELS",
        help="also compare zstd at these levels, e.g. 3,10,19 (default: skip)",
    )
    parser.add_argument(
        "--only",
        help="the wheel of the list for --zstd, or 'all' (default: torch==2.13.0)",
    )
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    compare_installers(fetch("torch==2.13.0", WHEELS["torch==2.13.0"]), args.runs)
    if args.zstd:
        compare_zstd(args)


if __name__ == "__main__":
    main()
