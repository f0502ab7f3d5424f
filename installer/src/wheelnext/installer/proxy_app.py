"""The proxy as an ASGI application (Starlette), run by uvicorn or gunicorn's workers.

Routes (GET and HEAD only; anything else is 405; files answer byte ranges):

    /simple/{project}/                    the proxy's default profile
    /p/{token}/simple/{project}/          the profile in a ``wn-detect --profile-url`` token
    /files/{key}/{filename}[.metadata]    a file a page listed (the same for every profile)
    /healthz                              {"status": "ok", ...thread counts} (503 when
                                          no thread is left for pages)
    /metrics                              Prometheus text format

Every client is untrusted (one proxy may serve a whole organisation): the raw request
path is checked before routing (length, characters, each segment percent-decoded once),
no response header carries a byte of the request that was not checked, error bodies are
one line, and whatever goes wrong ends in a status and a log line, never a traceback.
Each answer is logged as one JSON object per line (``wheelnext.proxy.access``).

``create_app()`` with no argument reads the settings named by ``WHEELNEXT_PROXY_CONFIG``
(``proxy_config``): that is the factory uvicorn's and gunicorn's workers import.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from filelock import Timeout
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wheelnext.core.errors import WheelnextError, one_line
from wheelnext.installer.proxy import (
    _USERINFO,
    HTML_TYPE,
    JSON_TYPE,
    MAX_PATH,
    MAX_RANGE,
    ByteRange,
    Profile,
    RangeNotSatisfiable,
    Served,
    VariantProxy,
    parse_range,
    path_segments,
    project_name,
    render_html,
    render_json,
    wants_json,
)
from wheelnext.installer.proxy_config import ENV, ProxyConfig, load_config
from wheelnext.installer.proxy_metrics import ROUTES, Metrics, profile_label

T = TypeVar("T")
LOG = logging.getLogger("wheelnext.installer")
ACCESS = logging.getLogger("wheelnext.proxy.access")
MAX_HEADERS = 100  # as http.server: more is 431
MAX_REASON = 160  # characters of an error reason a client reads
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_.-]{1,2000}")
_PRINTABLE = re.compile(r"[^\x20-\x7e]")
STATUSES = frozenset({200, 206, 301, 304, 400, 404, 405, 414, 416, 431, 500, 502, 503, 504})


class UpstreamTimeout(Exception):
    """Raised for 504 answers (the upstream did not answer in time)."""


def _text(status: int, message: str, **headers: str) -> Response:
    """A one-line plain-text answer; the line is printable ASCII only."""
    line = _PRINTABLE.sub("?", one_line(message, MAX_REASON))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    return Response(line + "\n", status, headers, "text/plain; charset=utf-8")


def _is_timeout(exc: BaseException) -> bool:
    """Whether an upstream failure was a timeout (the exception chain names one, or the
    client's one-line message does: index groups join their members' messages)."""
    import httpcore
    import httpx

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.TimeoutException | httpcore.TimeoutException | TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return "Timeout:" in text or "timed out" in text


def logged_path(scope: Scope) -> str:
    """The request path as logs show it: a profile token replaced by its hash (as the
    ``profile`` field), at most 300 characters, undecodable bytes as U+FFFD."""
    raw: bytes = scope.get("raw_path") or str(scope.get("path", "")).encode()
    parts = raw.split(b"/", 3)
    if len(parts) >= 3 and parts[0] == b"" and parts[1] == b"p" and parts[2]:
        info = scope.get("wheelnext") or {}
        label = info.get("profile")
        if label is None:
            label = profile_label(parts[2].decode("ascii", "replace"))
        parts[2] = str(label).encode()
        raw = b"/".join(parts)
    return raw[:300].decode("ascii", "replace")


def _route_of(parts: list[str] | None) -> str:
    if not parts:
        return "other"
    head = parts[2] if parts[0] == "p" and len(parts) > 2 else parts[0]
    if head == "files" and parts[-1].endswith(".metadata"):
        return "metadata"
    return head if head in ROUTES else "other"


class Guard:
    """Checks the raw request before anything routes it: method, header count, path
    length and characters; stores the decoded segments for the endpoint."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope["path"].encode()
        info = scope.setdefault("wheelnext", {})
        answer: Response | None = None
        parts = None
        if scope["method"] not in ("GET", "HEAD"):
            answer = _text(405, "method not allowed (GET and HEAD only)", Allow="GET, HEAD")
        elif len(scope.get("headers") or ()) > MAX_HEADERS:
            answer = _text(431, f"more than {MAX_HEADERS} header lines")
        elif len(raw) > MAX_PATH:
            answer = _text(414, "request path too long")
        else:
            try:
                parts = path_segments(raw.decode("ascii"))
            except UnicodeDecodeError:
                parts = None
            if parts is None:
                answer = _text(400, "bad request path")
        info["route"] = _route_of(parts)
        if answer is not None:
            await answer(scope, receive, send)
            return
        info["parts"] = parts
        scope["path"] = raw.decode("ascii")  # route on the checked, undecoded path
        await self.app(scope, receive, send)


