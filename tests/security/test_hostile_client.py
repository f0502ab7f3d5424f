"""The attacker is any client of ``wn proxy`` (one proxy may serve a whole organisation):
it sends any bytes as a request line, path, query, method and headers.

Each case starts the real ``wn proxy -v`` over a real index on 127.0.0.1, sends raw
bytes through a socket and checks the answer: the status, only the proxy's own headers
(no injected ones, a ``Location`` only to a checked name), a body of one fixed, safe line
that does not echo the attack, nothing asked of the upstream, the proxy's stderr free of
tracebacks and of control characters, the proxy's cache and work directories and every
file around them byte-identical, and a good request answered afterwards.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import BIN, snapshot
from tests.installer.envs import write_profile
from tests.installer.index import Server, serve
from tests.installer.wheels import build_wheel
from wheelnext.core.profile_token import encode_profile
from wheelnext.core.supported import SupportedProperties

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
WHEEL = "demo-1.0-py3-none-any.whl"
OWN_HEADERS = {
    "server",
    "date",
    "content-type",
    "content-length",
    "location",
    "allow",
    "vary",
    "cache-control",
    "connection",
    "x-content-type-options",
    "accept-ranges",
    "content-range",
}
UNSAFE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)


@dataclass
class Proxy:
    """A running ``wn proxy``: where it listens, its upstream and its stderr."""

    port: int
    world: Path  # the index's files, the proxy's cache (cache/) and its TMPDIR (tmp/)
    upstream: Server
    stderr: Path

    def log(self, since: int = 0) -> str:
        """What the proxy wrote to stderr from byte ``since`` on."""
        with self.stderr.open("rb") as fh:
            fh.seek(since)
            return fh.read().decode("utf-8", errors="replace")

    def logged(self) -> int:
        return self.stderr.stat().st_size


@dataclass
class Answer:
    status: int
    reason: bytes
    headers: list[tuple[str, bytes]]
    body: bytes
    raw: bytes


@contextmanager
def running_proxy(world: Path, stderr: Path, userinfo: str = "") -> Iterator[Proxy]:
    """An index "pypi" listing demo 1.0 under ``world/www`` and ``wn proxy -v`` over it
    (``userinfo``: credentials in the upstream URL, ``user:password@``)."""
    (world / "built").mkdir(parents=True)
    (world / "tmp").mkdir()
    with serve(world / "www") as upstream:
        upstream.index("pypi").add(build_wheel(world / "built", "demo", "1.0"))
        command = [
            str(BIN / "wn"),
            "proxy",
            "-v",
            "--port",
            "0",
            "--upstream",
            upstream.url("pypi").replace("://", "://" + userinfo),
            "--properties",
            str(write_profile(world, ["v3", "v2", "v1"])),
            "--cache-dir",
            str(world / "cache"),
            "--timeout",
            "10",
        ]
        env = {**os.environ, "TMPDIR": str(world / "tmp"), "WHEELNEXT_CONFIG": os.devnull}
        with (
            stderr.open("w") as errors,
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=errors, text=True, env=env
            ) as proc,
        ):
            try:
                assert proc.stdout is not None
                line = proc.stdout.readline()
                assert line.startswith("Serving "), line + stderr.read_text()
                port = int(line.split()[1].split(":")[2].split("/")[0])
                yield Proxy(port, world, upstream, stderr)
            finally:
                proc.terminate()
                proc.wait(timeout=30)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    world = tmp_path_factory.mktemp("world")
    with running_proxy(world, tmp_path_factory.mktemp("logs") / "stderr") as running:
        yield running


def send(proxy: Proxy, raw: bytes) -> Answer:
    """``raw`` as one request on a fresh connection; the whole answer, which must come."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=60) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, blank, body = data.partition(b"\r\n\r\n")
    assert blank, f"no complete answer (a dropped connection?): {data[:300]!r}"
    status_line, *lines = head.split(b"\r\n")
    version, code, reason = status_line.split(b" ", 2)
    assert version in (b"HTTP/1.0", b"HTTP/1.1"), status_line
    headers = []
    for line in lines:
        name, colon, value = line.partition(b":")
        assert colon, f"not a header line: {line!r}"
        headers.append((name.decode("ascii").lower(), value.strip()))
    return Answer(int(code), reason, headers, body, data)


