"""``wn proxy``: a variant-aware Simple API on 127.0.0.1 for unmodified pip and uv."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
from pathlib import Path

from wheelnext.installer.cli_common import (
    add_index_options,
    check_dir,
    index_config,
    port,
    run_command,
    seconds,
)


def _parser(prog: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog or "wn proxy",
        description="Serve the upstream indexes with, per release, only the variant wheel "
        "this machine should install, under a filename every installer accepts.",
    )
    p.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="URL",
        help="an upstream Simple API index (several: merged, after any --index/--index-group)",
    )
    add_index_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    p.add_argument("--port", type=port, default=0, help="port (default: a free one, printed)")
    p.add_argument(
        "--properties",
        type=Path,
        metavar="FILE",
        help="select for another machine (wn-detect --json output) instead of this one",
    )
    p.add_argument("--cache-dir", type=Path, metavar="DIR")
    p.add_argument("--ttl", type=seconds, default=60.0, metavar="SECONDS", help="page lifetime")
    p.add_argument("--timeout", type=seconds, default=15.0, metavar="SECONDS")
    p.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return p


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops the server like Ctrl-C does, so the work directory is removed."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if not args.upstream and not args.sources and not args.find_links:
        parser.error("give at least one --upstream, --index, --index-group or --find-links")
    return run_command(parser.prog, args.verbose, lambda: _serve(args, parser))


def _serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from platformdirs import user_cache_dir

    from wheelnext.core.priorities import load_user_priorities
    from wheelnext.core.supported import SupportedProperties
    from wheelnext.installer.http import HttpClient
    from wheelnext.installer.indexes import IndexSet
    from wheelnext.installer.proxy import VariantProxy, make_server

    default = [(f"upstream-{i + 1}", url) for i, url in enumerate(args.upstream)]
    config = index_config(args, parser, default)
    if args.cache_dir is not None:
        check_dir(args.cache_dir, "--cache-dir")
    if args.properties is not None:
        supported = SupportedProperties.load(args.properties)
    else:
        from wheelnext.core.detection import detect

        with contextlib.redirect_stdout(sys.stderr):
            supported = detect()
    cache = args.cache_dir or Path(user_cache_dir("wheelnext")) / "http"
    http = HttpClient(cache, timeout=args.timeout)
    indexes = IndexSet(config, http)
    with tempfile.TemporaryDirectory(prefix="wheelnext-proxy-") as work:
        proxy = VariantProxy(
            indexes, http, supported, load_user_priorities(), work=Path(work), ttl=args.ttl
        )
        try:
            server = make_server(proxy, args.host, args.port)
        except OSError as exc:
            parser.exit(
                1,
                f"{parser.prog}: error: cannot listen on {args.host}:{args.port}: {exc.strerror}\n",
            )
        signal.signal(signal.SIGTERM, _interrupt)
        port = server.server_address[1]
        print(f"Serving http://{args.host}:{port}/simple/ (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            indexes.close()
            http.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