class AccessLog:
    """One JSON line per answer (time, method, path, status, bytes, duration, profile,
    cache) and the request counter; the path is the checked one, JSON-escaped."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.monotonic()
        info: dict[str, Any] = scope.setdefault("wheelnext", {})
        state = {"status": 0, "bytes": 0}

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body":
                state["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            status = state["status"]
            record = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "method": _PRINTABLE.sub("?", str(scope.get("method", "")))[:16],
                "path": logged_path(scope),
                "status": status,
                "bytes": 0 if scope.get("method") == "HEAD" else state["bytes"],
                "duration_ms": round((time.monotonic() - start) * 1000, 2),
                "profile": info.get("profile", "default"),
                "cache": info.get("cache", "-"),
            }
            ACCESS.info(json.dumps(record, ensure_ascii=True))
            if self.metrics is not None:
                shown = str(status) if status in STATUSES else "other"
                self.metrics.requests.labels(info.get("route", "other"), shown).inc()


class Endpoints:
    """The index, files, health and metrics answers over one VariantProxy.

    Pages run in the default thread pool; everything that may wait on an upstream file
    (downloads, ranges, HEADs, metadata) runs in a pool of its own (``files_threads``),
    and requests for a file another request of this worker is already fetching wait in
    the event loop, holding no thread: a crowd asking for one slow file cannot starve
    the pages."""

    def __init__(
        self, proxy: VariantProxy, metrics: Metrics | None, ttl: float, files_threads: int = 64
    ) -> None:
        self.proxy, self.metrics, self.ttl = proxy, metrics, ttl
        self.files_threads = files_threads
        self._files: anyio.CapacityLimiter | None = None  # made in the event loop
        self._fetching: dict[str, anyio.Lock] = {}  # file key -> held by the one fetching

    def _files_limiter(self) -> anyio.CapacityLimiter:
        if self._files is None:
            self._files = anyio.CapacityLimiter(self.files_threads)
        return self._files

    async def _off(self, func: Callable[..., T], *args: Any) -> T:
        """``func(*args)`` in the files thread pool (never the pages' one)."""
        return await anyio.to_thread.run_sync(func, *args, limiter=self._files_limiter())

    async def _fetch_file(self, item: Served) -> tuple[Path, bool]:
        """The stored file, fetched by at most one request of this worker at a time (the
        others wait here, in the event loop; across processes the store's file lock)."""
        key = item.token
        lock = self._fetching.get(key)
        if lock is None:
            lock = self._fetching[key] = anyio.Lock()
        try:
            async with lock:
                return await self._off(self.proxy.fetch_file, item.located)
        finally:
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._fetching.pop(key, None)

    def health(self) -> tuple[int, dict[str, Any]]:
        """The /healthz status and document: thread pools in use, and 503 when none is
        left for pages (page requests would queue)."""
        pages = anyio.to_thread.current_default_thread_limiter()
        files = self._files_limiter()
        saturated = pages.borrowed_tokens >= pages.total_tokens
        doc = {
            "status": "saturated" if saturated else "ok",
            "pages": {"busy": pages.borrowed_tokens, "threads": int(pages.total_tokens)},
            "files": {
                "busy": files.borrowed_tokens,
                "threads": int(files.total_tokens),
                # requests waiting for another request's download of the same file
                "waiting": sum(lock.statistics().tasks_waiting for lock in self._fetching.values()),
            },
        }
        return (503 if saturated else 200), doc

    async def healthz(self, request: Request) -> Response:
        status, doc = self.health()
        body = json.dumps(doc, separators=(",", ":")).encode() + b"\n"
        return Response(body, status, {"Cache-Control": "no-store"}, "application/json")

    async def metrics_page(self, request: Request) -> Response:
        if self.metrics is None:
            return _text(404, "metrics are off")
        body, kind = self.metrics.exposition()
        return Response(body, 200, media_type=kind)

    async def index(self, request: Request) -> Response:
        """Everything under /simple, /p and /files; one answer, whatever happens."""
        info: dict[str, Any] = request.scope["wheelnext"]
        try:
            return await self._route(request, info["parts"], info)
        except WheelnextError as exc:
            return self._upstream_failure(request, exc)
        except Timeout:
            return _text(504, "timed out waiting for another download of this file")
        except Exception as exc:
            LOG.error(
                "%s: internal error: %s: %s",
                one_line(logged_path(request.scope), 200),
                type(exc).__name__,
                one_line(str(exc), 300),
            )
            return _text(500, "internal error (the proxy's log says more)")

    def _upstream_failure(self, request: Request, exc: WheelnextError) -> Response:
        reason = _USERINFO.sub("***@", one_line(str(exc), 400))
        path = one_line(logged_path(request.scope), 200)
        LOG.warning("%s: %s", path, reason)
        timeout = _is_timeout(exc)
        if self.metrics is not None:
            self.metrics.upstream_errors.labels("timeout" if timeout else "error").inc()
        if timeout:
            return _text(504, "upstream timeout: " + reason)
        return _text(502, "upstream error: " + reason)

    async def _route(self, request: Request, parts: list[str], info: dict[str, Any]) -> Response:
        if len(parts) >= 2 and parts[0] == "p":
            token = parts[1]
            if not _TOKEN_CHARS.fullmatch(token):
                return _text(400, "invalid profile token: bad characters or length")
            info["profile"] = profile_label(token)
            from wheelnext.core.profile_token import ProfileTokenError

            try:
                profile = self.proxy.profile(token)
            except ProfileTokenError as exc:
                return _text(400, str(exc))
            prefix = f"/p/{token}"
            rest = parts[2:]
        else:
            profile, prefix, rest = self.proxy.default, "", parts
        if len(rest) in (2, 3) and rest[0] == "simple" and rest[1] and rest[2:] in ([], [""]):
            return await self._project(request, profile, prefix, rest[1], len(rest) == 3)
        if not prefix and len(parts) == 3 and parts[0] == "files":
            return await self._file(request, parts[1], parts[2], info)
        if rest in (["simple"], ["simple", ""]):
            return _text(
                404, "no project list here: ask for /simple/NAME/ (pip and uv never need one)"
            )
        return _text(404, "not found (the index is at /simple/NAME/ or /p/TOKEN/simple/NAME/)")

    async def _project(
        self, request: Request, profile: Profile, prefix: str, name: str, slash: bool
    ) -> Response:
        canonical = project_name(name)
        if canonical is None:
            return _text(404, "not found: not a valid project name")
        if name != canonical or not slash:
            location = f"{prefix}/simple/{canonical}/"
            return Response(b"", 301, {"Location": location}, "text/plain")
        served, hit = await run_in_threadpool(self.proxy.project, canonical, profile)
        request.scope["wheelnext"]["cache"] = "hit" if hit else "miss"
        if served is None:
            return _text(404, f"{canonical}: no upstream index lists it")
        if wants_json(request.headers.get("accept", "")):
            body, kind = render_json(canonical, served), JSON_TYPE
        else:
            body, kind = render_html(canonical, served), HTML_TYPE
        headers = {"Vary": "Accept", "Cache-Control": f"max-age={int(self.ttl)}"}
        return Response(body, 200, headers, kind)

    async def _file(
        self, request: Request, key: str, filename: str, info: dict[str, Any]
    ) -> Response:
        metadata = filename.endswith(".metadata")
        wanted = filename.removesuffix(".metadata") if metadata else filename
        item: Served | None = await run_in_threadpool(self.proxy.served, key)
        if item is None or not wanted or item.filename != wanted:
            return _text(404, "unknown file (request the project page first)")
        if metadata:
            if not item.located.file.core_metadata:
                return _text(404, "no metadata file for this wheel")
            data, hit = await self._off(self.proxy.metadata, item)
            info["cache"] = "hit" if hit else "miss"
            return Response(data, 200, media_type="application/octet-stream")
        if request.method == "HEAD":  # never a download: the size from the store, page or a HEAD
            size = await self._off(self.proxy.size, item)
            info["cache"] = "head"
            if size is None:  # nobody says: no length, no ranges (a GET gets it whole)
                response = Response(b"", 200, media_type="application/octet-stream")
                del response.headers["content-length"]
                return response
            headers = {"Content-Length": str(size), "Accept-Ranges": "bytes"}
            return Response(b"", 200, headers, "application/octet-stream")
        wanted_range = self._range(request)
        if isinstance(wanted_range, Response):
            return wanted_range
        if wanted_range is not None and "if-range" not in request.headers:
            stored = await run_in_threadpool(self.proxy.cached, item)
            if stored is None:
                passed = await self._pass_range(item, wanted_range, info)
                if passed is not None:
                    return passed
        path, hit = await self._fetch_file(item)
        info["cache"] = "hit" if hit else "miss"
        if wanted_range is not None:
            try:
                first, last = wanted_range.resolve(path.stat().st_size)
            except RangeNotSatisfiable as exc:
                return _unsatisfiable(str(exc), path.stat().st_size)
            _set_range(request.scope, f"bytes={first}-{last}")
        return FileResponse(path, media_type="application/octet-stream")

    @staticmethod
    def _range(request: Request) -> ByteRange | Response | None:
        """The one checked byte range a GET asks for (None: the whole file; a Range the
        proxy ignores is taken off the request, so the file answer ignores it too)."""
        header = request.headers.get("range")
        if header is None:
            return None
        try:
            found = parse_range(header)
        except RangeNotSatisfiable as exc:
            return _unsatisfiable(str(exc), None)
        if found is None:
            _set_range(request.scope, None)
        return found

    async def _pass_range(
        self, item: Served, wanted: ByteRange, info: dict[str, Any]
    ) -> Response | None:
        """A range of a file not downloaded yet, by one ranged upstream GET passed through
        unverified and not stored; None when the whole file is to be downloaded instead
        (size unknown, range over MAX_RANGE, a local upstream, the upstream ignored it)."""
        if not item.located.file.url.startswith(("http://", "https://")):
            return None
        size = await self._off(self.proxy.size, item)
        if size is None:
            return None
        try:
            first, last = wanted.resolve(size)
        except RangeNotSatisfiable as exc:
            return _unsatisfiable(str(exc), size)
        if last - first + 1 > MAX_RANGE:
            return None
        data = await self._off(self.proxy.ranged, item, first, last, size)
        if data is None:
            return None
        info["cache"] = "range"
        headers = {"Content-Range": f"bytes {first}-{last}/{size}", "Accept-Ranges": "bytes"}
        return Response(data, 206, headers, "application/octet-stream")


def _unsatisfiable(reason: str, size: int | None) -> Response:
    """416 with one line (and the file's size, when known, as RFC 9110 asks)."""
    headers = {} if size is None else {"Content-Range": f"bytes */{size}"}
    return _text(416, f"range not satisfiable: {reason}", **headers)


def _set_range(scope: Scope, value: str | None) -> None:
    """Replace the request's Range header (None: remove it) before a FileResponse reads
    it: the file answer then serves exactly the range the proxy checked."""
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]
    if value is not None:
        headers.append((b"range", value.encode("ascii")))
    scope["headers"] = headers


