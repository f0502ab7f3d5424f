"""``wn install``: install requirements, choosing the best variant wheel for this machine.

The reference installer: pip-like flags, index priority groups, variants."""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from wheelnext.installer.cli_common import (
    CACHE_DIR_HELP,
    REFRESH_HELP,
    TIMEOUT_HELP,
    VERBOSE_HELP,
    Seconds,
    add_requirement_options,
    check_dir,
    check_index_url,
    checked,
    default_indexes,
    index_config,
    links_line,
    machine_selector,
    open_indexes,
    read_roots,
    run_command,
    variant_suffix,
)
from wheelnext.installer.envlock import lock_timeout
from wheelnext.installer.linking import LINK_MODE_HELP, cache_dir

if TYPE_CHECKING:
    from rich.progress import Progress

    from wheelnext.installer.finder import Chosen, Finder
    from wheelnext.installer.requirements import Wanted


def _parser(prog: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog or "wn install",
        description="Resolve and install requirements, choosing the best variant wheel for "
        "this (or another) machine, with index priority groups. By default wn installs into "
        "the environment of the Python interpreter wn itself runs under (the one holding "
        "this wn command), not an activated virtual environment: give --python or --target "
        "to install elsewhere.",
    )
    add_requirement_options(p)
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--python",
        metavar="PATH",
        help="install into this interpreter's environment (default: the interpreter wn runs under)",
    )
    where.add_argument(
        "--target", type=Path, metavar="DIR", help="install into DIR (default: see --python)"
    )
    p.add_argument(
        "--no-default-extras", action="store_true", help="ignore Default-Extra (PEP 771)"
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="resolve, download and check, and say what would change; install nothing "
        "(downloads are kept in the cache; nothing is unpacked)",
    )
    p.add_argument(
        "--report",
        metavar="FILE",
        help="write pip's installation report, with variants ('-': to stdout; the other "
        "output then goes to stderr)",
    )
    p.add_argument(
        "--properties",
        type=Path,
        metavar="FILE",
        help="select variants for another machine (wn-detect --json output; default: "
        "detect this machine)",
    )
    p.add_argument(
        "--link-fallback",
        choices=("error", "copy"),
        default="error",
        help="when the filesystem cannot make a wheel's symlinks (PEP 778): fail, or copy "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--link-mode", choices=("hardlink", "reflink", "copy"), default="hardlink",
        help=LINK_MODE_HELP,
    )  # fmt: skip
    p.add_argument("--cache-dir", type=Path, metavar="DIR", help=CACHE_DIR_HELP)
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the download cache (HTTP responses, wheels, unpacked "
        "wheels); --cache-dir is then ignored (the hardware detection cache is wn-detect's)",
    )
    p.add_argument("--refresh", action="store_true", help=REFRESH_HELP)
    p.add_argument("--timeout", action=Seconds, default=15.0, metavar="SECONDS", help=TIMEOUT_HELP)
    p.add_argument(
        "--lock-timeout",
        action=checked(lock_timeout),
        metavar="SECONDS",
        help="wait at most this long for another wn on the same environment (default: forever)",
    )
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only warnings and errors: no result lines, no progress bar",
    )
    p.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    from wheelnext.installer.install_options import add_install_options

    add_install_options(p)  # --no-deps, -c, -U, --force-reinstall, --reinstall-variants
    return p


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    from wheelnext.installer.report import report_to_stdout

    with report_to_stdout(args.report):  # --report -: stdout holds only the report
        return run_command(parser.prog, args.verbose, lambda: _run(args, parser, parser.prog))


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser, prog: str) -> int:
    from wheelnext.installer.direct import DirectFinder, collect
    from wheelnext.installer.distmeta import DistMetadata
    from wheelnext.installer.envlock import locked, repair
    from wheelnext.installer.install_options import (
        OptionsProvider,
        prepare_install,
        read_constraints,
    )
    from wheelnext.installer.prestage import Prestager
    from wheelnext.installer.report import build_report, check_report_path, write_report
    from wheelnext.installer.resolver import resolve
    from wheelnext.installer.target import probe
    from wheelnext.installer.transaction import install_all, installed, version_of

    if args.requirement:  # a PEP 751 lock among them: installed without resolving
        from wheelnext.installer.lock.model import is_lock_name

        if any(is_lock_name(Path(p).name) for p in args.requirement):
            from wheelnext.installer.cli_lock import install_from_lock

            return install_from_lock(args, parser, prog)
    roots = read_roots(args, parser)
    # every URL and path the user named is checked before anything is read or written
    for option, urls in (
        ("--index-url", [args.index_url]),
        ("--extra-index-url", args.extra_index_url),
    ):
        for url in filter(None, urls):
            check_index_url(url, option)
    if args.report:
        check_report_path(args.report)
    if args.target is not None:
        check_dir(args.target, "--target")
    if args.cache_dir is not None and not args.no_cache:
        check_dir(args.cache_dir, "--cache-dir")
    config = index_config(args, parser, default_indexes(args))
    target = probe(args.python, args.target)
    direct = collect(roots, lambda wanted: _applies(wanted, target.markers))
    repair(target, args.lock_timeout, prog)  # what an interrupted wn left, before reading
    selector = machine_selector(args.properties, target)
    with (
        open_indexes(args, config) as (http, indexes),
        tempfile.TemporaryDirectory(prefix="wheelnext-") as work,
    ):
        finder = DirectFinder(indexes, selector, target, http, Path(work), direct=direct)
        present = installed(target)
        if not (args.force_reinstall or args.reinstall_variants):  # variant drift: keep
            finder.keep_installed(present)  # and resolve its own dependencies
        provider = OptionsProvider(
            finder,
            target.markers,
            not args.no_default_extras,
            direct={name: d.requested for name, d in direct.items()},
            constraints=read_constraints(args.constraint),
            no_deps=args.no_deps,
        )
        resolution = resolve(roots, provider)
        metadata: dict[str, DistMetadata] = {
            name: finder.metadata(c) for name, c in resolution.chosen.items()
        }
        plan = [resolution.chosen[n] for n in sorted(resolution.chosen)]
        if args.verbose:
            for line in indexes.log:
                print(f"{prog}: {line}", file=sys.stderr)
        if args.report:
            write_report(args.report, build_report(resolution, metadata, target))
        cache = cache_dir(args.cache_dir, args.no_cache)
        # unpacked into the cache as they arrive (not for a dry run: it writes nothing),
        # unless installed already at that version (then they are kept, unless forced)
        prestage = None if args.dry_run or cache is None else Prestager(cache)
        forced = args.force_reinstall or args.reinstall_variants

        def fetched(chosen: Chosen, path: Path) -> None:
            if prestage is not None and (forced or version_of(present, chosen) != chosen.version):
                prestage.add(path)

        with prestage or contextlib.nullcontext():
            wheels = _download(finder, plan, quiet=args.quiet or args.dry_run, fetched=fetched)
        if args.dry_run:  # every check the real run makes, then its decision, said
            from wheelnext.installer.install_options import decide, dry_run
            from wheelnext.installer.transaction import check_plan

            check_plan(plan, wheels, target)
            decision = decide(args, plan, target, prog)
            if not args.quiet:  # -q: no result lines, the dry run's included
                dry_run(plan, target, decision, _describe)
            return 0
        with locked(target, args.lock_timeout, prog):
            decision = prepare_install(args, finder, plan, target, prog)  # variant drift
            outcome = install_all(
                plan, wheels, target, link_fallback=args.link_fallback, force=decision.force,
                cache=cache if prestage is None else prestage.cache, link_mode=args.link_mode,
            )  # fmt: skip
        if not args.quiet:
            for chosen in outcome.installed:
                print(f"Installed {_describe(chosen)}")
            if outcome.links.links or outcome.links.copies:
                print(links_line(outcome.links))
            for chosen in outcome.unchanged:  # as the dry run says it
                print(decision.unchanged(chosen, dry=False))
    return 0


