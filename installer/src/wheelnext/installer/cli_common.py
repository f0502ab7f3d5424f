"""What the installer's subcommands share: logging and one-line errors, requirement and
index options, the machine's selector, the HTTP client and index set."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from wheelnext.core.cli._common import EXIT_BAD_INPUT, fail
from wheelnext.core.errors import one_line

if TYPE_CHECKING:
    from wheelnext.core.properties import VariantProperty
    from wheelnext.core.selector import Selector
    from wheelnext.core.supported import SupportedProperties
    from wheelnext.installer.http import HttpClient
    from wheelnext.installer.indexes import IndexConfig, IndexSet
    from wheelnext.installer.links import LinkOutcome
    from wheelnext.installer.requirements import Wanted
    from wheelnext.installer.target import Target

PYPI = "https://pypi.org/simple"
# help texts several commands share (argparse fills in %(default)s)
VERBOSE_HELP = "log each step on stderr"
CACHE_DIR_HELP = (
    "keep the cache in DIR: index pages (reused while their Cache-Control says fresh), "
    "downloaded wheels by sha256, and for wn install the unpacked wheels in DIR/unpacked "
    "(default: wheelnext/http and wheelnext/unpacked in the user cache directory, "
    "$XDG_CACHE_HOME or ~/.cache on Linux)"
)
REFRESH_HELP = (
    "ask the index about every cached page, however fresh its Cache-Control says it is "
    "(default: a fresh page is used without a request)"
)
TIMEOUT_HELP = "give up on an index or download after this long (default: %(default)g)"


def run_command(prog: str, verbose: bool, body: Callable[[], int]) -> int:
    """Run ``body`` with ``wheelnext.installer`` logging as ``prog: LEVEL: message`` on
    stderr; a WheelnextError becomes one ``prog: error: ...`` line and exit status 1.
    SIGTERM is handled like SIGINT (the transaction rolls back): exit 143, or 130."""
    from wheelnext.core.errors import WheelnextError
    from wheelnext.installer.interrupts import sigterm_as_interrupt

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{prog}: %(levelname)s: %(message)s"))
    handler.addFilter(_redacted)  # no URL's password reaches the terminal
    log = logging.getLogger("wheelnext.installer")
    log.addHandler(handler)
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    log.propagate = False
    with sigterm_as_interrupt() as terminated:
        try:
            return body()
        except WheelnextError as exc:
            return fail(prog, str(exc))
        except KeyboardInterrupt:
            print(f"{prog}: interrupted; nothing was changed", file=sys.stderr)
            return 143 if terminated else 130
        finally:
            log.removeHandler(handler)


def _redacted(record: logging.LogRecord) -> bool:
    """A logging filter: the record's message with URL credentials masked."""
    from wheelnext.core.errors import redact_urls

    record.msg, record.args = redact_urls(record.getMessage()), None
    return True


MAX_SECONDS = 24 * 3600.0


def seconds(text: str) -> float:
    """A finite number of seconds, above 0 and at most a day (``--timeout``, ``--ttl``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds above 0 and at most {MAX_SECONDS:.0f}, got {text!r}"
        )
    return value


def checked(convert: Callable[[str], object]) -> type[argparse.Action]:
    """An argparse action storing ``convert(value)``: a wrong value is bad input, one
    ``prog: error: OPTION: why`` line and exit 1 (as every other wrong value, and as
    ``wn-detect --timeout``), not argparse's usage text and exit 2 (issue 16)."""

    class Checked(argparse.Action):
        def __call__(
            self,
            parser: argparse.ArgumentParser,
            namespace: argparse.Namespace,
            values: object,
            option: str | None = None,
        ) -> None:
            try:
                value = convert(str(values))
            except argparse.ArgumentTypeError as exc:
                message = one_line(f"{option or self.dest}: {exc}", 300)
                parser.exit(EXIT_BAD_INPUT, f"{parser.prog}: error: {message}\n")
            setattr(namespace, self.dest, value)

    return Checked


Seconds = checked(seconds)  # action=Seconds: --timeout and --ttl of every installer command


