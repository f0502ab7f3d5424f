"""A real Simple API index on 127.0.0.1 for tests: a static PEP 503/691 tree on disk,
served by ``http.server`` with content negotiation, under any number of index prefixes.

``StaticIndex(root, "corp-a").add(path)`` publishes files; the server answers
``/corp-a/simple/<project>/`` in JSON or HTML by the request's Accept header, serves the
files, and can be told to fail (``503``) or stall for a prefix, as an unreachable index does.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from wheelnext.core.filenames import WheelFilename, parse_variants_json_filename

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def _project(filename: str) -> str:
    if filename.endswith("-variants.json"):
        return canonicalize_name(parse_variants_json_filename(filename)[0])
    return canonicalize_name(WheelFilename.parse(filename).name)


@dataclass
class StaticIndex:
    """One index's tree: ``<root>/<prefix>/files/*`` plus per-project pages."""

    root: Path
    prefix: str
    yanked: dict[str, str] = field(default_factory=dict)
    requires_python: dict[str, str] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    core_metadata: bool = True

    @property
    def files_dir(self) -> Path:
        return self.root / self.prefix / "files"

    def add(self, *paths: Path) -> StaticIndex:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        for path in paths:
            data = path.read_bytes()
            (self.files_dir / path.name).write_bytes(data)
            if self.core_metadata and path.suffix == ".whl":
                from wheelnext.installer.archive import open_zip

                with open_zip(path) as archive:
                    name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
                    (self.files_dir / (path.name + ".metadata")).write_bytes(archive.read(name))
        self.publish()
        return self

    def publish(self) -> None:
        """Write every project's JSON and HTML page from the files present."""
        projects: dict[str, list[Path]] = {}
        for path in sorted(self.files_dir.glob("*")):
            if path.suffix in (".whl", ".json") and not path.name.endswith(".metadata"):
                projects.setdefault(_project(path.name), []).append(path)
        for project, paths in projects.items():
            page = self.root / self.prefix / "simple" / project
            page.mkdir(parents=True, exist_ok=True)
            files: list[dict[str, Any]] = []
            anchors = []
            for path in paths:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                entry: dict[str, Any] = {
                    "filename": path.name,
                    "url": f"../../files/{path.name}",
                    "hashes": {"sha256": digest},
                    "size": path.stat().st_size,
                }
                attrs = ""
                meta = self.files_dir / (path.name + ".metadata")
                if meta.exists():
                    meta_hash = hashlib.sha256(meta.read_bytes()).hexdigest()
                    entry["core-metadata"] = {"sha256": meta_hash}
                    attrs += f' data-core-metadata="sha256={meta_hash}"'
                if path.name in self.requires_python:
                    entry["requires-python"] = self.requires_python[path.name]
                    attrs += (
                        f' data-requires-python="{html.escape(self.requires_python[path.name])}"'
                    )
                if path.name in self.yanked:
                    entry["yanked"] = self.yanked[path.name] or True
                    attrs += f' data-yanked="{html.escape(self.yanked[path.name])}"'
                files.append(entry)
                anchors.append(
                    f'<a href="../../files/{path.name}#sha256={digest}"{attrs}>{path.name}</a><br>'
                )
            doc: dict[str, Any] = {"meta": {"api-version": "1.4"}, "name": project, "files": files}
            head = '<meta name="pypi:repository-version" content="1.4">'
            if project in self.status:
                doc["project-status"] = {"status": self.status[project]}
                head += f'<meta name="pypi:project-status" content="{self.status[project]}">'
            (page / "index.json").write_text(json.dumps(doc))
            (page / "index.html").write_text(
                f"<!DOCTYPE html><html><head>{head}</head><body>{''.join(anchors)}</body></html>"
            )


@dataclass
class Server:
    root: Path
    port: int = 0
    failing: dict[str, int] = field(default_factory=dict)  # prefix → HTTP status
    stalling: dict[str, float] = field(default_factory=dict)  # prefix → seconds
    html_only: set[str] = field(default_factory=set)
    flaky: dict[str, int] = field(default_factory=dict)  # prefix → requests to fail with 503
    requests: list[str] = field(default_factory=list)
    not_modified: int = 0
    # prefix → headers sent with its pages (200 and 304); "ETag": "" sends none, and a
    # "Last-Modified" given here answers a matching If-Modified-Since with 304
    page_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    conditional: list[str] = field(default_factory=list)  # paths asked for conditionally
    file_delay: float = 0.0  # seconds each file (not a page) is held back
    in_flight: int = 0  # file requests being answered now
    most_in_flight: int = 0  # the most file requests answered at once
    _counting: threading.Lock = field(default_factory=threading.Lock)
    held: dict[str, threading.Event] = field(default_factory=dict)  # filename → until set

    def url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.port}/{prefix}/simple"

    def index(self, prefix: str, **options: Any) -> StaticIndex:
        index = StaticIndex(self.root, prefix, **options)
        (self.root / prefix / "simple").mkdir(parents=True, exist_ok=True)
        return index


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            server.requests.append(path)
            prefix = path.strip("/").split("/", 1)[0]
            if prefix in server.stalling:
                time.sleep(server.stalling[prefix])
            if prefix in server.failing:
                self.send_error(server.failing[prefix])
                return
            if server.flaky.get(prefix, 0) > 0:
                server.flaky[prefix] -= 1
                self.send_error(503)
                return
            local = server.root / path.lstrip("/")
            if path.endswith("/"):
                wants_json = JSON_TYPE in self.headers.get("Accept", "")
                if prefix in server.html_only:
                    wants_json = False
                local = local / ("index.json" if wants_json else "index.html")
                content_type = JSON_TYPE if wants_json else "text/html"
            else:
                content_type = "application/octet-stream"
                with server._counting:
                    server.in_flight += 1
                    server.most_in_flight = max(server.most_in_flight, server.in_flight)
                try:
                    time.sleep(server.file_delay)
                    release = server.held.get(path.rsplit("/", 1)[-1])
                    if release is not None:
                        release.wait(60)
                finally:
                    with server._counting:
                        server.in_flight -= 1
            if not local.is_file():
                self.send_error(404)
                return
            data = local.read_bytes()
            extra = dict(server.page_headers.get(prefix, {})) if path.endswith("/") else {}
            etag = extra.pop("ETag", '"' + hashlib.sha256(data).hexdigest()[:16] + '"')
            modified = extra.get("Last-Modified")
            if "If-None-Match" in self.headers or "If-Modified-Since" in self.headers:
                server.conditional.append(path)
            if (etag and self.headers.get("If-None-Match") == etag) or (
                modified and self.headers.get("If-Modified-Since") == modified
            ):
                server.not_modified += 1
                self.send_response(304)
                if etag:
                    self.send_header("ETag", etag)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                return
            self.send_response(200)
            if etag:
                self.send_header("ETag", etag)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    """Clients that time out hang up mid-answer: that is expected here, not an error."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@contextmanager
def serve(root: Path) -> Iterator[Server]:
    """Serve ``root`` on 127.0.0.1 (a free port) until the block ends."""
    state = Server(root)
    httpd = _QuietServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