def _applies(wanted: Wanted, markers: dict[str, str]) -> bool:
    """Whether a requirement the user wrote is for this target (its marker, no extra)."""
    from wheelnext.core.markers import VariantEnvironment

    if wanted.marker is None:
        return True
    return wanted.marker.evaluate(VariantEnvironment.for_wheel(None), {**markers, "extra": ""})


def _describe(chosen: Chosen) -> str:
    """``NAME VERSION [LABEL: PROPERTIES] from SOURCE``: the hardware the variant is for,
    and the source by its URL or path (or the name the user gave it with ``--index``)."""
    from wheelnext.installer.direct import DIRECT, display

    where = (
        display(chosen.located.file.url)
        if chosen.located.group == DIRECT
        else chosen.located.index.name
    )
    label = chosen.wheel.label
    meta = chosen.variant_metadata
    properties = meta.properties(label) if meta is not None and label is not None else None
    return f"{chosen.name} {chosen.version}{variant_suffix(label, properties)} from {where}"


DOWNLOADS = 8  # wheels fetched at once (each in its own thread; verified as it arrives)


def _download(
    finder: Finder,
    plan: Sequence[Chosen],
    quiet: bool,
    fetched: Callable[[Chosen, Path], None] | None = None,
) -> dict[str, Path]:
    """Every wheel of the plan, verified, ``DOWNLOADS`` at a time, the largest first,
    each handed to ``fetched`` as it arrives; with a progress bar (rich) on stderr when it
    is a terminal and not quiet: on a pipe rich's transient bar would leave a blank line,
    and stdout carries only the result lines. The first failure (in that order, among
    those failed by then) is the one reported at once; the other downloads stop (their
    partial files removed) before it is raised."""
    import functools
    import threading

    from wheelnext.installer.http import Cancelled, cancellable
    from wheelnext.installer.parallel import run_all

    stop = threading.Event()
    progress = None if quiet else _progress_bar()  # rich is not even imported when quiet

    def one(chosen: Chosen) -> Path:
        if stop.is_set():
            raise Cancelled("another download failed")
        size = chosen.located.file.size
        local = chosen.located.file.url.startswith("file:")  # read in place: no bar
        task = None if progress is None or local else progress.add_task(chosen.filename, total=size)

        def advance(done: int, total: int | None) -> None:
            if stop.is_set():
                raise Cancelled("another download failed")
            if progress is not None and task is not None:
                progress.update(task, advance=done, total=total)

        with cancellable(stop):
            path = finder.fetch(chosen.located, advance)
        if fetched is not None:
            fetched(chosen, path)
        return path

    with progress or contextlib.nullcontext():
        # the largest first: the longest to download and to unpack (``fetched``)
        order = sorted(plan, key=lambda c: c.located.file.size or 0, reverse=True)
        calls = [functools.partial(one, chosen) for chosen in order]
        paths = run_all(calls, DOWNLOADS, stop, "wn-download")
    return {chosen.filename: path for chosen, path in zip(order, paths, strict=True)}


def _progress_bar() -> Progress:
    """The downloads' bar on stderr, shown only on a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
    from rich.table import Column

    console = Console(stderr=True)
    name = Column(max_width=48, no_wrap=True, overflow="ellipsis")  # room for the bar
    return Progress(
        TextColumn("{task.description}", table_column=name),
        BarColumn(),
        DownloadColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=True,
    )


if __name__ == "__main__":
    sys.exit(main())
