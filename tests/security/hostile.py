"""A hostile index for attack tests: a raw HTTP server on 127.0.0.1 that answers each
path with exactly the status, headers and bytes a test scripts, optionally dripping them
a byte at a time, and never for longer than ``LIMIT`` seconds per answer."""

from __future__ import annotations

import hashlib
import json
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
LIMIT = 20.0  # no answer lasts longer, whatever a test asks


@dataclass
class Reply:
    """One scripted answer: the raw bytes of the status line and headers come first."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    drip: float = 0.0  # seconds between single bytes (headers and body), 0: all at once
    length: bool = True  # send a Content-Length of the body


@dataclass
class Hostile:
    """The server's script (path → reply) and what clients asked for."""

    port: int = 0
    routes: dict[str, Reply] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def index(self) -> str:
        return f"{self.base}/simple"

    def add_file(self, path: Path, metadata: bytes | None = None) -> dict[str, Any]:
        """Serve ``path`` at ``/files/NAME`` (and ``metadata`` at ``NAME.metadata``); the
        JSON page entry for it, honest unless a test edits it."""
        data = path.read_bytes()
        self.routes[f"/files/{path.name}"] = Reply(data, headers={"Content-Type": "x/y"})
        entry: dict[str, Any] = {
            "filename": path.name,
            "url": f"/files/{path.name}",
            "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
        }
        if metadata is not None:
            self.routes[f"/files/{path.name}.metadata"] = Reply(metadata)
            entry["core-metadata"] = {"sha256": hashlib.sha256(metadata).hexdigest()}
        return entry

    def page(self, project: str, files: list[Any], **extra: Any) -> None:
        """A PEP 691 JSON page for ``project`` with ``files`` as given (any types)."""
        doc = {"meta": {"api-version": "1.1"}, "name": project, "files": files, **extra}
        self.raw_page(project, json.dumps(doc).encode())

    def raw_page(self, project: str, body: bytes, content_type: str = JSON_TYPE) -> None:
        self.routes[f"/simple/{project}/"] = Reply(body, headers={"Content-Type": content_type})


def _answer(handler: socketserver.StreamRequestHandler, reply: Reply) -> None:
    reason = {200: "OK", 404: "Not Found"}.get(reply.status, "Whatever")
    head = f"HTTP/1.1 {reply.status} {reason}\r\n"
    headers = dict(reply.headers)
    if reply.length:
        headers.setdefault("Content-Length", str(len(reply.body)))
    headers.setdefault("Connection", "close")
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    data = head.encode("latin-1") + reply.body
    if not reply.drip:
        handler.wfile.write(data)
        return
    stop = time.monotonic() + LIMIT
    for i in range(len(data)):
        if time.monotonic() > stop:
            return
        handler.wfile.write(data[i : i + 1])
        handler.wfile.flush()
        time.sleep(reply.drip)


def _handler(state: Hostile) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        timeout = LIMIT

        def handle(self) -> None:
            try:
                line = self.rfile.readline(8192).decode("latin-1")
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass
                parts = line.split()
                path = parts[1].split("?", 1)[0] if len(parts) > 1 else "/"
                state.requests.append(path)
                _answer(self, state.routes.get(path, Reply(b"not here\n", status=404)))
            except OSError:  # the client hung up: expected when it gives up on a drip
                pass

    return Handler


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@contextmanager
def hostile() -> Iterator[Hostile]:
    """Run a hostile index on a free port of 127.0.0.1 until the block ends."""
    state = Hostile()
    server = _Server(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
