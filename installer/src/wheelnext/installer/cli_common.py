"""What the installer's subcommands share: logging and one-line errors, index options."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from wheelnext.core.cli._common import fail

if TYPE_CHECKING:
    from wheelnext.installer.indexes import IndexConfig


def run_command(prog: str, verbose: bool, body: Callable[[], int]) -> int:
    """Run ``body`` with ``wheelnext.installer`` logging as ``prog: LEVEL: message`` on
    stderr; a WheelnextError becomes one ``prog: error: ...`` line and exit status 1."""
    from wheelnext.core.errors import WheelnextError

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{prog}: %(levelname)s: %(message)s"))
    log = logging.getLogger("wheelnext.installer")
    log.addHandler(handler)
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    log.propagate = False
    try:
        return body()
    except WheelnextError as exc:
        return fail(prog, str(exc))
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing was changed", file=sys.stderr)
        return 130
    finally:
        log.removeHandler(handler)


class _Sources(argparse.Action):
    """Keep ``--index`` and ``--index-group`` in the order given: that order is priority."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option: str | None = None,
    ) -> None:
        name, sep, urls = str(values).partition("=")
        if not sep or not name or not urls:
            parser.error(
                f"{option}: expected NAME=URL{'[,URL...]' if option == '--index-group' else ''}"
            )
        members = [u for u in urls.split(",") if u]
        if option == "--index" and len(members) != 1:
            parser.error(f"{option}: expected one URL for index {name!r}")
        namespace.sources = [*(namespace.sources or []), (option, name, members)]


def add_index_options(p: argparse.ArgumentParser) -> None:
    """The index-priority options ``wn install`` and ``wn proxy`` share (spec/installer.md)."""
    p.add_argument("--find-links", action="append", default=[], metavar="DIR")
    p.add_argument(
        "--index",
        action=_Sources,
        dest="sources",
        metavar="NAME=URL",
        help="a named index, as a group of its own (priority: order given)",
    )
    p.add_argument(
        "--index-group",
        action=_Sources,
        dest="sources",
        metavar="NAME=URL[,URL...]",
        help="a group of equivalent indexes (mirrors), merged inside",
    )
    p.add_argument(
        "--explicit-index",
        action="append",
        default=[],
        metavar="NAME",
        help="use this named index only for packages pinned to it",
    )
    p.add_argument(
        "--index-strategy", choices=("project", "candidates", "merge-all"), default="project"
    )
    p.add_argument("--pin", action="append", default=[], metavar="PKG=INDEXNAME")
    p.add_argument(
        "--fallthrough-on-error",
        action="store_true",
        help="treat an unreachable group as not listing the project",
    )
    p.add_argument("--mirror-mismatch", choices=("warn", "error"), default="warn")


def index_config(
    args: argparse.Namespace, parser: argparse.ArgumentParser, default: list[tuple[str, str]]
) -> IndexConfig:
    """Groups in the order given, then ``default`` (name, URL) indexes and ``--find-links``
    merged as one last group, as pip merges its indexes."""
    from packaging.utils import canonicalize_name

    from wheelnext.installer.indexes import Index, IndexConfig, IndexGroup

    explicit = set(args.explicit_index)
    groups = []
    for option, name, urls in args.sources or []:
        members = tuple(
            Index(
                name if option == "--index" else f"{name}[{i}]" if len(urls) > 1 else name,
                url,
                name in explicit,
            )
            for i, url in enumerate(urls)
        )
        groups.append(IndexGroup(name, members))
    last = [Index(name, url) for name, url in default]
    last += [
        Index(f"find-links-{i + 1}", str(Path(d).resolve())) for i, d in enumerate(args.find_links)
    ]
    if last:
        groups.append(IndexGroup("default", tuple(last)))
    pins: dict[str, str] = {}
    for pin in args.pin:
        package, sep, index = pin.partition("=")
        if not sep:
            parser.error(f"--pin: expected PKG=INDEXNAME, got {pin!r}")
        pins[canonicalize_name(package)] = index
    config = IndexConfig(
        tuple(groups), args.index_strategy, pins, args.fallthrough_on_error, args.mirror_mismatch
    )
    for index in set(pins.values()) | explicit:
        config.pinned_group(index)  # unknown names fail early, naming the known ones
    return config
