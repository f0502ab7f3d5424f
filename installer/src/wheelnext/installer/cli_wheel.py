"""``wn wheel``: rewrite a wheel's encoding: zstd members, links for duplicate libraries."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wheelnext.installer.cli_common import VERBOSE_HELP, check_dir, check_wheel_file, run_command


def _parser(prog: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog or "wn wheel", description="Wheel format tools.")
    p.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    about = "rewrite every member with one compression method"
    re = sub.add_parser("recompress", help=about, description=f"{about.capitalize()}.")
    re.add_argument("wheel", type=Path, metavar="WHEEL", help="the wheel to rewrite")
    method = re.add_mutually_exclusive_group(required=True)
    methods = {
        "zstd": "Zstandard (smaller, faster to unpack; needs a zstd-aware installer)",
        "deflate": "deflate, what every installer reads",
        "stored": "no compression",
    }
    for name, what in methods.items():
        method.add_argument(f"--{name}", dest="method", action="store_const", const=name, help=what)
    re.add_argument("--level", type=int, help="zstd -7..22 (default: 3), deflate 0..9 (default: 6)")
    re.add_argument(
        "-o", "--output-dir", type=Path, metavar="DIR", help="write there (default: in place)"
    )

    about = "replace identical shared-library copies by links"
    dd = sub.add_parser(
        "dedupe",
        help=about,
        description=f"{about.capitalize()} (PEP 778 symlinks inside the wheel).",
    )
    dd.add_argument("wheel", type=Path, metavar="WHEEL", help="the wheel to rewrite")
    dd.add_argument(
        "-o", "--output-dir", type=Path, metavar="DIR", help="write there (default: in place)"
    )
    return p


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    actions = {"recompress": _recompress, "dedupe": _dedupe}
    return run_command(parser.prog, args.verbose, lambda: actions[args.action](args))


def _destination(args: argparse.Namespace) -> Path:
    from wheelnext.installer.errors import InstallerError

    check_wheel_file(args.wheel, "WHEEL")
    wheel: Path = args.wheel
    if args.output_dir is not None:
        check_dir(args.output_dir, "-o")
    destination = Path(args.output_dir or wheel.parent) / wheel.name
    if destination.is_dir():
        raise InstallerError(f"-o {args.output_dir}: {wheel.name} there is a directory")
    return destination


def _recompress(args: argparse.Namespace) -> int:
    from wheelnext.installer.recompress import recompress

    destination = _destination(args)
    result = recompress(args.wheel, destination, args.method, args.level)
    ratio = result.size_after / result.size_before if result.size_before else 1.0
    print(
        f"{destination}: {result.size_before} -> {result.size_after} bytes "
        f"({ratio:.1%} of the original, {args.method})"
    )
    return 0


def _dedupe(args: argparse.Namespace) -> int:
    from wheelnext.installer.dedupe import dedupe

    destination = _destination(args)
    result = dedupe(args.wheel, destination)
    if not result.links:
        print(f"{args.wheel}: no duplicate shared libraries; unchanged")
        return 0
    for link, target in result.links:
        print(f"  {link} -> {target}")
    print(
        f"{destination}: {len(result.links)} links, {result.bytes_saved} bytes no longer "
        f"stored; archive {result.size_before} -> {result.size_after} bytes (Wheel-Version 2.0)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