def request(target: bytes, method: bytes = b"GET", accept: bytes = b"*/*") -> bytes:
    return b"%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: %s\r\n\r\n" % (method, target, accept)


def page(proxy: Proxy, target: str = "/simple/demo/") -> tuple[int, bytes]:
    """A well-behaved client's request: the status and body of the answer."""
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=60)
    try:
        connection.request("GET", target, headers={"Accept": JSON_TYPE})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def assert_safe(answer: Answer, status: int, *never: bytes) -> None:
    """``status`` with the proxy's own headers only, a body of one safe line (none for
    HEAD), and none of ``never`` anywhere in the answer."""
    assert answer.status == status, answer.raw[:400]
    assert answer.reason == http.client.responses[status].encode(), answer.reason
    for name, value in answer.headers:
        assert name in OWN_HEADERS, f"injected header {name!r}: {answer.raw[:400]!r}"
        assert re.fullmatch(rb"[\x20-\x7e]*", value), (name, value)
    if answer.body:  # HEAD: the length of the body GET would have
        assert [v for n, v in answer.headers if n == "content-length"] == [b"%d" % len(answer.body)]
    if answer.body:
        text = answer.body.decode("utf-8")
        assert text.endswith("\n"), text[:300]
        assert text.count("\n") == 1, text[:300]
        assert not UNSAFE.search(text), text[:300]
        assert len(text) <= 200, text[:300]
    for bad in never:
        assert bad not in answer.raw, bad[:80]


def assert_clean_log(proxy: Proxy, since: int) -> None:
    """What the proxy logged since byte ``since``: no traceback, no unsafe character."""
    log = proxy.log(since)
    assert "Traceback" not in log, log[-3000:]
    for line in log.splitlines():
        assert not UNSAFE.search(line), repr(line[:300])


def assert_still_serves(proxy: Proxy) -> None:
    status, body = page(proxy)
    assert status == 200
    assert [f["filename"] for f in json.loads(body)["files"]] == [WHEEL]


@contextmanager
def unchanged(proxy: Proxy) -> Iterator[None]:
    """The block asks nothing of the upstream and changes no file of the world."""
    before, asked = snapshot(proxy.world), len(proxy.upstream.requests)
    yield
    assert proxy.upstream.requests[asked:] == []
    assert snapshot(proxy.world) == before


CRLF = b"/simple/a%0d%0aSet-Cookie:%20evil=1%0d%0aX-Injected:%20yes/"
PASSWD = b"root:x:0:0"

