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
    from wheelnext.core.properties import VariantFeature, VariantProperty
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
    parser.add_argument(
        "--version",
        action="store_true",
        help="print the versions of wheelnext-core and of each installed provider, and exit",
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
        help="time limit for each provider, more than 0 and less than a day (default: 5)",
    )
    parser.add_argument(
        "--isolation",
        choices=("process", "subprocess", "thread"),
        default="process",
        help="run each provider in its own process ('process': a forked child; 'subprocess': "
        "a fresh interpreter) or, unprotected, in a thread of this one (default: process)",
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
        "the property means, and whether this machine supports it; for 'ns :: feature', "
        "list every value its provider declares, best first",
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


SHOWN_VALUES = 8  # values of one feature listed without --all (best first)


def _table(supported: SupportedProperties, show_all: bool, title: str) -> None:
    """Print the table: namespace and status word in narrow columns, then the provider's
    distribution, its reason (absent or failed) and its features, each on its own lines in
    the wide last column. Lines wrap at spaces (values at ``, ``), never inside a word that
    fits; off a terminal the table widens until every name and word fits whole."""
    from rich.cells import cell_len
    from rich.console import Console, Group
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if not supported.providers:
        console.print("No variant providers are installed.")
        return
    results = supported.providers
    rows = [_rows(result, show_all) for result in results]
    feature_width = max(len(feature) for cells in rows for feature, _ in cells)
    table = Table(
        title=title,
        caption=None if show_all else "--all lists every value, and each flag on its own row",
    )
    table.add_column("Namespace", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Provider; features and their values, best first")
    for result, cells in zip(results, rows, strict=True):  # Text: never markup
        parts: list[Text | Table] = []
        provider = f"{result.distribution} {result.version}".strip()
        if provider:
            parts.append(Text(provider, style="bold", overflow="fold"))
        if result.error:  # a word wider than the terminal is folded, not cut short
            parts.append(Text(result.error, style="italic", overflow="fold"))
        features = Table.grid(padding=(0, 2))
        features.add_column(min_width=feature_width)
        features.add_column()
        for feature, values in cells:
            if feature or values:
                features.add_row(Text(feature, overflow="fold"), Text(values, overflow="fold"))
        if features.row_count:
            parts.append(features)
        table.add_row(Text(result.namespace), Text(result.status), Group(*parts), end_section=True)
    if not console.is_terminal:  # a file or a pipe: as wide as keeps words (and each
        # distribution beside its version) whole
        unbounded = console.options.update_width(1_000_000)
        needed = Measurement.get(console, unbounded, table).minimum
        widest = [
            max(cell_len(text) for text in texts)
            for texts in zip(
                ("Namespace", "Status", ""),
                *((r.namespace, r.status, f"{r.distribution} {r.version}") for r in results),
                strict=True,
            )
        ]
        needed = max(needed, 10 + sum(widest))  # 4 borders, 2 padding per column
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
        from wheelnext.core.properties import VariantFeature

        try:  # 'ns :: feature': the values its provider declares
            return _explain_feature(VariantFeature.parse(args.explain), args.json, prog)
        except WheelnextError:
            return fail(prog, f"--explain: {exc}")
    found = describe_property(prop)
    if found is None:
        return fail(
            prog, f"--explain: no installed provider answers for namespace {prop.namespace!r}"
        )
    undeclared = _undeclared(prop, found.source, prog)
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


def _explain_feature(feature: VariantFeature, as_json: bool, prog: str) -> int:
    """``--explain 'ns :: feature'``: the provider of ``feature`` and every value it
    declares, best first, one a line (where the error for an undeclared value points)."""
    from wheelnext.core.cli._common import fail
    from wheelnext.core.detection import describe_source
    from wheelnext.core.discovery import discover

    for source in discover():
        try:
            description = describe_source(source)
        except Exception:  # a provider that cannot describe itself answers for nothing
            continue
        if description.namespace != feature.namespace:
            continue
        declared = description.feature(feature.feature)
        who = f"{source.distribution} {source.version}".strip()
        if declared is None:
            names = tuple(f.name for f in description.features)
            return fail(
                prog,
                f"--explain: {who} declares no feature {feature.feature!r} in namespace "
                f"{feature.namespace!r} ({_some(feature.feature, names, 'features')})",
            )
        if as_json:
            report = {
                "feature": str(feature),
                "distribution": source.distribution,
                "version": source.version,
                "provider": source.ref,
                "kind": source.kind,
                "values": list(declared.values),
            }
            sys.stdout.write(json.dumps(report, indent=2) + "\n")
            return 0
        lines = [
            str(feature),
            f"  provider:     {who} ({source.ref})",
            f"  values:       {len(declared.values)} declared, best first:",
            *(f"    {value}" for value in declared.values),
        ]
        sys.stdout.write("\n".join(lines) + "\n")
        return 0
    return fail(
        prog, f"--explain: no installed provider answers for namespace {feature.namespace!r}"
    )


def _undeclared(prop: VariantProperty, source: ProviderSource, prog: str) -> str | None:
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
        names = tuple(f.name for f in description.features)
        return (
            f"{who} declares no feature {prop.feature!r} in namespace {prop.namespace!r} "
            f"({_some(prop.feature, names, 'features')})"
        )
    if prop.value not in feature.values:
        return (
            f"{who} declares no value {prop.value!r} for '{prop.namespace} :: {prop.feature}' "
            f"({_some(prop.value, tuple(feature.values), 'values, best first')}"
            + (
                ""
                if len(feature.values) <= SHOWN_DECLARED
                else f"; {prog} --explain '{prop.namespace} :: {prop.feature}' lists them"
            )
            + ")"
        )
    return None


SHOWN_DECLARED = 12  # declared values an --explain error lists, of a longer list


def _some(asked: str, values: tuple[str, ...], noun: str) -> str:
    """The declared ``values`` (or feature names) for an error line: all of a short list; of
    a long one (160 CUDA architectures) those nearest ``asked`` (starting with it, else
    alike), else the first few, in order, and how many more: the line stays readable."""
    if len(values) <= SHOWN_DECLARED:
        return f"its {noun}: {', '.join(values) or 'none'}"
    near = [value for value in values if value.startswith(asked)]
    if not near:
        import difflib

        alike = set(difflib.get_close_matches(asked, values, n=SHOWN_DECLARED, cutoff=0.6))
        near = [value for value in values if value in alike]
    shown = (near or list(values))[:SHOWN_DECLARED]
    which = "the nearest" if near else "the first"
    return (
        f"{which} of its {len(values)} {noun}: {', '.join(shown)}, "
        f"… and {len(values) - len(shown)} more"
    )


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
    return SimpleNamespace(properties=None, sysroot=None, version=False, **defaults, **flags)  # type: ignore[return-value]


def _versions(prog: str) -> str:
    """``PROG (wheelnext-core V); providers: DIST V, ...``: one line for a bug report."""
    from wheelnext.core import __version__
    from wheelnext.core.discovery import discover

    found = {f"{s.distribution} {s.version}" if s.distribution else s.name for s in discover()}
    return f"{prog} (wheelnext-core {__version__}); providers: {', '.join(sorted(found)) or 'none'}"


def _main(argv: list[str] | None, prog: str | None) -> int:
    args = _arguments(argv, prog)
    prog = prog or "wn-detect"
    if args.version:
        sys.stdout.write(_versions(prog) + "\n")
        return 0
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
        from wheelnext.core.errors import one_line

        title = (
            "Variant properties of this machine"
            if args.properties is None
            else f"Variant properties in {one_line(str(args.properties), 120)}"
        )
        _table(supported, args.all, title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
