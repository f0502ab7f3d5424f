"""Resolve and install a 20-package tree from a local index: ``wn install`` against
``pip install`` and ``uv pip install`` on the same index, in the same run.

The index is a static PEP 503/691 tree served on 127.0.0.1 (the test suite's server);
every tool installs into an empty ``--target`` directory with its cache disabled, so each
run resolves, downloads and installs everything. Prints best-of-N times and ratios
(peer time / our time: above 1 means wn is faster).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.installer.index import serve
from tests.installer.wheels import build_wheel, variants_json

RUNS = 3
BIN = Path(sys.executable).parent


def tree(built: Path) -> list[Path]:
    """app → 4 mid packages → 15 leaves (20 distributions, some shared, two versions each);
    ``app`` has x86-64 level variants and an index-level variants.json."""
    wheels = []
    leaves = [f"leaf{i:02d}" for i in range(15)]
    mids = [f"mid{i}" for i in range(4)]
    for i, leaf in enumerate(leaves):
        for version in ("1.0", "1.1"):
            files = {f"{leaf}/data.py": os.urandom(2048).hex().encode()}
            wheels.append(
                build_wheel(
                    built, leaf, version, files=files, requires_python=">=3.8" if i % 2 else None
                )
            )
    for i, mid in enumerate(mids):
        deps = [f"{leaf}>=1.0" for leaf in leaves[i * 4 : i * 4 + 5]]
        for version in ("2.0", "2.1"):
            wheels.append(build_wheel(built, mid, version, requires=deps))
    levels = {"v3": {"x86_64": {"level": ["v3"]}}, "v2": {"x86_64": {"level": ["v2"]}}}
    requires = [f"{m}>=2" for m in mids]
    for label, props in levels.items():
        wheels.append(
            build_wheel(built, "app", "1.0", label=label, properties=props, requires=requires)
        )
    wheels.append(build_wheel(built, "app", "1.0", requires=requires))
    wheels.append(variants_json(built, "app", "1.0", levels, ["x86_64"]))
    return wheels


def best(command: list[str], target: Path, env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        shutil.rmtree(target, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run(
            command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        times.append(time.perf_counter() - start)
        count = len([p for p in target.iterdir() if p.name.endswith(".dist-info")])
        assert count == 20, f"{command[0]} installed {count} distributions"
    return min(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with serve(work / "www") as server:
            server.index("bench").add(*tree(work / "built"))
            url = server.url("bench")
            env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "UV_NO_CONFIG": "1"}
            ours = best(
                [
                    str(BIN / "wn"),
                    "install",
                    "app",
                    "--index-url",
                    url,
                    "--target",
                    str(work / "wn"),
                    "--no-cache",
                    "-q",
                ],
                work / "wn",
                env,
            )
            pip = best(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "app",
                    "--index-url",
                    url,
                    "--target",
                    str(work / "pip"),
                    "--no-cache-dir",
                    "--disable-pip-version-check",
                    "-q",
                ],
                work / "pip",
                env,
            )
            uv = best(
                [
                    str(BIN / "uv"),
                    "pip",
                    "install",
                    "app",
                    "--index-url",
                    url,
                    "--target",
                    str(work / "uv"),
                    "--no-cache",
                    "-q",
                    "--python",
                    sys.executable,
                ],
                work / "uv",
                env,
            )
    print(f"wn install       {ours:6.2f} s   1.00x")
    print(f"pip install      {pip:6.2f} s   {pip / ours:.2f}x (pip time / wn time)")
    print(f"uv pip install   {uv:6.2f} s   {uv / ours:.2f}x (uv time / wn time)")


if __name__ == "__main__":
    main()
