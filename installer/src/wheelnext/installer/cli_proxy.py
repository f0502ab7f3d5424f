"""``wn proxy``: a variant-aware Simple API for unmodified pip and uv (spec/proxy.md)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from wheelnext.installer.cli_common import (
    Seconds,
    add_index_options,
    check_dir,
    index_config,
    port,
    run_command,
)

if TYPE_CHECKING:
    from wheelnext.installer.indexes import Index, IndexConfig
    from wheelnext.installer.proxy_config import ProxyConfig

MAX_WORKERS = 64


def _count(low: int, high: int) -> type[int]:
    """An argparse type: an integer from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high}, got {text!r}")
        return value

    return parse  # type: ignore[return-value]


def _parser(prog: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog or "wn proxy",
        description="Serve the upstream indexes with, per release, only the variant wheel "
        "a machine should install, under a filename every installer accepts: for this "
        "machine (or --properties) at /simple/, for any machine's profile token "
        "(wn-detect --profile-url) at /p/TOKEN/simple/.",
    )
    p.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="URL_OR_DIR",
        help="an upstream Simple API index or a flat directory of files (repeatable: "
        "merged, after any --index/--index-group); at least one of --upstream, --index, "
        "--index-group or --find-links is required",
    )
    add_index_options(p)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only; any other "
        "address serves the network, without authentication: see spec/proxy.md)",
    )
    p.add_argument(
        "--port", type=port, default=0, help="port (default: a free one, printed on start)"
    )
    p.add_argument(
        "--workers",
        type=_count(1, MAX_WORKERS),
        default=1,
        metavar="N",
        help="worker processes sharing the port and the cache (default: %(default)s)",
    )
    p.add_argument(
        "--properties",
        type=Path,
        metavar="FILE",
        help="the profile served at /simple/: another machine's (wn-detect --json output) "
        "instead of this one's (default: detect this machine)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="the cache shared by all workers (default: the user cache directory's wheelnext)",
    )
    p.add_argument(
        "--ttl",
        action=Seconds,
        default=60.0,
        metavar="SECONDS",
        help="how long an upstream project page is used before it is asked again "
        "(default: %(default)g)",
    )
    p.add_argument(
        "--timeout",
        action=Seconds,
        default=15.0,
        metavar="SECONDS",
        help="upstream timeout per request (default: %(default)g)",
    )
    p.add_argument(
        "--max-upstream-concurrency",
        type=_count(1, 1024),
        default=32,
        metavar="N",
        help="upstream requests in flight at once, per worker (default: %(default)s)",
    )
    p.add_argument(
        "--max-connections",
        type=_count(1, 65535),
        default=1024,
        metavar="N",
        help="open connections (and requests in progress) per worker before new requests "
        "get 503; also the listen backlog (default: %(default)s)",
    )
    p.add_argument(
        "--write-config",
        type=Path,
        metavar="FILE",
        help="write these settings as a JSON file for gunicorn or uvicorn workers "
        "(WHEELNEXT_PROXY_CONFIG) and exit, without serving (default: serve)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log what the proxy does (access lines are always logged; default: off)",
    )
    return p


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if not args.upstream and not args.sources and not args.find_links:
        parser.error("give at least one --upstream, --index, --index-group or --find-links")
    return run_command(parser.prog, args.verbose, lambda: _serve(args, parser))


def _config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ProxyConfig:
    """The checked settings of this command line (the default profile detected once)."""
    from platformdirs import user_cache_dir

    from wheelnext.core.supported import SupportedProperties
    from wheelnext.installer.proxy_config import ProxyConfig

    default = [(f"upstream-{i + 1}", url) for i, url in enumerate(args.upstream)]
    indexes = index_config(args, parser, default)
    if args.cache_dir is not None:
        check_dir(args.cache_dir, "--cache-dir")
    if args.properties is not None:
        supported = SupportedProperties.load(args.properties)
    else:
        from wheelnext.core.detection import detect

        with contextlib.redirect_stdout(sys.stderr):
            supported = detect()
    cache = (args.cache_dir or Path(user_cache_dir("wheelnext"))).absolute()
    indexes = _absolute(indexes)
    return ProxyConfig(
        indexes,
        supported.to_json(),
        str(cache),
        args.ttl,
        args.timeout,
        args.max_upstream_concurrency,
        args.verbose,
    )


def _needs_extra() -> None:
    """The service's libraries are an extra: say how to get them, in one line."""
    from wheelnext.installer.errors import InstallerError

    missing = [m for m in ("starlette", "uvicorn", "prometheus_client") if not _found(m)]
    if missing:
        raise InstallerError(
            f"wn proxy needs {', '.join(missing)}: pip install 'wheelnext-installer[proxy]'"
        )


def _found(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _absolute(indexes: IndexConfig) -> IndexConfig:
    """Directories as absolute paths: workers and a written config may run elsewhere."""
    from dataclasses import replace

    def fix(index: Index) -> Index:
        if index.flat and not index.url.startswith("file:"):
            return replace(index, url=str(Path(index.url).absolute()))
        return index

    groups = tuple(replace(g, members=tuple(fix(m) for m in g.members)) for g in indexes.groups)
    return replace(indexes, groups=groups)


def _serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    _needs_extra()
    config = _config(args, parser)
    if args.write_config is not None:
        from wheelnext.installer.cli_common import check_output_file

        check_output_file(args.write_config, "--write-config")
        config.write(args.write_config)
        print(f"wrote {args.write_config}")
        return 0
    from wheelnext.installer.proxy_app import configure_logging
    from wheelnext.installer.proxy_server import bind, is_loopback, serve

    configure_logging(args.verbose, parser.prog)
    try:
        sock = bind(args.host, args.port, args.max_connections)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        parser.exit(
            1, f"{parser.prog}: error: cannot listen on {args.host}:{args.port}: {reason}\n"
        )
    with sock:
        host, bound = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        if not is_loopback(host):
            from wheelnext.installer.proxy import LOG

            LOG.warning(
                "listening on %s: any machine that reaches it may use it (no authentication;"
                " put it behind a TLS reverse proxy, spec/proxy.md)",
                host,
            )

        def announce() -> None:
            print(f"Serving http://{shown}:{bound}/simple/ (Ctrl-C stops)", flush=True)

        with contextlib.suppress(KeyboardInterrupt):
            serve(config, sock, args.workers, announce, args.max_connections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
