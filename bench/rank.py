"""Rank N variants x 8 properties, whole process: ``wn select`` against variantlib 0.2.2.

For each size (1k, 10k, 100k by default) the script writes one ``pkg-1.0-variants.json``
(format 0.2.0, which both read; each namespace's supported values are given as the
provider's ``static-properties``, so neither side runs a hardware provider) and then
starts fresh processes, interleaved, over the same file:

- ours: ``wn select --variants-json FILE --properties EMPTY_PROFILE`` (reads, validates,
  ranks every label's wheel filename, prints the ranking and every rejection);
- theirs: ``python -c`` reading the file with ``json`` and calling variantlib's
  ``get_variants_by_priority`` (validates into its models, sorts, filters), then
  printing the labels.

A first, untimed run of each checks that both print the same order (and warms the
byte-code and file caches). It reports the median wall time and the median peak resident
memory (``ru_maxrss`` of each child) and the ratios wheelnext / variantlib (below 1: we are
faster or smaller; the form of the targets in issue 13).

    python bench/rank.py [--sizes 1000,10000,100000] [--repeat 5] [--repeat-large 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

NAMESPACES = ["ns_a", "ns_b"]
FEATURES = [f"f{i}" for i in range(4)]
VALUES = [f"v{i}" for i in range(10)]
SCHEMA = "https://variants-schema.wheelnext.dev/v0.2.0.json"

THEIRS = """
import json, sys
from variantlib.api import get_variants_by_priority
with open(sys.argv[1], "rb") as f:
    data = json.load(f)
ranked = get_variants_by_priority(variants_json=data)
sys.stdout.write("".join(f"{d.label}\\n" for d in ranked if d.label != "null"))
"""


def make_document(n: int, seed: int = 825) -> dict[str, object]:
    """n distinct variants, each one value of each of 8 features; 7 of 10 values supported."""
    from wheelnext.core.labels import hash_label
    from wheelnext.core.properties import VariantProperty

    rnd = random.Random(seed)
    supported = {ns: {f: rnd.sample(VALUES, 7) for f in FEATURES} for ns in NAMESPACES}
    variants: dict[str, dict[str, dict[str, list[str]]]] = {}
    while len(variants) < n:
        chosen = {(ns, f): rnd.choice(VALUES[:8]) for ns in NAMESPACES for f in FEATURES}
        label = hash_label(VariantProperty(ns, f, v) for (ns, f), v in chosen.items())
        tree: dict[str, dict[str, list[str]]] = {}
        for (ns, f), v in chosen.items():
            tree.setdefault(ns, {})[f] = [v]
        variants[label] = tree
    return {
        "$schema": SCHEMA,
        "default-priorities": {"namespace": NAMESPACES},
        "providers": {
            ns: {"static-properties": supported[ns], "feature-order": FEATURES} for ns in NAMESPACES
        },
        "variants": variants,
    }


# as installed: byte-code caches on (an environment may switch them off for the tests)
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
# A child's ru_maxrss starts at its parent's peak (Linux records the forking process's
# high-water mark at exec), so this process stays small: documents are written by a child.
WRITE = "import sys; sys.path[:0] = sys.argv[1:2]; import rank; rank.write(*sys.argv[2:])"


def write(n: str, path: str) -> None:
    """Write the document of ``n`` variants to ``path`` (run in a child process)."""
    Path(path).write_text(json.dumps(make_document(int(n))))


def _run_child(cmd: Sequence[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in bytes and stdout of one fresh process."""
    # communicate() reaps the child, losing its rusage, so wait for it ourselves
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.DEVNULL, env=ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd[:3])} ... failed with status {proc.returncode}")
        sink.seek(0)
        return elapsed, usage.ru_maxrss * 1024, sink.read()


def ours_labels(out: str) -> list[str]:
    """The labels of the ranked variant wheels in ``wn select``'s output."""
    labels = []
    for line in out.splitlines():
        stem = line.removesuffix(".whl").split("-")
        if len(stem) == 6 and stem[5] != "null":
            labels.append(stem[5])
    return labels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=5, help="runs per side (sizes < 100k)")
    parser.add_argument("--repeat-large", type=int, default=3, help="runs per side at 100k+")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    wn = str(Path(sys.executable).with_name("wn"))

    print(f"wheelnext `wn select` against variantlib {version('variantlib')}, fresh processes,")
    print("interleaved; median wall time and median peak RSS; ratio = wheelnext / variantlib")
    print(
        f"{'variants':>9} {'wn time':>9} {'vl time':>9} {'ratio':>6}   {'wn RSS':>9} "
        f"{'vl RSS':>9} {'ratio':>6}   compatible"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp, "pkg-1.0-variants.json")
            here = str(Path(__file__).resolve().parent)
            subprocess.run([sys.executable, "-c", WRITE, here, str(n), str(path)], check=True)
            profile = Path(tmp, "profile.json")
            profile.write_text('{"providers": []}')
            ours = [wn, "select", "--variants-json", str(path), "--properties", str(profile)]
            theirs = [sys.executable, "-c", THEIRS, str(path)]

            # a first, untimed run of each: the same order from both, and warm caches
            expected = ours_labels(_run_child(ours)[2])
            if _run_child(theirs)[2].split() != expected:
                raise SystemExit(f"{n} variants: wn select and variantlib disagree")
            t_ours: list[float] = []
            t_theirs: list[float] = []
            m_ours: list[int] = []
            m_theirs: list[int] = []
            for i in range(args.repeat if n < 100_000 else args.repeat_large):
                pair = [(ours, t_ours, m_ours), (theirs, t_theirs, m_theirs)]
                for cmd, times, peaks in pair if i % 2 == 0 else pair[::-1]:
                    elapsed, rss, _ = _run_child(cmd)
                    times.append(elapsed)
                    peaks.append(rss)
            to, tt = statistics.median(t_ours), statistics.median(t_theirs)
            mo, mt = statistics.median(m_ours), statistics.median(m_theirs)
            mib = 1024 * 1024
            print(
                f"{n:>9} {to:>8.2f}s {tt:>8.2f}s {to / tt:>6.2f}   {mo / mib:>6.0f}MiB "
                f"{mt / mib:>6.0f}MiB {mo / mt:>6.2f}   {len(expected)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
