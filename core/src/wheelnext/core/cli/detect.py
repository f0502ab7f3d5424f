"""``wn-detect``: print this machine's variant properties, provider by provider.

``--json`` prints the profile document (``{"providers": [...]}``) that ``--properties``
options elsewhere read back. Exit 0 even when a provider failed (its status says so).
Each provider runs in its own process (``--isolation``); answers are cached on disk
(``--no-cache`` bypasses the cache). A closed stdout (``| head``) ends quietly.
"""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False  # not typing's: importing typing costs ~3 ms of every run
if TYPE_CHECKING:
    import argparse
    import contextlib
    from typing import TextIO

    from wheelnext.core.discovery import ProviderSource
    from wheelnext.core.properties import VariantProperty
    from wheelnext.core.providers import DetectContext
    from wheelnext.core.supported import ProviderResult, SupportedProperties


def _seconds(text: str) -> float | None:
    """``text`` as a positive, finite number of seconds below a day (``--timeout``), or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 < value < 86400 else None


def _parser(prog: str | None) -> argparse.ArgumentParser:
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(
        prog=prog or "wn-detect",
        description="Show the variant properties this machine supports, best first.",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON profile")
    parser.add_argument(
        "--profile-url",
        action="store_true",
        help="print the profile as a URL-safe token for a proxy's /p/TOKEN/simple/ "
        "(spec/profile-token.md; default: print the table)",
    )
    parser.add_argument(
        "--properties",
        type=Path,
        default=None,
        metavar="FILE",
        help="show a saved profile (a 'wn-detect --json' document) instead of detecting "
        "(default: detect this machine)",
    )
    parser.add_argument(
        "--namespace",
        action="append",
        metavar="NS",
        help="only this namespace (repeatable; default: every namespace)",
    )
    parser.add_argument(
        "--timeout",
        default=None,
        metavar="SECONDS",
        help="time limit for each provider, more than 0 and less than a day (default 5)",
    )
    parser.add_argument(
        "--isolation",
        choices=("process", "subprocess", "thread"),
        default="process",
        help="run each provider in its own process (default: forked; 'subprocess': a fresh "
        "interpreter) or, unprotected, in a thread of this one",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="run every provider now, neither reading nor writing the detection cache",
    )
    parser.add_argument(
        "--explain",
        metavar="PROPERTY",
        help="say which provider answers for 'ns :: feature :: value', its version, what "
        "the property means, and whether this machine supports it",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="list every feature on its own row (default: the flags a provider answers "
        "'on' share one row, after its other features)",
    )
    parser.add_argument(
        "--sysroot",
        type=Path,
        default=None,
        metavar="DIR",
        help="read /proc and /sys under DIR (recorded machines; default: /)",
    )
    return parser


def _values(values: tuple[str, ...]) -> str:
    """The best ``SHOWN_VALUES`` values, and how many more ``--all`` would list."""
    shown = ", ".join(values[:SHOWN_VALUES])
    more = len(values) - SHOWN_VALUES
    return f"{shown}, … (+{more} more)" if more > 0 else shown


def _rows(result: ProviderResult, show_all: bool) -> list[tuple[str, str]]:
    """(feature, values) rows of one provider: its features in its own order (the headline
    ones first, as it answers them), then, unless ``show_all``, the on/off flags it
    answers ``on`` folded into one row, and long value lists cut to the best few."""
    if show_all:
        rows = [(f.name, ", ".join(f.values)) for f in result.features]
    else:
        flags = [f.name for f in result.features if tuple(f.values) == ("on",)]
        rows = [(f.name, _values(f.values)) for f in result.features if f.name not in flags]
        if flags:
            rows.append((f"{len(flags)} flag{'s' if len(flags) > 1 else ''} on", ", ".join(flags)))
    return rows or [("", "")]


HEADERS = ("Namespace", "Status", "Provider", "Feature", "Values")
STATUS, VALUES = 1, 4  # the columns that wrap; the others hold names, never cut
NARROWEST = {STATUS: 32, VALUES: 48}  # their width in a file or pipe, or more if room
SHOWN_VALUES = 8  # values of one feature listed without --all (best first)
MAX_WIDTH = 120  # a name column's cap in a file or pipe, against a provider's giant name


def _widths(widest: list[int], total: int) -> list[int]:
    """Column widths for a file or pipe: each name column as wide as its widest cell, the
    status and values columns sharing what is left of ``total``, each at least NARROWEST."""
    widths = [min(max(w, len(h)), MAX_WIDTH) for w, h in zip(widest, HEADERS, strict=True)]
    room = total - 1 - 3 * len(HEADERS)  # one border and two padding per column
    room -= sum(w for n, w in enumerate(widths) if n not in NARROWEST)
    widths[STATUS] = min(widths[STATUS], max(NARROWEST[STATUS], room // 3))
    widths[VALUES] = min(widths[VALUES], max(NARROWEST[VALUES], room - widths[STATUS]))
    return widths


def _table(supported: SupportedProperties, show_all: bool) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if not supported.providers:
        console.print("No variant providers are installed.")
        return
    lines: list[tuple[tuple[str, ...], bool]] = []  # (cells, last row of its provider)
    for result in supported.providers:
        status = result.status if result.error is None else f"{result.status}: {result.error}"
        provider = f"{result.distribution} {result.version}".strip()
        rows = _rows(result, show_all)
        for i, (feature, values) in enumerate(rows):
            first = i == 0
            head = (result.namespace, status, provider) if first else ("", "", "")
            lines.append(((*head, feature, values), i == len(rows) - 1))
    table = Table(
        title="Variant properties of this machine (values best first)",
        caption=None if show_all else "--all lists every value, and each flag on its own row",
    )
    widest = [max(len(cells[n]) for cells, _ in lines) for n in range(len(HEADERS))]
    fixed = not console.is_terminal  # a file or a pipe: names in full, never cut short
    widths = _widths(widest, console.width)
    for n, header in enumerate(HEADERS):
        width = widths[n] if fixed else None
        if n in NARROWEST:
            table.add_column(header, overflow="fold", width=width)
        else:
            table.add_column(header, no_wrap=True, width=width)
    for cells, last in lines:  # Text: what a provider said is never read as rich markup
        table.add_row(*(Text(cell) for cell in cells), end_section=last)
    if fixed:
        needed = 1 + sum(3 + (column.width or 0) for column in table.columns)
        console = Console(width=max(console.width, needed))
    console.print(table)


def _explain(args: argparse.Namespace, prog: str, context: DetectContext | None) -> int:
    """``--explain``: the provider behind one property, its words for it, and this machine."""
    from wheelnext.core.cli._common import fail
    from wheelnext.core.detection import DEFAULT_TIMEOUT, describe_property, detect
    from wheelnext.core.errors import WheelnextError
    from wheelnext.core.properties import VariantProperty

    try:
        prop = VariantProperty.parse(args.explain)
    except WheelnextError as exc:
        return fail(prog, f"--explain: {exc}")
    found = describe_property(prop)
    if found is None:
        return fail(
            prog, f"--explain: no installed provider answers for namespace {prop.namespace!r}"
        )
    undeclared = _undeclared(prop, found.source)
    if undeclared is not None:
        return fail(prog, f"--explain: {undeclared}")
    with _stdout_to_stderr():
        supported = detect(
            [found.source],
            context=context,
            timeout=args.timeout if args.timeout is not None else DEFAULT_TIMEOUT,
            isolation=args.isolation,
            use_cache=False,
            warn_failures=False,
        )
    result = next((r for r in supported.providers if r.namespace == prop.namespace), None)
    values = (
        next((f.values for f in result.features if f.name == prop.feature), ()) if result else ()
    )
    if result is None or result.status != "ok":
        machine = f"provider {result.status if result else 'not run'}"
        machine += f": {result.error}" if result and result.error else ""
    elif prop.value in values:
        machine = f"supported (preference {values.index(prop.value) + 1} of {len(values)})"
    else:
        machine = "not supported"
    report = {
        "property": str(prop),
        "distribution": found.source.distribution,
        "version": found.source.version,
        "provider": found.source.ref,
        "kind": found.source.kind,
        "description": found.text,
        "error": found.error,
        "this_machine": machine,
    }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(report["property"])
    print(
        f"  provider:     {found.source.distribution} {found.source.version} ({found.source.ref})"
    )
    meaning = found.text or (
        f"(describe failed: {found.error})" if found.error else "(no description)"
    )
    print(f"  meaning:      {meaning}")
    print(f"  this machine: {machine}")
    return 0


def _undeclared(prop: VariantProperty, source: ProviderSource) -> str | None:
    """Why ``prop`` is not one its provider declares (naming what it does declare), or None.

    None too when the provider cannot describe itself: ``this machine`` then says so."""
    from wheelnext.core.detection import describe_source

    try:
        description = describe_source(source)
    except Exception:  # a provider's failure is data; the explanation reports it
        return None
    who = f"{source.distribution} {source.version}".strip()
    feature = description.feature(prop.feature)
    if feature is None:
        declared = ", ".join(f.name for f in description.features) or "none"
        return (
            f"{who} declares no feature {prop.feature!r} in namespace {prop.namespace!r} "
            f"(its features: {declared})"
        )
    if prop.value not in feature.values:
        return (
            f"{who} declares no value {prop.value!r} for '{prop.namespace} :: {prop.feature}' "
            f"(its values, best first: {', '.join(feature.values)})"
        )
    return None


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    try:
        status = _main(argv, prog)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return status
    except BrokenPipeError:  # `wn-detect --json | head -1`: the reader is gone; end quietly
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())  # so the flush at exit does not fail again
        os.close(null)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: the provider processes are already gone
        return 130


def _conflict(args: argparse.Namespace) -> str | None:
    """Why the options cannot run together or hold a wrong value (one line), or None."""
    if args.timeout is not None and _seconds(args.timeout) is None:
        return (
            f"--timeout {args.timeout}: expected a number of seconds, more than 0 and "
            "less than 86400"
        )
    if args.sysroot is not None and not args.sysroot.is_dir():
        what = "not a directory" if args.sysroot.exists() else "does not exist"
        return f"--sysroot {args.sysroot}: {what}"
    if args.profile_url and (args.json or args.explain):
        other = "--json" if args.json else "--explain"
        return f"--profile-url prints a token; it cannot be combined with {other}"
    if args.properties is not None and (args.explain or args.sysroot):
        other = "--explain" if args.explain else "--sysroot"
        return f"--properties reads a saved profile; it cannot be combined with {other}"
    return None


def _cached() -> SupportedProperties | None:
    """Every answer from the detection cache, or None (imports no provider machinery)."""
    from wheelnext.core.detect_cache import lookup
    from wheelnext.core.supported import SupportedProperties

    results = lookup()
    return None if results is None else SupportedProperties(tuple(results))


def _stdout_to_stderr() -> contextlib.redirect_stdout[TextIO]:
    """What providers print goes to stderr (imported here: the cached path needs none)."""
    import contextlib

    return contextlib.redirect_stdout(sys.stderr)


QUICK_FLAGS = frozenset({"--json", "--profile-url", "--all", "--no-cache"})


def _arguments(argv: list[str] | None, prog: str | None) -> argparse.Namespace:
    """The parsed command line; the common forms (only flags of ``QUICK_FLAGS``) without
    argparse, whose import and set-up cost ~15 ms, a third of a cached run."""
    given = sys.argv[1:] if argv is None else argv
    if not set(given) <= QUICK_FLAGS:
        return _parser(prog).parse_args(given)
    from types import SimpleNamespace

    defaults = {"namespace": None, "timeout": None, "isolation": "process", "explain": None}
    flags = {flag.removeprefix("--").replace("-", "_"): flag in given for flag in QUICK_FLAGS}
    return SimpleNamespace(properties=None, sysroot=None, **defaults, **flags)  # type: ignore[return-value]


def _main(argv: list[str] | None, prog: str | None) -> int:
    args = _arguments(argv, prog)
    prog = prog or "wn-detect"
    problem = _conflict(args)
    if problem is not None:
        from wheelnext.core.cli._common import fail

        return fail(prog, problem)
    if args.timeout is not None:
        args.timeout = _seconds(args.timeout)
    context = None
    if args.sysroot or args.explain:
        from wheelnext.core.providers import DetectContext

        context = DetectContext(sysroot=args.sysroot) if args.sysroot else None
    if args.explain:
        return _explain(args, prog, context)
    supported: SupportedProperties | None = None
    if args.properties is not None:
        from wheelnext.core.cli._common import fail
        from wheelnext.core.errors import MetadataError
        from wheelnext.core.supported import SupportedProperties

        try:
            supported = SupportedProperties.load(args.properties)
        except MetadataError as exc:
            return fail(prog, f"--properties {exc}")
    elif not args.no_cache and context is None:
        supported = _cached()
    if supported is None:  # providers that print must not corrupt --json
        from wheelnext.core.detection import DEFAULT_TIMEOUT, detect

        with _stdout_to_stderr():
            supported = detect(
                context=context,
                timeout=args.timeout if args.timeout is not None else DEFAULT_TIMEOUT,
                isolation=args.isolation,
                use_cache=False if args.no_cache else None,
                warn_failures=False,  # the status column says it
            )
    if args.namespace:
        known = [result.namespace for result in supported.providers]
        unknown = [ns for ns in dict.fromkeys(args.namespace) if ns not in known]
        if unknown:
            from wheelnext.core.cli._common import fail

            names = ", ".join(sorted(known)) or "none"
            if args.properties is not None:
                problem = f"not in {args.properties} (its namespaces: {names})"
            else:
                problem = f"no installed provider answers for it (installed: {names})"
            return fail(prog, f"--namespace {unknown[0]}: {problem}")
        supported = supported.only(args.namespace)
    if args.profile_url:
        from wheelnext.core.profile_token import ProfileTokenError, encode_profile

        try:
            token = encode_profile(supported)
        except ProfileTokenError as exc:
            from wheelnext.core.cli._common import fail

            return fail(prog, f"--profile-url: {exc}")
        sys.stdout.write(token + "\n")
    elif args.json:
        sys.stdout.write(json.dumps(supported.to_json(), indent=2) + "\n")
    else:
        _table(supported, args.all)
    return 0


if __name__ == "__main__":
    sys.exit(main())