# id, raw request, expected status, what the answer must never contain
ATTACKS: list[tuple[str, bytes, int, tuple[bytes, ...]]] = [
    ("crlf-in-name", request(CRLF), 404, (b"evil", b"Set-Cookie", b"Location")),
    ("crlf-in-name-head", request(CRLF, b"HEAD"), 404, (b"evil", b"Location")),
    ("crlf-would-redirect", request(b"/simple/A%0d%0aSet-Cookie:%20evil=1"), 404, (b"evil",)),
    ("lf-only", request(b"/simple/A%0aX-Injected:%20yes"), 404, (b"Injected",)),
    ("nul", request(b"/simple/a%00b/"), 404, (b"a\x00b",)),
    ("encoded-backslash", request(b"/simple/a%5cb/"), 404, (b"a\\b",)),
    ("raw-backslash", request(b"/simple/a\\b/"), 400, (b"a\\b",)),
    ("encoded-slash", request(b"/simple/a%2fb/"), 404, (b"a/b",)),
    ("dotdot", request(b"/simple/../files/x"), 404, ()),
    ("encoded-dotdot", request(b"/simple/%2e%2e/"), 404, (b"..",)),
    ("double-encoded", request(b"/simple/a%250d%250aX-Injected:%2520yes/"), 404, (b"Injected",)),
    ("name-over-200", request(b"/simple/" + b"a" * 201 + b"/"), 404, (b"a" * 201,)),
    ("path-of-5000", request(b"/simple/" + b"a" * 5000 + b"/"), 414, (b"a" * 100,)),
    ("encoded-bidi", request(b"/simple/a%e2%80%aeb/"), 404, ("\u202e".encode(),)),
    ("raw-bidi", request(b"/simple/a\xe2\x80\xaeb/"), 400, (b"\xe2\x80\xae",)),
    ("raw-escape", request(b"/simple/a\x1b[2Jb/"), 400, (b"\x1b",)),
    ("encoded-escape", request(b"/simple/a%1b%5b2Jb/"), 404, (b"\x1b",)),
    ("not-utf8", request(b"/simple/%ff%fe/"), 400, (b"\xff",)),
    ("http-0.9", b"GET /simple/demo/\r\n\r\n", 400, (b"demo",)),
    ("leading-dash", request(b"/simple/-demo/"), 404, ()),
    ("trailing-dot", request(b"/simple/demo./"), 404, ()),
    ("empty-name", request(b"/simple//demo/"), 404, ()),
    ("absolute-form", request(b"http://evil.example/simple/demo/"), 400, (b"evil",)),
    ("fragment", request(b"/simple/demo/#x"), 400, ()),
    ("files-dotdot", request(b"/files/../../../../../../etc/passwd"), 404, (PASSWD,)),
    (
        "files-encoded-dotdot",
        request(b"/files/%2e%2e/%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
        404,
        (PASSWD,),
    ),
    ("files-absolute", request(b"/files/%2fetc/passwd"), 404, (PASSWD,)),
    ("files-unknown-token", request(b"/files/0123456789abcdef01234567/" + WHEEL.encode()), 404, ()),
    ("files-nul-token", request(b"/files/%00/" + WHEEL.encode()), 404, ()),
    ("files-crlf-token", request(b"/files/a%0d%0aX-Injected:%20yes/x"), 404, (b"Injected",)),
    ("files-no-name", request(b"/files/"), 404, ()),
    ("root", request(b"/"), 404, ()),
    ("token-crlf", request(b"/p/1.a%0d%0aX-Injected:%20yes/simple/demo/"), 400, (b"Injected",)),
    ("token-tampered", request(b"/p/1.AAAAAAAAAAAA/simple/demo/"), 400, (b"AAAA",)),
    ("token-over-2000", request(b"/p/1." + b"A" * 2100 + b"/simple/demo/"), 400, (b"A" * 99,)),
    ("token-dotdot", request(b"/p/%2e%2e/simple/demo/"), 400, ()),
    ("token-escape", request(b"/p/1.%1b%5b2J/simple/demo/"), 400, (b"\x1b",)),
    ("token-no-simple", request(b"/p/"), 400, ()),
    ("request-line-over-64k", b"GET /" + b"a" * (65537 - 5), 414, (b"a" * 100,)),
    # far more than the server reads before refusing: the rest is drained, so the kernel
    # has no unread bytes to answer with RST and the 414 reaches the client whole
    ("request-line-of-1m", b"GET /" + b"a" * (1 << 20), 414, (b"a" * 100,)),
    ("bad-version", b"GET /simple/demo/ HTTP/9.9\x1b[2J\r\n", 400, (b"\x1b",)),
    ("garbage-line", b"\x1b[2J\xe2\x80\xae \x00\r\n", 400, (b"\x1b", b"\x00")),
    (
        "101-headers",
        b"GET /simple/demo/ HTTP/1.0\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(101)),
        431,
        (b"X-100",),
    ),
    *(
        (f"method-{m.decode().lower()}", request(b"/simple/demo/", m), 405, ())
        for m in (b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE")
    ),
    ("method-connect", request(b"127.0.0.1:22", b"CONNECT"), 405, ()),
    ("method-escape", request(b"/simple/demo/", b"G\x1b[2JET"), 405, (b"\x1b",)),
    ("method-crlf-path", request(CRLF, b"POST"), 405, (b"evil",)),
]


@pytest.mark.parametrize(
    ("raw", "status", "never"), [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS]
)
def test_hostile_requests_are_refused_safely(
    proxy: Proxy, raw: bytes, status: int, never: tuple[bytes, ...]
) -> None:
    since = proxy.logged()
    with unchanged(proxy):
        answer = send(proxy, raw)
    assert_safe(answer, status, *never)
    if raw.startswith(b"HEAD "):
        assert answer.body == b""
    if status == 405:
        assert dict(answer.headers)["allow"] == b"GET, HEAD"
    assert_clean_log(proxy, since)
    assert_still_serves(proxy)


def test_redirects_name_only_the_checked_name(proxy: Proxy) -> None:
    """A name that is valid but not canonical (or lacks the slash) is redirected to its
    canonical form, built from the checked name; the query is dropped, not echoed."""
    assert_still_serves(proxy)  # the page is fetched once: later answers ask nothing
    since = proxy.logged()
    with unchanged(proxy):
        cases = {
            b"/simple/Demo": b"/simple/demo/",
            b"/simple/demo": b"/simple/demo/",
            b"/simple/DE.mo_/": None,
            b"/simple/De_Mo/?x=%0d%0aSet-Cookie:%20evil=1": b"/simple/de-mo/",
            b"/simple/Demo?%0d%0aX-Injected:%20yes": b"/simple/demo/",
        }
        for target, location in cases.items():
            answer = send(proxy, request(target))
            if location is None:
                assert_safe(answer, 404)
                continue
            assert_safe(answer, 301, b"evil", b"Injected")
            assert dict(answer.headers)["location"] == location
        token = encode_profile(SupportedProperties.from_features({"x86_64": {"level": ["v3"]}}))
        answer = send(
            proxy, request(b"/p/%s/simple/De_Mo?%%0d%%0aX-Injected:%%20yes" % token.encode())
        )
        assert_safe(answer, 301, b"Injected")
        assert dict(answer.headers)["location"] == b"/p/%s/simple/de-mo/" % token.encode()
        assert token not in proxy.log(since)  # the log names a profile by its hash only
        answer = send(
            proxy, request(b"/simple/demo/?x=%0d%0aSet-Cookie:%20evil=1", accept=JSON_TYPE.encode())
        )
        assert answer.status == 200
        assert {n for n, _ in answer.headers} <= OWN_HEADERS
        assert b"evil" not in answer.raw
        assert json.loads(answer.body)["name"] == "demo"
    assert_clean_log(proxy, since)


def test_file_tokens_and_names_are_checked(proxy: Proxy) -> None:
    """Only the exact /files/TOKEN/NAME the project page gave serves a file; any other
    token or name, encoded or not, is 404, reads nothing and writes nothing."""
    since = proxy.logged()
    entry = json.loads(page(proxy)[1])["files"][0]
    url = entry["url"].encode()
    token = url.split(b"/")[2]
    prefix = b"/files/" + token + b"/"
    attacks = [
        prefix + b"..%2f" + WHEEL.encode(),
        prefix + WHEEL.encode() + b"%00",
        prefix + WHEEL.encode() + b"/x",
        prefix + b"%2e%2e",
        prefix,
        prefix + b".metadata",
        prefix + b"..%2f..%2f..%2fetc%2fpasswd",
        b"/files/" + token.upper() + b"/" + WHEEL.encode(),
        b"/files/" + token + b"%00/" + WHEEL.encode(),
        b"/files/%2e%2e%2f" + token + b"/" + WHEEL.encode(),
    ]
    with unchanged(proxy):
        for target in attacks:
            assert_safe(send(proxy, request(target)), 404, PASSWD)
            assert_safe(send(proxy, request(target, b"HEAD")), 404)
        assert_safe(send(proxy, request(url, b"POST")), 405)
    wheel = (proxy.world / "www" / "pypi" / "files" / WHEEL).read_bytes()
    head = send(proxy, request(url, b"HEAD"))
    assert (head.status, head.body) == (200, b"")
    assert dict(head.headers)["content-length"] == b"%d" % len(wheel)
    assert send(proxy, request(url + b"?x=%0d%0aX-Injected:%20yes")).body == wheel
    assert send(proxy, request(url)).body == wheel
    assert_clean_log(proxy, since)


def test_an_internal_error_is_a_500_with_one_line(tmp_path: Path) -> None:
    """Trouble inside the proxy (here: its cache directory is broken under it) answers
    500 with a fixed line and logs one line naming the cause; no traceback, and the
    proxy goes on serving."""
    with running_proxy(tmp_path / "world", tmp_path / "stderr") as running:
        url = json.loads(page(running)[1])["files"][0]["url"]
        files = tmp_path / "world" / "cache" / "proxy" / "files"
        files.parent.mkdir(parents=True, exist_ok=True)
        files.write_bytes(b"")  # where downloads go is now a file
        answer = send(running, request(url.encode()))
        assert_safe(answer, 500, os.fsencode(files))
        assert answer.body == b"internal error (the proxy's log says more)\n"
        assert_clean_log(running, 0)
        errors = [line for line in running.log().splitlines() if ": ERROR: " in line]
        assert len(errors) == 1, running.log()
        assert "internal error: NotADirectoryError" in errors[0], running.log()
        assert_still_serves(running)


def test_upstream_errors_are_one_line_without_credentials(tmp_path: Path) -> None:
    """An upstream failure is 502 with one line naming the index, its credentials
    masked: every client of the proxy reads that line."""
    with running_proxy(tmp_path / "world", tmp_path / "stderr", "alice:s3cret@") as running:
        running.upstream.failing["pypi"] = 503
        answer = send(running, request(b"/simple/demo/"))
        assert_safe(answer, 502, b"s3cret", b"alice")
        assert b"unreachable" in answer.body
        assert_clean_log(running, 0)
        running.upstream.failing.clear()
        assert_still_serves(running)


def test_hostile_ranges_are_refused_or_ignored(tmp_path: Path) -> None:
    """A Range header is checked strictly: malformed, reversed, empty, oversized numbers
    or header-like bytes are 416 with one line, asking the upstream nothing and writing
    nothing. This upstream ignores ranges (200): the proxy then downloads the file whole,
    verified, and serves the range from its store; many ranges or another unit get the
    whole file."""
    with running_proxy(tmp_path / "world", tmp_path / "stderr") as running:
        url = json.loads(page(running)[1])["files"][0]["url"].encode()
        wheel = (running.world / "www" / "pypi" / "files" / WHEEL).read_bytes()

        def ranged(value: bytes) -> bytes:
            return b"GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nRange: %s\r\n\r\n" % (url, value)

        refused = [
            b"bytes=5-2",
            b"bytes=-0",
            b"bytes=%d-" % len(wheel),
            b"bytes=" + b"9" * 40 + b"-",
            b"bytes=0-1\x1b[2J",
            b"bytes=0-1;X-Injected: yes",
            b"bytes=0x10-0x20",
            b"bytes=+1-2",
            b"bytes=\xe2\x80\xae1-2",
        ]
        with unchanged(running):
            for value in refused:
                assert_safe(send(running, ranged(value)), 416, b"\x1b", b"Injected", b"\xe2")
        files = running.world / "cache" / "proxy" / "files"
        asked = len(running.upstream.requests)
        part = send(running, ranged(b"bytes=1-4"))
        assert (part.status, part.body) == (206, wheel[1:5])
        assert running.upstream.requests[asked:] == [f"/pypi/files/{WHEEL}"] * 2
        assert [p.read_bytes() for p in files.rglob(WHEEL)] == [wheel]
        many = send(running, ranged(b",".join(b"%d-%d" % (i, i) for i in range(500))))
        assert (many.status, many.body) == (200, wheel)
        other = send(running, ranged(b"items=0-1"))
        assert (other.status, other.body) == (200, wheel)
        assert running.upstream.requests[asked:] == [f"/pypi/files/{WHEEL}"] * 2
        assert_clean_log(running, 0)
        assert_still_serves(running)
