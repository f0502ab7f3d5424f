"""Running the proxy app under uvicorn: one process, or N worker processes on one socket.

The socket is bound here (so ``--port 0`` can print the port it got before any worker
starts) and handed to uvicorn. Requests uvicorn cannot parse are refused by
``ProxyH11Protocol`` with the same one-line bodies the app uses, and a request line is
judged as soon as it is complete (a client cannot park a malformed line waiting for the
rest of a header block).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import h11
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.protocols.http.h11_impl import H11Protocol

from wheelnext.installer.proxy_config import ENV, ProxyConfig

LOG = logging.getLogger("wheelnext.installer")
FACTORY = "wheelnext.installer.proxy_app:create_app"
# RFC 9112 request-line: method token, a target of visible ASCII, HTTP/1.0 or 1.1
_REQUEST_LINE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [\x21-\x7e]+ HTTP/1\.[01]\r?")
_LOOSE_LINE = re.compile(rb"[^ ]+ [\x21-\x7e]+ HTTP/1\.[01]\r?")
MAX_HEADERS = 100  # as http.server
_MESSAGES = {
    400: "bad request",
    405: "method not allowed (GET and HEAD only)",
    414: "request line too long",
    431: "request header fields too large",
}
HEAD_PEEK = 8192  # bytes of a request head kept to judge its first line
HEAD_TIMEOUT = 60.0  # seconds a client has to send a whole request head
# After a refusal the rest of the request is read and dropped for a while before the
# socket closes: closing with unread bytes makes the kernel send RST, which can destroy
# the refusal before the client reads it (a "lingering close", as Apache and nginx do).
LINGER_SECONDS = 2.0
LINGER_BYTES = 1 << 20


class _HintedConnection(h11.Connection):
    """h11's connection, remembering the status h11 suggests for a request it refused."""

    hint = 400

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.hint = exc.error_status_hint
            raise


class ProxyH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the proxy's refusals: a malformed request line is 400
    at once, an over-long one 414, too many header bytes 431; one fixed line each."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        self.conn = self._hinted = _HintedConnection(h11.SERVER, limit)
        self._head = b""
        self._head_timer: asyncio.TimerHandle | None = None
        self._linger_left: int | None = None  # bytes still dropped after a refusal

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        """Give the next request head HEAD_TIMEOUT seconds to arrive whole (uvicorn
        itself times out only idle keep-alive connections)."""
        self._disarm()
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.info("A client sent no whole request head in time; closing.")
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._linger_left is not None:  # refused: drop what the client still sends
            self._linger_left -= len(data)
            if self._linger_left <= 0:
                self.transport.close()
            return
        if self.conn.their_state is h11.IDLE:  # a request head is arriving
            if len(self._head) < HEAD_PEEK:
                self._head += data[: HEAD_PEEK - len(self._head)]
            line, newline, _ = self._head.partition(b"\n")
            if newline and not _REQUEST_LINE.fullmatch(line):
                self.logger.warning("Invalid HTTP request line received.")
                self._refuse(405 if _LOOSE_LINE.fullmatch(line) else 400)
                return
            ended = b"\r\n\r\n" in self._head or b"\n\n" in self._head
            if not ended and self._head.count(b"\n") > MAX_HEADERS + 1:
                self.logger.warning("Too many header lines received.")
                self._refuse(431)
                return
        else:
            self._head = b""
        super().data_received(data)
        if self._linger_left is None and self.conn.their_state is not h11.IDLE:
            self._disarm()  # a whole head arrived: the app's answer has its own limits

    def on_response_complete(self) -> None:
        self._head = b""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def send_400_response(self, msg: str) -> None:
        if self.conn.our_state not in {h11.IDLE, h11.SEND_RESPONSE}:
            # an answer has begun (or ended) on this connection: a second one would be
            # read as part of it; the connection just ends (the app sees a disconnect)
            self.transport.close()
            return
        status = self._hinted.hint if self._hinted.hint in _MESSAGES else 400
        if status == 431 and b"\n" not in self._head:
            status = 414  # the request line alone is over the limit
        self._refuse(status)

    def _refuse(self, status: int) -> None:
        body = (_MESSAGES[status] + "\n").encode()
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            "server: wheelnext-proxy\r\n"
            "content-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\n"
            "x-content-type-options: nosniff\r\n"
            + ("allow: GET, HEAD\r\n" if status == 405 else "")
            + "connection: close\r\n\r\n"
        ).encode()
        self.transport.write(head + body)
        self._disarm()
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()  # the answer is whole; the client sees EOF after it
        self._linger_left = LINGER_BYTES
        self._head_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: any free port)."""
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = info[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _uvicorn_config(app: Any, workers: int, **extra: Any) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        http=ProxyH11Protocol,
        workers=workers,
        log_config=None,
        access_log=False,  # the app writes its own (JSON) access log
        server_header=False,
        headers=[("server", "wheelnext-proxy")],
        lifespan="on",
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
        **extra,
    )


def serve(
    config: ProxyConfig,
    sock: socket.socket,
    workers: int,
    announce: Callable[[], None],
    max_connections: int = 1024,
) -> None:
    """Serve until SIGINT or SIGTERM: in this process, or in ``workers`` processes
    (each builds the app from a private settings file; metrics in multiprocess mode);
    past ``max_connections`` connections or requests a worker answers 503 (uvicorn's
    ``limit_concurrency``), so a flood cannot use up its file descriptors.
    ``announce()`` runs once the cache exists and the app is built (one process) or
    the workers are about to start on the bound socket."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from wheelnext.installer.proxy_app import build

    if workers == 1:
        app, _ = build(config)
        announce()
        limits = {"limit_concurrency": max_connections, "backlog": max_connections}
        uvicorn.Server(_uvicorn_config(app, 1, **limits)).run(sockets=[sock])
        return
    run_dir = Path(tempfile.mkdtemp(prefix="wheelnext-proxy-"))
    try:
        settings = run_dir / "config.json"
        config.write(settings)
        metrics_dir = run_dir / "metrics"
        metrics_dir.mkdir()
        os.environ[ENV] = str(settings)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        uv_config = _uvicorn_config(
            FACTORY,
            workers,
            factory=True,
            limit_concurrency=max_connections,
            backlog=max_connections,
        )
        announce()
        Multiprocess(uv_config, sockets=[sock]).run()
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(run_dir)
