"""Install a set of 27 real wheels from a local index, cold and warm: ``wn install``
against ``uv pip install`` and ``pip install --no-compile``, interleaved, medians.

The wheels (requests, rich, httpx, pydantic, numpy, pandas, click, jinja2, attrs,
packaging and their dependencies) are fetched once with ``pip download`` into
``bench/.cache/install-wheels`` and served from a static PEP 503/691 index on 127.0.0.1
(the test suite's server, with PEP 658 metadata files and PyPI's ``Cache-Control:
max-age=600`` on pages). Every run installs into a fresh ``--target``. Cold: an empty
cache directory per run. Warm: a cache that tool filled once before timing. Each run
checks that the tool installed the same distributions as the others. Prints medians and
the ratios wn / peer (below 1: wn is faster).

Nothing is deleted between timed runs (targets and cold caches are moved aside and
deleted at the end). On ext4 without a journal, as this machine's root file system is,
creating an inode skips every inode freed in the last 60-360 s, one buffer look-up each
(``recently_deleted`` in fs/ext4/ialloc.c; ``perf`` showed it as 60% of an install's CPU
time right after the previous run's trees were deleted): each run would pay for its
predecessor's deletion, by an amount that depends on the order of the runs. Start the
bench a few minutes after deleting many files (a test run) for the same reason.
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

from tests.installer.index import serve

CACHE = Path(__file__).parent / ".cache"
WHEELS = CACHE / "install-wheels"
REQUIREMENTS = [
    *("requests", "rich", "httpx", "pydantic", "numpy"),
    *("pandas", "click", "jinja2", "attrs", "packaging"),
]
BIN = Path(sys.executable).parent
# no user or machine configuration (this machine's pip.conf adds find-links and indexes)
ENV = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "UV_NO_CONFIG": "1"}


def fetch_wheels() -> list[Path]:
    """The wheel set, downloaded once (binary only, for this interpreter)."""
    marker = WHEELS / "requirements.txt"
    if not marker.is_file() or marker.read_text().split() != REQUIREMENTS:
        shutil.rmtree(WHEELS, ignore_errors=True)
        WHEELS.mkdir(parents=True)
        command = [sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:"]
        subprocess.run([*command, "-d", str(WHEELS), *REQUIREMENTS], check=True)
        marker.write_text("\n".join(REQUIREMENTS) + "\n")
    return sorted(WHEELS.glob("*.whl"))


def installed(target: Path) -> set[str]:
    """``name-version`` of every distribution in ``target`` (names normalised)."""
    found = set()
    for info in target.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        found.add(f"{name.lower().replace('_', '-').replace('.', '-')}-{version}")
    return found


def commands(url: str) -> dict[str, Callable[[Path, Path], list[str]]]:
    """For each tool: (target, cache directory) → the command line."""

    def common(target: Path, cache: Path) -> list[str]:
        """What every tool is told: the requirements, the index, the target, the cache."""
        return [
            *REQUIREMENTS,
            "--index-url",
            url,
            "--target",
            str(target),
            "--cache-dir",
            str(cache),
        ]

    return {
        "wn": lambda target, cache: [str(BIN / "wn"), "install", *common(target, cache), "-q"],
        "uv": lambda target, cache: [
            str(BIN / "uv"),
            "pip",
            "install",
            *common(target, cache),
            "--python",
            sys.executable,
            "-q",
        ],
        "pip": lambda target, cache: [
            sys.executable,
            "-m",
            "pip",
            "install",
            *common(target, cache),
            "--no-compile",
            "--disable-pip-version-check",
            "-q",
        ],
    }


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        command, check=False, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    took = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{command[0]} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per case (default %(default)s)")
    args = parser.parse_args()
    for tool in ("wn", "uv"):
        if not (BIN / tool).exists():
            sys.exit(f"{BIN / tool}: not found; install the dev group (README, command 2)")
    wheels = fetch_wheels()
    CACHE.mkdir(exist_ok=True)
    # work under bench/.cache: the same file system as the caches, as for a user
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp, serve(Path(tmp) / "www") as server:
        work = Path(tmp)
        server.index("bench").add(*wheels)
        server.page_headers["bench"] = {"Cache-Control": "max-age=600, public"}
        tools = commands(server.url("bench"))
        trash = work / "trash"
        trash.mkdir()
        expected: set[str] | None = None
        times: dict[tuple[str, str], list[float]] = {}
        for tool, command in tools.items():  # fill each warm cache once (untimed)
            target = work / "prime" / tool
            timed(command(target, work / "warm" / tool))
            got = installed(target)
            expected = got if expected is None else expected
            if got != expected:
                sys.exit(f"{tool} installed {sorted(got ^ expected)} unlike the others")
        assert expected is not None
        print(f"{len(wheels)} wheels on the index, {len(expected)} distributions installed")
        n = 0
        for run in range(args.runs):
            order = list(tools.items())
            order = order[run % len(order) :] + order[: run % len(order)]  # rotate
            for mode in ("cold", "warm"):
                for tool, command in order:
                    n += 1
                    target = work / f"t{n}"
                    cache = work / f"cold{n}" if mode == "cold" else work / "warm" / tool
                    times.setdefault((tool, mode), []).append(timed(command(target, cache)))
                    if installed(target) != expected:
                        sys.exit(f"{tool} ({mode}) installed another set")
                    # kept until the end, not deleted here: see the module docstring
                    target.rename(trash / target.name)
                    if mode == "cold" and cache.exists():  # pip makes none for local files
                        cache.rename(trash / cache.name)
    median = {key: statistics.median(values) for key, values in times.items()}
    print(f"{platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    for asked in ([str(BIN / "uv")], [sys.executable, "-m", "pip"]):
        said = subprocess.run([*asked, "--version"], check=True, capture_output=True, text=True)
        print(said.stdout.strip())
    print(f"medians of {args.runs} interleaved runs")
    print("| case | wn | uv | pip | wn / uv | wn / pip |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode in ("cold", "warm"):
        wn, uv, pip = (median[(tool, mode)] for tool in ("wn", "uv", "pip"))
        print(
            f"| {mode} | {wn:.2f} s | {uv:.2f} s | {pip:.2f} s | {wn / uv:.2f} | {wn / pip:.2f} |"
        )


if __name__ == "__main__":
    main()
