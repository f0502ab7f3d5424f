"""``wn list``: installed distributions with their variants, marking variant drift.

Drift: the installed variant is no longer the one this machine would choose."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from wheelnext.installer.cli_common import (
    VERBOSE_HELP,
    check_dir,
    checked,
    machine_selector,
    run_command,
)
from wheelnext.installer.envlock import lock_timeout


def _parser(prog: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog or "wn list",
        description="List installed distributions with their variants; mark variant drift.",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--python",
        metavar="PATH",
        help="list this interpreter's environment (default: the interpreter wn runs under)",
    )
    where.add_argument(
        "--target", type=Path, metavar="DIR", help="list DIR (default: see --python)"
    )
    p.add_argument(
        "--properties",
        type=Path,
        metavar="FILE",
        help="judge drift for another machine (wn-detect --json output; default: detect "
        "this machine)",
    )
    p.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    p.add_argument(
        "--drifted", action="store_true", help="only distributions whose variant drifted"
    )
    p.add_argument(
        "--lock-timeout",
        action=checked(lock_timeout),
        metavar="SECONDS",
        help="wait at most this long for another wn on the same environment (default: forever)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    return p


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    return run_command(parser.prog, args.verbose, lambda: _run(args, parser.prog))


def _run(args: argparse.Namespace, prog: str) -> int:
    from wheelnext.core.errors import one_line
    from wheelnext.installer.drift import inspect_all
    from wheelnext.installer.envlock import reading
    from wheelnext.installer.target import probe
    from wheelnext.installer.transaction import installed

    if args.target is not None:
        check_dir(args.target, "--target", create=False)
    target = probe(args.python, args.target)
    selector = machine_selector(args.properties, target)
    # an interrupted install is repaired first, and nothing changes while we read
    with reading(target, args.lock_timeout, prog):
        rows = inspect_all(installed(target).values(), selector)
    if args.drifted:
        rows = [r for r in rows if r.drifted]
    if args.json:
        doc = [
            {
                "name": r.name,
                "version": r.version,
                "variant": r.label,
                "properties": list(r.properties),
                "best-here": r.best or None,  # null: the non-variant wheel, or unknown
                "drifted": r.drifted,
            }
            for r in rows
        ]
        print(json.dumps(doc, indent=2))
        return 0
    # with a profile, drift is judged for it, and the fix must name it again
    shown = None if args.properties is None else shlex.quote(one_line(str(args.properties), 200))
    where = "here" if shown is None else f"for the profile {shown}"
    again = "" if shown is None else f" --properties {shown}"
    for r in rows:
        name = one_line(r.name, 80)
        line = f"{name} {one_line(r.version, 40)}"
        if r.label is not None:
            line += f" [variant {one_line(r.label, 40)}]"
            if r.properties:
                line += " " + ", ".join(one_line(p, 120) for p in r.properties)
        if r.drifted:
            best = (
                "no listed wheel fits"
                if r.best is None
                else f"variant {r.best} is best"
                if r.best
                else "the non-variant wheel is best"
            )
            fix = f"wn install --reinstall-variants{again} {shlex.quote(name)}"
            line += f"  <- drift: {best} {where} ({fix})"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
