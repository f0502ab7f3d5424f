"""zstd against DEFLATE on real large binary wheels: size and install time.

Wheels (downloaded once into bench/.cache with ``pip download --no-deps``):
the PyTorch 2.13.0 CPU wheel, numpy 2.2.6 and nvidia-nvjitlink-cu12 12.4.127, all as
published (DEFLATE). Each is rewritten with ``wn wheel recompress --zstd`` at several
levels. For every encoding the script prints the archive size relative to the published
one, the time to recompress, and the time ``wn`` takes to check and install it into an
empty target (best of N), next to the published wheel's; ``pip install --no-deps
--target`` of the published wheel is the named peer. Ratios above 1: the peer is slower.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from wheelnext.installer.archive import check_archive
from wheelnext.installer.recompress import recompress
from wheelnext.installer.target import probe
from wheelnext.installer.transaction import transaction

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


def pip_time(wheel: Path, work: Path, runs: int) -> float:
    times = []
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    for _ in range(runs):
        target_dir = work / "pip"
        shutil.rmtree(target_dir, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run(
            [
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
                str(target_dir),
                str(wheel),
            ],
            check=True,
            env=env,
        )
        times.append(time.perf_counter() - start)
    shutil.rmtree(work / "pip", ignore_errors=True)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="3,10,19", help="zstd levels (default %(default)s)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--only", help="one requirement of the list, e.g. numpy==2.2.6")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    CACHE.mkdir(exist_ok=True)
    print("| wheel | encoding | size | of published | recompress s | wn install s | vs published |")
    print("|---|---|---|---|---|---|---|")
    for requirement, pattern in WHEELS.items():
        if args.only and args.only != requirement:
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


if __name__ == "__main__":
    main()
