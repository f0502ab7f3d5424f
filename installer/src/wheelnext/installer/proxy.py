"""A variant-aware Simple API proxy: hardware awareness for unmodified pip and uv.

For each project the proxy asks the upstream indexes (with index priority groups, as
``wn install`` does) and, per release and per build of it (same name, version, build
and tags), keeps only the wheel the core selector ranks best for this machine: a variant,
else ``null``, else the non-variant wheel. That wheel is offered under its non-variant
filename, so every installer accepts it; its bytes and hash are the upstream's. Projects
without variant wheels pass through unchanged. Pages are served as HTML and JSON
(PEP 503/691) on 127.0.0.1; upstream pages are revalidated by ETag and files cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from packaging.utils import canonicalize_name

from wheelnext.core.errors import MetadataError, WheelnextError, one_line
from wheelnext.core.filenames import (
    WheelFilename,
    is_variants_json_filename,
    parse_variants_json_filename,
)
from wheelnext.core.metadata import VariantMetadata
from wheelnext.core.priorities import UserPriorities
from wheelnext.core.selector import Selector
from wheelnext.core.supported import SupportedProperties
from wheelnext.installer.finder import check_source, release_metadata
from wheelnext.installer.http import HttpClient
from wheelnext.installer.indexes import IndexSet, Located
from wheelnext.installer.names import storage_path
from wheelnext.installer.simple_api import FileEntry

LOG = logging.getLogger("wheelnext.installer")
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
API_VERSION = "1.1"


def url_key(url: str) -> str:
    """A short stable name for an upstream file: its token in URLs and its cache folder."""
    return hashlib.sha256(url.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Served:
    """One file the proxy offers: the name installers see and the upstream file behind it."""

    filename: str
    located: Located
    why: str = ""

    @property
    def token(self) -> str:
        return url_key(self.located.file.url)


def _label_less(filename: str, wheel: WheelFilename) -> str:
    """The filename without its ``-{label}`` (upstream spelling kept)."""
    if wheel.label is None:
        return filename
    return filename[: -len(f"-{wheel.label}.whl")] + ".whl"


def select_files(
    files: list[Located],
    metadata_for: Callable[[str, list[Located]], VariantMetadata | MetadataError],
    supported: SupportedProperties,
    priorities: UserPriorities,
) -> list[Served]:
    """Per build of each release, the one wheel to offer; other files pass through.

    ``metadata_for(version, files)`` gives a release's combined variant metadata.
    """
    builds: dict[tuple[str, str], dict[str, tuple[Located, WheelFilename]]] = defaultdict(dict)
    served: list[Served] = []
    by_version: dict[str, list[Located]] = defaultdict(list)
    for located in files:
        name = located.file.filename
        if is_variants_json_filename(name):
            by_version[str(parse_variants_json_filename(name)[1])].append(located)
            continue
        if not name.endswith(".whl"):
            served.append(Served(name, located))
            continue
        try:
            wheel = WheelFilename.parse(name)
        except WheelnextError:
            continue
        by_version[str(wheel.version)].append(located)
        key = (str(wheel.version), str(wheel.with_label(None)))
        builds[key][str(wheel)] = (located, wheel)
    for (version, _), members in sorted(builds.items()):
        wheels = [w for _, w in members.values()]
        if not any(w.label is not None for w in wheels):
            served += [Served(loc.file.filename, loc) for loc, _ in members.values()]
            continue
        metadata = metadata_for(version, by_version[version])
        selector = Selector(supported, priorities=priorities, tags=sorted(wheels[0].tags, key=str))
        selection = selector.rank(list(members), metadata)
        if not selection.ranked:
            continue
        best = selection.ranked[0]
        located, wheel = members[str(best.wheel)]
        served.append(Served(_label_less(located.file.filename, wheel), located, best.why))
    return served


class VariantProxy:
    """Computes the pages and serves the files; safe to use from many threads."""

    def __init__(
        self,
        indexes: IndexSet,
        http: HttpClient,
        supported: SupportedProperties,
        priorities: UserPriorities,
        *,
        work: Path,
        ttl: float = 60.0,
    ) -> None:
        self.indexes, self.http, self.supported, self.priorities = (
            indexes,
            http,
            supported,
            priorities,
        )
        self.work, self.ttl = work, ttl
        self._pages: dict[str, tuple[float, list[Served]]] = {}
        self._files: dict[str, Served] = {}
        self._lock = threading.Lock()
        self._fetch_locks: dict[Path, threading.Lock] = {}  # one per file: others go on

    def project(self, project: str) -> list[Served] | None:
        """The files offered for ``project`` (None: no upstream lists it, or it is not a
        project name at all)."""
        canonical = project_name(project)
        if canonical is None:
            return None
        project = canonical
        with self._lock:
            cached = self._pages.get(project)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        self.indexes.forget(project)
        found = self.indexes.lookup(project, lambda entry: True)
        if found.group is None:
            return None
        served = select_files(
            list(found.files),
            lambda version, files: release_metadata(
                self.http,
                self.fetch,
                [f for f in files if is_variants_json_filename(f.file.filename)],
                [f for f in files if f.file.filename.endswith(".whl")],
            ),
            self.supported,
            self.priorities,
        )
        with self._lock:
            self._pages[project] = (time.monotonic(), served)
            self._files.update({s.token: s for s in served})
        for item in served:
            if item.filename != item.located.file.filename:
                LOG.info(
                    "%s: offering %s as %s", project, item.located.file.filename, item.filename
                )
        return served

    def served(self, token: str) -> Served | None:
        with self._lock:
            return self._files.get(token)

    def fetch(self, located: Located) -> Path:
        """The upstream file on disk, downloaded once and verified against its hash."""
        entry = located.file
        check_source(located)
        destination = storage_path(self.work / "files", entry.url, entry.filename)
        with self._lock:
            lock = self._fetch_locks.setdefault(destination, threading.Lock())
        with lock:
            if not destination.is_file():
                self.http.download(
                    entry.url, None, destination, hashes=entry.hashes, expected_size=entry.size
                )
        return destination

    def metadata(self, item: Served) -> bytes:
        """The PEP 658 metadata file of an offered wheel, from upstream, verified against
        the hashes the upstream page gave for it."""
        check_source(item.located)
        entry = item.located.file
        expected = entry.core_metadata if isinstance(entry.core_metadata, dict) else {}
        return self.http.get_bytes(entry.url + ".metadata", expected)


# ---------------------------------------------------------------- rendering


def _entry_json(item: Served) -> dict[str, Any]:
    entry: FileEntry = item.located.file
    out: dict[str, Any] = {
        "filename": item.filename,
        "url": f"/files/{item.token}/{quote(item.filename)}",
        "hashes": dict(entry.hashes),
    }
    if entry.requires_python:
        out["requires-python"] = entry.requires_python
    if entry.yanked is not None:
        out["yanked"] = entry.yanked or True
    if entry.core_metadata:
        out["core-metadata"] = entry.core_metadata
    if entry.size is not None:
        out["size"] = entry.size
    return out


def render_json(project: str, served: list[Served]) -> bytes:
    files = [_entry_json(s) for s in sorted(served, key=lambda s: s.filename)]
    versions: set[str] = set()
    for item in served:
        if item.filename.endswith(".whl"):
            versions.add(str(WheelFilename.parse(item.filename).version))
    doc = {
        "meta": {"api-version": API_VERSION},
        "name": project,
        "files": files,
        "versions": sorted(versions),
    }
    return json.dumps(doc).encode()


def render_html(project: str, served: list[Served]) -> bytes:
    lines = [
        "<!DOCTYPE html>",
        f'<html><head><meta name="pypi:repository-version" content="{API_VERSION}">',
        f"<title>Links for {html.escape(project)}</title></head><body>",
        f"<h1>Links for {html.escape(project)}</h1>",
    ]
    for item in sorted(served, key=lambda s: s.filename):
        entry = _entry_json(item)
        fragment = f"#sha256={entry['hashes']['sha256']}" if "sha256" in entry["hashes"] else ""
        attrs = [f'href="{html.escape(entry["url"] + fragment)}"']
        if "requires-python" in entry:
            attrs.append(f'data-requires-python="{html.escape(entry["requires-python"])}"')
        if "yanked" in entry:
            reason = entry["yanked"] if isinstance(entry["yanked"], str) else ""
            attrs.append(f'data-yanked="{html.escape(reason)}"')
        if "core-metadata" in entry:
            meta = entry["core-metadata"]
            value = (
                f"sha256={meta['sha256']}"
                if isinstance(meta, dict) and "sha256" in meta
                else "true"
            )
            attrs.append(f'data-core-metadata="{value}" data-dist-info-metadata="{value}"')
        lines.append(f"<a {' '.join(attrs)}>{html.escape(item.filename)}</a><br>")
    lines.append("</body></html>")
    return ("\n".join(lines) + "\n").encode()


def wants_json(accept: str) -> bool:
    """PEP 691 negotiation, simplified: JSON when asked for before (or instead of) HTML."""
    accept = accept or ""
    if JSON_TYPE not in accept:
        return False
    html_at = min((accept.find(t) for t in (HTML_TYPE, "text/html") if t in accept), default=-1)
    if html_at < 0:
        return True
    quality = _qualities(accept)
    return quality.get(JSON_TYPE, 1.0) >= max(
        quality.get(HTML_TYPE, 0.0), quality.get("text/html", 0.0)
    )


def _qualities(accept: str) -> dict[str, float]:
    out = {}
    for part in accept.split(","):
        kind, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out[kind.strip()] = q
    return out


# ---------------------------------------------------------------- HTTP
#
# Every client of the proxy is untrusted (a whole organisation may share one): each part
# of a request path is percent-decoded once and checked before it is used, no response
# header carries a byte of the request that was not checked, error bodies are one fixed
# line, and whatever goes wrong while answering ends in a status line and a log line.

MAX_PATH = 1024  # the longest request path we read; a real one is well under 600
MAX_PROJECT = 200  # the longest project name a request may carry
CLIENT_TIMEOUT = 60.0  # seconds a client may stay silent before its connection is closed
_PROJECT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")  # PEP 508 names
_TOKEN = re.compile(r"[0-9a-f]{24}")  # url_key()
_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*")  # RFC 3986 path characters
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def project_name(text: str) -> str | None:
    """The canonical form of ``text`` when it is a PEP 508 project name of at most 200
    characters, else None: the only project names a request may carry upstream."""
    if len(text) > MAX_PROJECT or not _PROJECT.fullmatch(text):
        return None
    return canonicalize_name(text)


def path_segments(target: str) -> list[str] | None:
    """The segments of a request's path (its query dropped), each percent-decoded once as
    UTF-8; None when the path is not ``/`` followed by URL path characters only."""
    path = target.split("?", 1)[0]
    if not _PATH.fullmatch(path):
        return None
    try:
        return [unquote(part, errors="strict") for part in path[1:].split("/")]
    except UnicodeDecodeError:
        return None


def make_server(proxy: VariantProxy, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """The proxy's HTTP server (not started): ``serve_forever()`` runs it."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "wheelnext-proxy"
        timeout = CLIENT_TIMEOUT
        responded = False  # the status line of this request's answer has been sent

        def version_string(self) -> str:
            return self.server_version  # no Python version for the world to see

        def log_message(self, format: str, *args: Any) -> None:
            LOG.info("%s %s", self.address_string(), one_line(format % args, 300))

        def send_response(self, code: int, message: str | None = None) -> None:
            self.responded = True
            super().send_response(code)  # the standard reason phrase, never a message

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            """The standard library's own refusals (a bad request line, too many headers,
            a request line over 64 KiB), with a fixed one-line body: nothing echoed."""
            LOG.info(
                "%s refused (%d): %s", self.address_string(), code, one_line(message or "", 200)
            )
            self.close_connection = True
            self.request_version = "HTTP/1.0"  # a status line even for a line it cannot read
            reason = self.responses.get(code, ("error", ""))[0].lower()
            self._error(code, reason)

        def parse_request(self) -> bool:
            """The request line and headers as the standard library reads them; HTTP/0.9
            (answers without a status line) is refused, any method but GET and HEAD is 405."""
            if not super().parse_request():
                return False
            if self.request_version == "HTTP/0.9":
                self.send_error(400)
                return False
            if self.command in ("GET", "HEAD"):
                return True
            self.close_connection = True
            self._error(405, "method not allowed (GET and HEAD only)", Allow="GET, HEAD")
            return False

        def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key.replace("_", "-"), value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, message: str, **headers: str) -> None:
            body = (one_line(message) + "\n").encode()
            headers.setdefault("X_Content_Type_Options", "nosniff")
            self._send(status, body, "text/plain; charset=utf-8", **headers)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            self.responded = False
            try:
                self._route()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            except WheelnextError as exc:
                reason = one_line(str(exc), 400)
                LOG.warning("%s: %s", one_line(self.path, 200), reason)
                self._fail(502, "upstream error: " + _USERINFO.sub("***@", reason))
            except Exception as exc:
                if self.responded and isinstance(exc, TimeoutError):
                    LOG.info("%s: client too slow; hung up", one_line(self.path, 200))
                    self.close_connection = True
                    return
                LOG.error(
                    "%s: internal error: %s: %s",
                    one_line(self.path, 200),
                    type(exc).__name__,
                    one_line(str(exc), 300),
                )
                self._fail(500, "internal error (the proxy's log says more)")

        def _fail(self, status: int, message: str) -> None:
            """Answer ``status``, or, when the answer has already begun, hang up: the
            client sees a short body, never a second status line inside the first."""
            self.close_connection = True
            if not self.responded:
                with contextlib.suppress(OSError):
                    self._error(status, message)

        def _route(self) -> None:
            if len(self.path.split("?", 1)[0]) > MAX_PATH:
                return self._error(414, "request path too long")
            parts = path_segments(self.path)
            if parts is None:
                return self._error(400, "bad request path")
            if (
                len(parts) in (2, 3)
                and parts[0] == "simple"
                and parts[1]
                and parts[2:] in ([], [""])
            ):
                return self._project(parts[1], slash=len(parts) == 3)
            if len(parts) == 3 and parts[0] == "files":
                return self._file(parts[1], parts[2])
            return self._error(404, "not found (the index is at /simple/NAME/)")

        def _project(self, name: str, *, slash: bool) -> None:
            canonical = project_name(name)
            if canonical is None:
                return self._error(404, "not found: not a valid project name")
            if name != canonical or not slash:
                return self._send(301, b"", "text/plain", Location=f"/simple/{canonical}/")
            served = proxy.project(canonical)
            if served is None:
                return self._error(404, f"{canonical}: no upstream index lists it")
            if wants_json(self.headers.get("Accept", "")):
                body, kind = render_json(canonical, served), JSON_TYPE
            else:
                body, kind = render_html(canonical, served), HTML_TYPE
            self._send(200, body, kind, Vary="Accept", Cache_Control="max-age=60")
            return None

        def _file(self, token: str, filename: str) -> None:
            metadata = filename.endswith(".metadata")
            wanted = filename[: -len(".metadata")] if metadata else filename
            item = proxy.served(token) if _TOKEN.fullmatch(token) else None
            if item is None or not wanted or item.filename != wanted:
                return self._error(404, "unknown file (request the project page first)")
            if metadata:
                return self._send(200, proxy.metadata(item), "application/octet-stream")
            path = proxy.fetch(item.located)
            with path.open("rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                if self.command != "HEAD":
                    shutil.copyfileobj(fh, self.wfile, 2**20)
            return None

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: Any) -> None:
            """A connection that fails outside a request's answer: one log line, no
            traceback (a client hanging up is routine for a server on a network)."""
            kind, exc = sys.exc_info()[:2]
            LOG.info(
                "%s: connection error: %s: %s",
                client_address[0] if isinstance(client_address, tuple) else "?",
                kind.__name__ if kind else "?",
                one_line(str(exc), 200),
            )

    return Server((host, port), Handler)
