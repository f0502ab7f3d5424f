"""``wn lock``: resolve into a PEP 751 ``pylock.toml`` listing PEP 825 variant wheels.

For this machine or for several machine profiles at once (spec/lock.md)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wheelnext.core.errors import one_line
from wheelnext.installer.cli_common import (
    CACHE_DIR_HELP,
    REFRESH_HELP,
    TIMEOUT_HELP,
    VERBOSE_HELP,
    Seconds,
    add_requirement_options,
    check_dir,
    default_indexes,
    http_cache,
    index_config,
    links_line,
    machine_selector,
    open_indexes,
    read_roots,
    run_command,
    supported_properties,
    variant_suffix,
)
from wheelnext.installer.lock.model import is_lock_name

if TYPE_CHECKING:
    from wheelnext.installer.finder import Chosen


def _parser(prog: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog or "wn lock",
        description="Resolve requirements and write a pylock.toml (PEP 751) listing the "
        "variant wheels (PEP 825) of every locked release.",
    )
    add_requirement_options(p)
    p.add_argument(
        "--python",
        metavar="PATH",
        help="lock for this interpreter (default: the interpreter wn runs under)",
    )
    p.add_argument(
        "--properties",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="lock for this machine profile (wn-detect --json); repeat for several "
        "(default: detect this machine)",
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
    p.add_argument(
        "-o",
        "--output",
        default="pylock.toml",
        metavar="FILE",
        help="write the lock to FILE, '-' for stdout (default: %(default)s)",
    )
    p.add_argument("--cache-dir", type=Path, metavar="DIR", help=CACHE_DIR_HELP)
    p.add_argument("--no-cache", action="store_true", help="cache no HTTP response")
    p.add_argument("--refresh", action="store_true", help=REFRESH_HELP)
    p.add_argument("--timeout", action=Seconds, default=15.0, metavar="SECONDS", help=TIMEOUT_HELP)
    p.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
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
    if args.cache_dir is not None and not args.no_cache:
        check_dir(args.cache_dir, "--cache-dir")
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
        doc = writer.document([w.requirement.name for w in roots])
        text = dumps(doc)
    if output is None:
        sys.stdout.write(text)
    else:
        atomic_write(output, text.encode("utf-8"))
    print(summary(doc, len(profiles), args.output), file=sys.stdout if output else sys.stderr)
    return 0


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(doc: dict[str, Any], profiles: int, output: str) -> str:
    """``Locked N packages (M wheels) for K profiles to FILE`` (``stdout`` for ``-o -``)."""
    packages = doc["packages"]
    wheels = sum(len(p.get("wheels", [])) for p in packages)
    where = "stdout" if output == "-" else output
    return (
        f"Locked {_count(len(packages), 'package')} ({_count(wheels, 'wheel')}) "
        f"for {_count(profiles, 'profile')} to {where}"
    )


# ``wn install`` options that apply to installing a lock (argparse dests); any other given
# is a usage error, so nothing the user asked for is silently ignored
LOCK_OPTIONS = frozenset(
    {
        "requirement",
        "python",
        "target",
        "properties",
        "dry_run",
        "link_fallback",
        "timeout",
        "lock_timeout",
        "quiet",
        "verbose",
        "force_reinstall",
        "reinstall_variants",
        "cache_dir",  # downloads and unpacked wheels are cached as for wn install
        "no_cache",
        "link_mode",
        "help",
    }
)


def refuse_other_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Path:
    """The one lock file named, after refusing every given option that does not apply
    to installing a lock (exit 2, one usage line naming it)."""
    lock_file = next(p for p in args.requirement if is_lock_name(Path(p).name))
    for action in parser._actions:
        dest = action.dest
        value = getattr(args, dest, action.default)
        if dest in LOCK_OPTIONS or value == action.default or value in (None, []):
            continue
        if dest == "requirements":
            parser.error(
                f"{one_line(args.requirements[0], 80)!r}: -r {lock_file} installs what the "
                "lock lists and takes no other requirements"
            )
        # --index and --index-group share a dest: name the one given first
        named = args.sources[0][0] if dest == "sources" else None
        option = named or max(action.option_strings, key=len)
        parser.error(f"{option} does not apply to installing a lock file (-r {lock_file})")
    others = [p for p in args.requirement if p != lock_file]
    if others:
        parser.error(f"-r {others[0]}: -r {lock_file} installs one lock file and nothing else")
    return Path(lock_file)


def install_from_lock(args: argparse.Namespace, parser: argparse.ArgumentParser, prog: str) -> int:
    """``wn install -r pylock.toml``: install a lock without resolving (spec/lock.md).

    Takes ``--python``/``--target``, ``--properties``, ``--dry-run``, ``--link-fallback``,
    ``--link-mode``, ``--cache-dir``, ``--no-cache``, ``--timeout``, ``--lock-timeout``,
    ``--force-reinstall``, ``--reinstall-variants``, ``-q``, ``-v``; refuses any other
    option. Locked ``path`` wheels are read where they lie, ``url`` ones downloaded into
    the cache; the wheels are linked from the unpacked cache as ``wn install`` does. A
    dry run makes every check the real run makes (hashes, the wheels against the lock)
    and says what it would do."""
    from wheelnext.installer import drift
    from wheelnext.installer.envlock import locked, repair
    from wheelnext.installer.http import HttpClient
    from wheelnext.installer.install_options import decide, dry_run
    from wheelnext.installer.linking import cache_dir
    from wheelnext.installer.lock.install import LockInstaller
    from wheelnext.installer.lock.read import read_lock
    from wheelnext.installer.target import probe
    from wheelnext.installer.transaction import check_plan, install_all, installed

    path = refuse_other_options(args, parser)
    if args.target is not None:
        check_dir(args.target, "--target")
    if args.cache_dir is not None and not args.no_cache:
        check_dir(args.cache_dir, "--cache-dir")
    lock = read_lock(path)
    target = probe(args.python, args.target)
    repair(target, args.lock_timeout, prog)  # what an interrupted wn left, before reading
    selector = machine_selector(args.properties, target)

    def describe(c: Chosen) -> str:  # as wn install says it: the variant's hardware too
        label, meta = c.wheel.label, c.variant_metadata
        properties = meta.properties(label) if meta is not None and label is not None else None
        return f"{c.name} {c.version}{variant_suffix(label, properties)} from {lock.path}"

    http = HttpClient(http_cache(args), timeout=args.timeout)
    try:
        installer = LockInstaller(lock, path.parent, selector, target, http)
        if not (args.force_reinstall or args.reinstall_variants):
            installer.keep_installed(installed(target))  # the installed variants stay
        plan = installer.plan()
        with tempfile.TemporaryDirectory(prefix="wheelnext-") as work:
            files = {p.package.name: installer.fetch(p, Path(work)) for p in plan}
            by_name = {p.package.name: p for p in plan}
            for picked in plan:
                installer.check(picked, files[picked.package.name], by_name)
            chosen = [installer.chosen(p, files[p.package.name]) for p in plan]
            wheels = {c.filename: files[c.name] for c in chosen}
            if args.dry_run:
                check_plan(chosen, wheels, target)
                decision = decide(args, chosen, target, prog)
                if not args.quiet:  # -q: no result lines, the dry run's included
                    dry_run(chosen, target, decision, describe)
                return 0
            for picked, c in zip(plan, chosen, strict=True):
                drift.remember(
                    c.filename,
                    picked.filename.label,
                    [w.name for w in picked.package.wheels],
                    picked.package.variants,
                )
            with locked(target, args.lock_timeout, prog):
                decision = decide(args, chosen, target, prog)  # variant drift, flags
                outcome = install_all(
                    chosen, wheels, target, link_fallback=args.link_fallback,
                    force=decision.force, cache=cache_dir(args.cache_dir, args.no_cache),
                    link_mode=args.link_mode,
                )  # fmt: skip
    finally:
        http.close()
    if not args.quiet:
        for c in outcome.installed:
            print(f"Installed {describe(c)}")
        if outcome.links.links or outcome.links.copies:
            print(links_line(outcome.links))
        for c in outcome.unchanged:  # as the dry run says it
            print(decision.unchanged(c, dry=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