def configure_logging(verbose: bool, prog: str = "wn proxy") -> None:
    """The proxy's log lines on stderr (once per process): ``prog: LEVEL: message`` for
    its own messages, bare JSON lines for the access log, uvicorn's warnings alike."""
    from wheelnext.installer.cli_common import _redacted

    log = logging.getLogger("wheelnext.installer")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{prog}: %(levelname)s: %(message)s"))
        handler.addFilter(_redacted)
        log.addHandler(handler)
        log.setLevel(logging.INFO if verbose else logging.WARNING)
        log.propagate = False
    if not ACCESS.handlers:
        access = logging.StreamHandler(sys.stderr)
        access.setFormatter(logging.Formatter("%(message)s"))
        ACCESS.addHandler(access)
        ACCESS.setLevel(logging.INFO)
        ACCESS.propagate = False
    server = logging.getLogger("uvicorn.error")
    if not server.handlers and not logging.getLogger("uvicorn").handlers:  # uvicorn's CLI has
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{prog}: %(levelname)s: %(message)s"))
        server.addHandler(handler)
        server.setLevel(logging.WARNING)
        server.propagate = False


def build(config: ProxyConfig) -> tuple[Starlette, Callable[[], None]]:
    """The application for ``config`` and a function releasing what it holds."""
    from wheelnext.core.priorities import load_user_priorities
    from wheelnext.core.supported import SupportedProperties
    from wheelnext.installer.http import HttpClient
    from wheelnext.installer.indexes import IndexSet
    from wheelnext.installer.proxy_store import ProxyStore

    cache = Path(config.cache_dir)
    pages_http = HttpClient(cache / "http", timeout=config.timeout)
    files_http = HttpClient(None, timeout=config.timeout)
    indexes = IndexSet(config.indexes, pages_http)
    metrics = Metrics()
    proxy = VariantProxy(
        indexes,
        pages_http,
        SupportedProperties.from_json(config.profile, source="the proxy's profile"),
        load_user_priorities(),
        store=ProxyStore(cache / "proxy", config.upstreams_digest()),
        ttl=config.ttl,
        files_http=files_http,
        max_upstream=config.max_upstream_concurrency,
        metrics=metrics,
    )
    threads = max(64, 2 * config.max_upstream_concurrency)
    endpoints = Endpoints(proxy, metrics, config.ttl, threads)

    def close() -> None:
        indexes.close()
        pages_http.close()
        files_http.close()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # pages' threads (files have their own pool: Endpoints)
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        try:
            yield
        finally:
            close()

    app = Starlette(
        routes=[
            Route("/healthz", endpoints.healthz, methods=["GET", "HEAD"]),
            Route("/metrics", endpoints.metrics_page, methods=["GET", "HEAD"]),
            Route("/{rest:path}", endpoints.index, methods=["GET", "HEAD"]),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(Guard)
    app.add_middleware(AccessLog, metrics=metrics)
    return app, close


def create_app() -> Starlette:
    """The factory workers import (``wheelnext.installer.proxy_app:create_app``): the
    application for the settings file named by ``WHEELNEXT_PROXY_CONFIG``."""
    path = os.environ.get(ENV)
    if not path:
        raise SystemExit(f"wn proxy: error: {ENV} is not set (wn proxy --write-config makes one)")
    try:
        config = load_config(Path(path))
    except WheelnextError as exc:
        raise SystemExit(f"wn proxy: error: {exc}") from None
    configure_logging(config.verbose)
    return build(config)[0]
