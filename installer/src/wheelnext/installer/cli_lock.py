"""``wn lock``: resolve and write a PEP 751 ``pylock.toml`` with PEP 825 variant wheels,
for this machine or for several machine profiles at once (spec/lock.md)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from wheelnext.installer.cli_common import (
    add_requirement_options,
    default_indexes,
    index_config,
    machine_selector,
    open_indexes,
    read_roots,
    run_command,
    supported_properties,
    variant_suffix,
)


def _parser(prog: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog or "wn lock",
        description="Resolve requirements and write a pylock.toml (PEP 751) listing the "
        "variant wheels (PEP 825) of every locked release.",
    )
    add_requirement_options(p)
    p.add_argument("--python", metavar="PATH", help="lock for this interpreter")
    p.add_argument(
        "--properties",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="lock for this machine profile (wn-detect --json); repeat for several",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--all-variants",
        dest="mode",
        action="store_const",
        const="all",
        default="all",
        help="list every wheel of each release for this interpreter (default)",
    )
    size.add_argument(
        "--only-selected",
        dest="mode",
        action="store_const",
        const="selected",
        help="list only the wheels the profiles select",
    )
    p.add_argument(
        "--no-default-extras", action="store_true", help="ignore Default-Extra (PEP 771)"
    )
    p.add_argument("-o", "--output", default="pylock.toml", metavar="FILE", help="'-' for stdout")
    p.add_argument("--cache-dir", type=Path, metavar="DIR")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--timeout", type=float, default=15.0, metavar="SECONDS")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    return run_command(parser.prog, args.verbose, lambda: _run(args, parser))


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelnext.core.files import atomic_write
    from wheelnext.core.priorities import load_user_priorities
    from wheelnext.core.selector import Selector
    from wheelnext.installer.errors import InstallerError
    from wheelnext.installer.lock.model import is_lock_name
    from wheelnext.installer.lock.resolve import resolve_profiles
    from wheelnext.installer.lock.write import LockWriter, dumps
    from wheelnext.installer.target import probe

    roots = read_roots(args, parser)
    output = None if args.output == "-" else Path(args.output)
    if output is not None:
        if not is_lock_name(output.name):
            raise InstallerError(
                f"-o {args.output}: a lock file is named pylock.toml or pylock.NAME.toml (PEP 751)"
            )
        if output.is_dir() or not output.parent.is_dir():
            raise InstallerError(f"-o {args.output}: cannot write a file there")
    config = index_config(args, parser, default_indexes(args))
    target = probe(args.python)
    priorities = load_user_priorities()
    named = [(path.name, path) for path in args.properties] or [("this-machine", None)]
    profiles = [
        (name, Selector(supported_properties(path), priorities=priorities, tags=target.tags))
        for name, path in named
    ]
    with (
        open_indexes(args, config) as (http, indexes),
        tempfile.TemporaryDirectory(prefix="wheelnext-") as work,
    ):
        runs = resolve_profiles(
            roots,
            profiles,
            indexes=indexes,
            target=target,
            http=http,
            work=Path(work),
            default_extras=not args.no_default_extras,
        )
        lock_dir = output.parent if output is not None else Path.cwd()
        writer = LockWriter(runs, target, args.mode, lock_dir)
        text = dumps(writer.document([w.requirement.name for w in roots]))
    if output is None:
        sys.stdout.write(text)
    else:
        atomic_write(output, text.encode("utf-8"))
    return 0


def install_from_lock(args: argparse.Namespace, prog: str) -> int:
    """``wn install -r pylock.toml``: install a lock without resolving (spec/lock.md).

    Uses ``wn install``'s options: ``--python``/``--target``, ``--properties``,
    ``--dry-run``, ``--link-fallback``, ``--timeout``, ``-q``."""
    from wheelnext.installer import drift
    from wheelnext.installer.envlock import locked
    from wheelnext.installer.errors import InstallerError
    from wheelnext.installer.http import HttpClient
    from wheelnext.installer.lock.install import LockInstaller
    from wheelnext.installer.lock.read import read_lock
    from wheelnext.installer.target import probe
    from wheelnext.installer.transaction import install_all

    if len(args.requirement) != 1 or args.requirements:
        raise InstallerError("-r pylock.toml: install one lock file and nothing else")
    path = Path(args.requirement[0])
    lock = read_lock(path)
    target = probe(args.python, args.target)
    selector = machine_selector(args.properties, target)
    http = HttpClient(None, timeout=args.timeout)
    try:
        installer = LockInstaller(lock, path.parent, selector, target, http)
        plan = installer.plan()
        if args.dry_run:
            for picked in plan:
                label = variant_suffix(picked.filename.label)
                print(f"Would install {picked.package.name} {picked.package.version}{label}")
            return 0
        with tempfile.TemporaryDirectory(prefix="wheelnext-") as work:
            files = {p.package.name: installer.fetch(p, Path(work)) for p in plan}
            by_name = {p.package.name: p for p in plan}
            for picked in plan:
                installer.check(picked, files[picked.package.name], by_name)
            chosen = [installer.chosen(p, files[p.package.name]) for p in plan]
            for picked, c in zip(plan, chosen, strict=True):
                drift.remember(
                    c.filename,
                    picked.filename.label,
                    [w.name for w in picked.package.wheels],
                    picked.package.variants,
                )
            wheels = {c.filename: files[c.name] for c in chosen}
            with locked(target, args.lock_timeout, prog):
                outcome = install_all(chosen, wheels, target, link_fallback=args.link_fallback)
    finally:
        http.close()
    if not args.quiet:
        for c in outcome.installed:
            print(f"Installed {c.name} {c.version}{variant_suffix(c.wheel.label)} from {lock.path}")
        for c in outcome.unchanged:
            print(f"Already installed {c.name} {c.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