def port(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return value


def _first_existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor (what creating ``path`` would run into)."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(path.anchor or ".")


def check_dir(path: Path, option: str, *, create: bool = True) -> None:
    """``path`` is a directory, or (``create``) can become one: nothing on the way is a
    file. Raised early, so a bad ``-o``/``--target``/``--cache-dir`` writes nothing."""
    from wheelnext.installer.errors import InstallerError

    found = _first_existing(path)
    if found == path and path.is_dir():
        return
    if found == path:
        raise InstallerError(f"{option} {path}: not a directory")
    if not create:
        raise InstallerError(f"{option} {path}: no such directory")
    if not found.is_dir():
        raise InstallerError(f"{option} {path}: {found} is not a directory")


def check_output_file(path: Path, option: str) -> None:
    """``path`` can be written as a file: not a directory, in an existing directory."""
    from wheelnext.installer.errors import InstallerError

    if path.is_dir():
        raise InstallerError(f"{option} {path}: is a directory")
    if not path.parent.is_dir():
        raise InstallerError(f"{option} {path}: {path.parent} is not a directory")


def check_wheel_file(path: Path, option: str) -> None:
    """A wheel the user named: an existing regular file."""
    from wheelnext.installer.errors import InstallerError

    if path.is_dir():
        raise InstallerError(f"{path}: is a directory, not a wheel")
    if not path.is_file():
        raise InstallerError(f"{path}: no such file")


def check_index_url(url: str, option: str) -> None:
    """An index is an http(s) URL or a local directory (``file:`` URL or path)."""
    from wheelnext.installer.errors import InstallerError

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError as exc:
        raise InstallerError(f"{option} {url}: invalid URL ({exc})") from None
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise InstallerError(f"{option} {url}: the URL names no host")
        return
    if parts.scheme == "file" or (not parts.scheme and Path(url).is_dir()):
        return
    if not parts.scheme:
        raise InstallerError(f"{option} {url}: not an http(s) URL or a directory")
    raise InstallerError(f"{option} {url}: unsupported URL scheme {parts.scheme!r}")


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
        if not members:
            parser.error(f"{option}: no URL given for {name!r}")
        if option == "--index" and len(members) != 1:
            parser.error(f"{option}: expected one URL for index {name!r}")
        namespace.sources = [*(namespace.sources or []), (option, name, members)]


def add_index_options(p: argparse.ArgumentParser) -> None:
    """The index-priority options ``wn install`` and ``wn proxy`` share (spec/installer.md)."""
    p.add_argument(
        "--find-links",
        action="append",
        default=[],
        metavar="DIR",
        help="also look for wheels in DIR, a flat directory (repeatable; default: none)",
    )
    p.add_argument(
        "--index",
        action=_Sources,
        dest="sources",
        metavar="NAME=URL",
        help="a named index, as a group of its own (repeatable; priority: the order given; "
        "default: none)",
    )
    p.add_argument(
        "--index-group",
        action=_Sources,
        dest="sources",
        metavar="NAME=URL[,URL...]",
        help="a group of equivalent indexes (mirrors), merged inside (repeatable; default: none)",
    )
    p.add_argument(
        "--explicit-index",
        action="append",
        default=[],
        metavar="NAME",
        help="use this named index only for packages pinned to it (repeatable; default: none)",
    )
    p.add_argument(
        "--index-strategy",
        choices=("project", "candidates", "merge-all"),
        default="project",
        help="which groups a project comes from: the first that lists it (project), the first "
        "with a usable file (candidates), or all merged, as pip does (merge-all) "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="PKG=INDEXNAME",
        help="look PKG up on that named index only (repeatable; default: none)",
    )
    p.add_argument(
        "--fallthrough-on-error",
        action="store_true",
        help="treat an unreachable group as not listing the project",
    )
    p.add_argument(
        "--mirror-mismatch",
        choices=("warn", "error"),
        default="warn",
        help="when mirrors of one group offer the same file with different hashes "
        "(default: %(default)s)",
    )


def index_config(
    args: argparse.Namespace, parser: argparse.ArgumentParser, default: list[tuple[str, str]]
) -> IndexConfig:
    """Groups in the order given, then ``default`` (option, URL) indexes and ``--find-links``
    merged as one last group, as pip merges its indexes. The user's ``--index NAME`` and
    ``--index-group NAME`` keep their names; the rest are named by URL or path."""
    from packaging.utils import canonicalize_name

    from wheelnext.installer.errors import InstallerError
    from wheelnext.installer.indexes import Index, IndexConfig, IndexGroup

    explicit = set(args.explicit_index)
    groups = []
    for option, _, urls in args.sources or []:
        for url in urls:
            check_index_url(url, option)
    for option, url in default:
        check_index_url(url, f"--{option.rstrip('-0123456789')}")
    for directory in args.find_links:
        if not Path(directory).is_dir():
            raise InstallerError(f"--find-links {directory}: not a directory")
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
    last = [Index(source_name(url), url) for _, url in default]
    last += [Index(str(Path(d).resolve()), str(Path(d).resolve())) for d in args.find_links]
    if last:  # pip-style sources are named by their URL or path, not by internal names
        groups.append(IndexGroup(", ".join(dict.fromkeys(i.name for i in last)), tuple(last)))
    pins: dict[str, str] = {}
    for pin in args.pin:
        package, sep, index = pin.partition("=")
        if not sep or not package.strip() or not index:
            parser.error(f"--pin: expected PKG=INDEXNAME, got {pin!r}")
        pins[canonicalize_name(package.strip())] = index
    config = IndexConfig(
        tuple(groups), args.index_strategy, pins, args.fallthrough_on_error, args.mirror_mismatch
    )
    known = config.names()
    for index in sorted(set(pins.values()) | explicit):
        if index not in known:  # unknown names fail early, naming the known ones
            raise InstallerError(
                f"no index or index group named {index!r} (known: {', '.join(known) or 'none'})"
            )
    return config


def add_requirement_options(p: argparse.ArgumentParser) -> None:
    """``REQ``, ``-r FILE`` and the index options ``wn install`` and ``wn lock`` share."""
    p.add_argument(
        "requirements", nargs="*", metavar="REQ", help="a requirement (PEP 508), e.g. 'numpy>=2'"
    )
    p.add_argument(
        "-r",
        "--requirement",
        action="append",
        default=[],
        metavar="FILE",
        help="read requirements from FILE (repeatable)",
    )
    p.add_argument(
        "--index-url",
        metavar="URL",
        help="main index: an http(s) URL, or a directory: a Simple API tree "
        f"(DIR/<project>/index.html) or a folder of wheels (default: {PYPI})",
    )
    p.add_argument(
        "--extra-index-url",
        action="append",
        default=[],
        metavar="URL",
        help="another index merged with --index-url, as pip does (repeatable; default: none)",
    )
    p.add_argument(
        "--no-index",
        action="store_true",
        help="use only --find-links and named indexes, no index URL (default: off)",
    )
    add_index_options(p)


def read_roots(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[Wanted]:
    """The requirements given as ``REQ`` and in ``-r`` files; none is a usage error."""
    from wheelnext.installer.errors import InstallerError
    from wheelnext.installer.requirements import Wanted, read_requirements_file

    roots = [Wanted.parse(text, "command line") for text in args.requirements]
    for path in args.requirement:
        try:
            roots += read_requirements_file(path)
        except InstallerError:
            from wheelnext.installer.lock.model import is_lock_name, looks_like_lock

            if is_lock_name(Path(path).name):  # e.g. wn lock -r pylock.toml
                raise InstallerError(f"{path}: a lock file, not a requirements file") from None
            if looks_like_lock(path):  # a lock file under another name
                raise InstallerError(
                    f"{path}: looks like a lock file; name it pylock.toml or "
                    "pylock.NAME.toml (PEP 751)"
                ) from None
            raise
    if not roots:
        parser.error("give at least one requirement (REQ or -r FILE)")
    return roots


def default_indexes(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The pip-style (option, URL) indexes: ``--index-url`` (PyPI unless ``--no-index`` or
    named indexes are given), then each ``--extra-index-url``."""
    default: list[tuple[str, str]] = []
    if not args.no_index and (args.index_url or not args.sources):
        default.append(("index-url", args.index_url or PYPI))
    default += [("extra-index-url", u) for u in args.extra_index_url]
    return default


def source_name(url: str) -> str:
    """How output names an index the user did not name: its URL, credentials hidden."""
    from wheelnext.installer.direct import display

    return display(url)


def supported_properties(path: Path | None) -> SupportedProperties:
    """The profile in ``path`` (``wn-detect --json``), or this machine's, detected with the
    providers' stray output kept off stdout."""
    from wheelnext.core.supported import SupportedProperties

    if path is not None:
        return SupportedProperties.load(path)
    from wheelnext.core.detection import detect

    with contextlib.redirect_stdout(sys.stderr):
        return detect()


def machine_selector(path: Path | None, target: Target) -> Selector:
    """The selector for the profile in ``path`` (or this machine) and ``target``'s tags."""
    from wheelnext.core.priorities import load_user_priorities
    from wheelnext.core.selector import Selector

    supported = supported_properties(path)
    return Selector(supported, priorities=load_user_priorities(), tags=target.tags)


def http_cache(args: argparse.Namespace) -> Path | None:
    """Where index pages and downloaded wheels are cached: ``--cache-dir`` or the user
    cache's ``wheelnext/http`` (platformdirs); None with ``--no-cache``."""
    if args.no_cache:
        return None
    if args.cache_dir is not None:
        return Path(args.cache_dir)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("wheelnext")) / "http"


def links_line(links: LinkOutcome) -> str:
    """What making the wheels' PEP 778 links did: the line ``wn install`` ends with."""
    line = f"Created {links.links} links, saving {links.bytes_saved} bytes"
    return line + (f"; copied {links.copies} instead" if links.copies else "")


@contextlib.contextmanager
def open_indexes(
    args: argparse.Namespace, config: IndexConfig
) -> Iterator[tuple[HttpClient, IndexSet]]:
    """The HTTP client (cached under ``--cache-dir`` or the user cache, unless
    ``--no-cache``) and the index set over ``config``; both closed on the way out."""
    from wheelnext.installer.http import HttpClient
    from wheelnext.installer.indexes import IndexSet

    http = HttpClient(
        http_cache(args), timeout=args.timeout, refresh=getattr(args, "refresh", False)
    )
    indexes = IndexSet(config, http)
    try:
        yield http, indexes
    finally:
        indexes.close()
        http.close()


def variant_suffix(label: str | None, properties: frozenset[VariantProperty] | None = None) -> str:
    """`` [LABEL: NS :: F :: V; ...]`` for a variant wheel (the hardware, not only a label
    that may be a hash), `` [variant LABEL]`` when its properties are not known, nothing
    for a plain wheel."""
    if not label:
        return ""
    if properties is None:
        return f" [variant {label}]"
    from wheelnext.installer.variant_wheels import label_text

    return f" [{label_text(label, properties)}]"
