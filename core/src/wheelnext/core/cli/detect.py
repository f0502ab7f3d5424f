"""``wn-detect``: print this machine's variant properties, provider by provider.

``--json`` prints the profile document (``{"providers": [...]}``) that ``--properties``
options elsewhere read back. Exit 0 even when a provider failed (its status says so).
Each provider runs in its own process (``--isolation``); answers are cached on disk
(``--no-cache`` bypasses the cache). A closed stdout (``| head``) ends quietly.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wheelnext.core.providers import DetectContext
    from wheelnext.core.supported import SupportedProperties


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (``--timeout``)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}")
    return value


def _parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "wn-detect",
        description="Show the variant properties this machine supports, best first.",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON profile")
    parser.add_argument(
        "--namespace",
        action="append",
        metavar="NS",
        help="only this namespace (repeatable)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="time limit for each provider (default 5)",
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
        "--sysroot",
        type=Path,
        default=None,
        metavar="DIR",
        help="read /proc and /sys under DIR (recorded machines)",
    )
    return parser


def _table(supported: SupportedProperties) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if not supported.providers:
        console.print("No variant providers are installed.")
        return
    table = Table(title="Variant properties of this machine (values best first)")
    for column in ("Namespace", "Status", "Provider", "Feature", "Values"):
        table.add_column(column)
    for result in supported.providers:
        status = result.status if result.error is None else f"{result.status}: {result.error}"
        provider = f"{result.distribution} {result.version}".strip()
        rows = [(f.name, ", ".join(f.values)) for f in result.features] or [("", "")]
        for i, (feature, values) in enumerate(rows):
            first = i == 0
            cells = (  # Text: what a provider said is never read as rich markup
                result.namespace if first else "",
                status if first else "",
                provider if first else "",
                feature,
                values,
            )
            table.add_row(*(Text(cell) for cell in cells), end_section=i == len(rows) - 1)
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
    with contextlib.redirect_stdout(sys.stderr):
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


def _cached() -> SupportedProperties | None:
    """Every answer from the detection cache, or None (imports no provider machinery)."""
    from wheelnext.core.detect_cache import lookup
    from wheelnext.core.supported import SupportedProperties

    results = lookup()
    return None if results is None else SupportedProperties(tuple(results))


def _main(argv: list[str] | None, prog: str | None) -> int:
    args = _parser(prog).parse_args(argv)
    context = None
    if args.sysroot or args.explain:
        from wheelnext.core.providers import DetectContext

        context = DetectContext(sysroot=args.sysroot) if args.sysroot else None
    if args.explain:
        return _explain(args, prog or "wn-detect", context)
    supported = None if args.no_cache or context else _cached()
    if supported is None:  # providers that print must not corrupt --json
        from wheelnext.core.detection import DEFAULT_TIMEOUT, detect

        with contextlib.redirect_stdout(sys.stderr):
            supported = detect(
                context=context,
                timeout=args.timeout if args.timeout is not None else DEFAULT_TIMEOUT,
                isolation=args.isolation,
                use_cache=False if args.no_cache else None,
                warn_failures=False,  # the status column says it
            )
    if args.namespace:
        supported = supported.only(args.namespace)
    if args.json:
        sys.stdout.write(json.dumps(supported.to_json(), indent=2) + "\n")
    else:
        _table(supported)
    return 0


if __name__ == "__main__":
    sys.exit(main())
