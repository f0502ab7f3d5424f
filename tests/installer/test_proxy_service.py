"""``wn proxy`` as an organisation's service: real uvicorn (started by ``wn proxy``) on
127.0.0.1, real pip and uv from two machines' profiles through one proxy, one shared
cache for threads and worker processes, a worker killed mid-download, health, metrics
and upstream failures."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import BIN
from tests.installer.envs import client, write_profile
from tests.installer.index import JSON_TYPE, Server, StaticIndex
from tests.installer.wheels import build_wheel, variants_json
from wheelnext.core.profile_token import encode_profile
from wheelnext.core.supported import SupportedProperties

LEVELS = {lvl: {"x86_64": {"level": [lvl]}} for lvl in ("v4", "v3")}
V3_WHEEL = "demo-2.0-py3-none-any-v3.whl"
WAIT = 120.0  # seconds a test waits for something that must happen (never asserted on)


@dataclass
class Proxy:
    url: str  # http://127.0.0.1:PORT
    cache: Path
    stderr: Path
    process: subprocess.Popen[str]

    def log(self) -> list[str]:
        return self.stderr.read_text(errors="replace").splitlines()


@contextmanager
def running(
    tmp_path: Path, *args: str, profile: list[str] | None = None, cache: Path | None = None
) -> Iterator[Proxy]:
    """``wn proxy ARGS`` on a free port with its own cache (or ``cache``); stopped after
    the block."""
    cache, stderr = cache or tmp_path / "cache", tmp_path / "proxy.stderr"
    command = [
        str(BIN / "wn"),
        "proxy",
        "--port",
        "0",
        "--cache-dir",
        str(cache),
        "--properties",
        str(write_profile(tmp_path, profile)),
        *args,
    ]
    with (
        stderr.open("w") as errors,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True) as proc,
    ):
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("Serving "), line + stderr.read_text()
            url = line.split()[1].removesuffix("/simple/")
            yield Proxy(url, cache, stderr, proc)
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def token(tmp_path: Path, levels: list[str]) -> str:
    """A profile token made the way users make one: ``wn-detect --profile-url``."""
    proc = subprocess.run(
        [
            str(BIN / "wn-detect"),
            "--profile-url",
            "--properties",
            str(write_profile(tmp_path, levels)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def imported(venv: Path) -> str:
    code = "import demo; print(demo.VERSION, demo.VARIANT)"
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def demo_files(built: Path) -> list[Path]:
    """demo 1.0 plain; demo 2.0 with v4, v3, null and non-variant wheels and variants.json."""
    return [
        build_wheel(built, "demo", "1.0"),
        *(
            build_wheel(built, "demo", "2.0", label=label, properties=p)
            for label, p in LEVELS.items()
        ),
        build_wheel(built, "demo", "2.0", label="null", namespaces=["x86_64"]),
        build_wheel(built, "demo", "2.0"),
        variants_json(built, "demo", "2.0", {**LEVELS, "null": {}}, ["x86_64"]),
    ]


@pytest.fixture
def demo(server: Server, built: Path) -> StaticIndex:
    """``demo_files`` on the test index "pypi", with PEP 658 metadata files."""
    return server.index("pypi").add(*demo_files(built))


@pytest.fixture
def nometa(server: Server, built: Path) -> StaticIndex:
    """``demo_files`` on an index without PEP 658 metadata (as many mirrors): uv reads
    a wheel's METADATA by HEAD and byte ranges."""
    return server.index("pypi", core_metadata=False).add(*demo_files(built))


def test_two_profiles_through_one_proxy_with_pip_and_uv(
    tmp_path: Path, server: Server, demo: StaticIndex
) -> None:
    """One proxy (its own profile: no x86_64 at all); pip with a v4 machine's token and
    uv with a v3 machine's token each get their variant of demo 2.0; /simple/ gets null."""
    v4, v3 = token(tmp_path, ["v4", "v3", "v2", "v1"]), token(tmp_path, ["v3", "v2", "v1"])
    assert v4 != v3
    venvs = {name: tmp_path / name for name in ("pip-v4", "uv-v3", "pip-default")}
    for path in venvs.values():
        subprocess.run(["python3", "-m", "venv", "--without-pip", str(path)], check=True)
    with running(tmp_path, "--upstream", server.url("pypi"), "--workers", "2") as proxy:
        for tool, venv, index in (
            ("pip", venvs["pip-v4"], f"{proxy.url}/p/{v4}/simple"),
            ("uv", venvs["uv-v3"], f"{proxy.url}/p/{v3}/simple"),
            ("pip", venvs["pip-default"], f"{proxy.url}/simple"),
        ):
            proc = client(tool, venv, "install", "--index-url", index, "demo")
            assert proc.returncode == 0, proc.stderr
    access = [json.loads(line) for line in proxy.log() if line.startswith("{")]  # all written
    assert imported(venvs["pip-v4"]) == "2.0 v4"
    assert imported(venvs["uv-v3"]) == "2.0 v3"
    assert imported(venvs["pip-default"]) == "2.0 null"
    profiles = {entry["profile"] for entry in access}
    assert profiles == {
        "default",
        hashlib.sha256(v4.encode()).hexdigest()[:12],
        hashlib.sha256(v3.encode()).hexdigest()[:12],
    }
    assert not any(t in line for line in proxy.log() for t in (v4, v3))  # tokens: never logged
    paths = {entry["path"] for entry in access}
    for t in (v4, v3):
        assert f"/p/{hashlib.sha256(t.encode()).hexdigest()[:12]}/simple/demo/" in paths
    assert {"time", "method", "path", "status", "bytes", "duration_ms", "cache"} <= set(access[0])


def test_concurrent_first_requests_download_once(
    tmp_path: Path, server: Server, demo: StaticIndex
) -> None:
    """16 clients ask at once for a file nobody has fetched, across 2 worker processes:
    the upstream serves it once; everyone gets the upstream's bytes."""
    token_v3 = encode_profile(SupportedProperties.from_features({"x86_64": {"level": ["v3"]}}))
    wheel = (demo.files_dir / V3_WHEEL).read_bytes()
    with running(tmp_path, "--upstream", server.url("pypi"), "--workers", "2") as proxy:
        page = httpx.get(
            f"{proxy.url}/p/{token_v3}/simple/demo/", headers={"Accept": JSON_TYPE}, timeout=WAIT
        )
        entry = next(
            f for f in page.json()["files"] if f["filename"] == "demo-2.0-py3-none-any.whl"
        )
        assert entry["hashes"]["sha256"] == hashlib.sha256(wheel).hexdigest()
        target = str(httpx.URL(proxy.url).join(entry["url"]))

        def fetch(_: int) -> bytes:
            with httpx.Client(timeout=WAIT) as http:  # own connection: spreads over workers
                response = http.get(target)
                assert response.status_code == 200, response.text
                return response.content

        with ThreadPoolExecutor(16) as pool:
            bodies = list(pool.map(fetch, range(16)))
    assert all(body == wheel for body in bodies)
    assert server.requests.count(f"/pypi/files/{V3_WHEEL}") == 1
    stored = list((proxy.cache / "proxy" / "files").rglob(V3_WHEEL))
    assert [p.read_bytes() for p in stored] == [wheel]


class Dribble:
    """An upstream that serves a static index tree (JSON pages, or HTML ones without
    sizes), answers HEAD and single ``bytes=FIRST-LAST`` ranges, and records every
    request; with ``slow``, it sends that file's first half and then waits until
    ``release`` is set (a slow mirror), the rest after."""

    def __init__(self, root: Path, slow: str | None = None, *, html: bool = False) -> None:
        self.root, self.slow, self.html = root, slow, html
        self.release = threading.Event()
        self.started = threading.Event()
        self.requests: list[str] = []  # paths of GETs and HEADs
        self.asked: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.answer()

            def do_GET(self) -> None:
                self.answer()

            def answer(self) -> None:
                path = self.path.split("?", 1)[0]
                outer.requests.append(path)
                outer.asked.append((self.command, path, self.headers.get("Range")))
                local = outer.root / path.lstrip("/")
                if path.endswith("/"):
                    local /= "index.html" if outer.html else "index.json"
                if not local.is_file():
                    self.send_error(404)
                    return
                data = local.read_bytes()
                wanted = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range") or "")
                if wanted and self.command == "GET" and not path.endswith("/"):
                    first, last = int(wanted[1]), min(int(wanted[2]), len(data) - 1)
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
                    data = data[first : last + 1]
                else:
                    self.send_response(200)
                    self.send_header("Accept-Ranges", "bytes")
                page = "text/html" if outer.html else JSON_TYPE
                kind = page if path.endswith("/") else "application/octet-stream"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if local.name == outer.slow and not outer.release.is_set():
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    outer.started.set()
                    outer.release.wait(WAIT)
                    data = data[len(data) // 2 :]
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True

    @contextmanager
    def serving(self) -> Iterator[str]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{self.httpd.server_address[1]}/pypi/simple"
        finally:
            self.release.set()
            self.httpd.shutdown()
            self.httpd.server_close()


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_a_worker_killed_mid_download_leaves_no_corrupt_entry(
    tmp_path: Path, server: Server, demo: StaticIndex
) -> None:
    """The worker downloading a file is SIGKILLed halfway: no cache entry appears, the
    partial file is never served, and the next request downloads it whole and right."""
    wheel = (demo.files_dir / V3_WHEEL).read_bytes()
    digest = hashlib.sha256(wheel).hexdigest()
    upstream = Dribble(demo.root, V3_WHEEL)
    token_v3 = encode_profile(SupportedProperties.from_features({"x86_64": {"level": ["v3"]}}))
    with (
        upstream.serving() as url,
        running(tmp_path, "--upstream", url, "--workers", "2") as proxy,
    ):
        page = httpx.get(
            f"{proxy.url}/p/{token_v3}/simple/demo/", headers={"Accept": JSON_TYPE}, timeout=WAIT
        ).json()
        entry = next(f for f in page["files"] if f["hashes"]["sha256"] == digest)
        target = str(httpx.URL(proxy.url).join(entry["url"]))
        entry_dir = proxy.cache / "proxy" / "files" / digest[:2] / digest
        outcome: list[object] = []

        def first() -> None:
            try:
                outcome.append(httpx.get(target, timeout=WAIT))
            except httpx.HTTPError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=first)
        thread.start()
        _wait_for(upstream.started.is_set, "the download to start")
        _wait_for(lambda: any(entry_dir.glob(".tmp-*/*")), "the partial file")
        (work,) = entry_dir.glob(".tmp-*")
        pid = int(work.name.split("-")[1])  # .tmp-PID-RANDOM: the downloading worker
        assert pid != proxy.process.pid
        os.kill(pid, signal.SIGKILL)
        thread.join(WAIT)
        upstream.release.set()
        assert not (entry_dir / V3_WHEEL).exists()
        (response,) = outcome
        assert not isinstance(response, httpx.Response) or response.status_code != 200
        again = httpx.get(target, timeout=WAIT)
        assert again.status_code == 200, again.text
        assert again.content == wheel
    assert [p.name for p in entry_dir.iterdir()] == [V3_WHEEL]
    assert (entry_dir / V3_WHEEL).read_bytes() == wheel
    assert upstream.requests.count(f"/pypi/files/{V3_WHEEL}") == 2


def test_health_metrics_head_and_bad_tokens(
    tmp_path: Path, server: Server, demo: StaticIndex
) -> None:
    """/healthz answers; a HEAD answers from the page's size without downloading; a
    tampered token is 400 in one line; /metrics parses, and clients inventing tokens
    cannot add more than a bounded number of label values (never a raw token)."""
    good = encode_profile(SupportedProperties.from_features({"x86_64": {"level": ["v3"]}}))
    tampered = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    with running(tmp_path, "--upstream", server.url("pypi")) as proxy:
        health = httpx.get(f"{proxy.url}/healthz")
        assert (health.status_code, health.json()["status"]) == (200, "ok")
        assert health.json()["pages"]["threads"] == 64
        assert health.json()["files"] == {"busy": 0, "threads": 64, "waiting": 0}

        bad = httpx.get(f"{proxy.url}/p/{tampered}/simple/demo/")
        assert bad.status_code == 400
        assert bad.text.startswith("invalid profile token: ")
        assert bad.text.count("\n") == 1
        root = httpx.get(f"{proxy.url}/simple/")
        assert root.status_code == 404
        assert root.text.startswith("no project list here: ask for /simple/NAME/")

        page = httpx.get(f"{proxy.url}/p/{good}/simple/demo/", headers={"Accept": JSON_TYPE})
        entry = next(f for f in page.json()["files"] if f["filename"].startswith("demo-2.0"))
        target = str(httpx.URL(proxy.url).join(entry["url"]))
        head = httpx.head(target)
        assert head.status_code == 200
        assert int(head.headers["content-length"]) == entry["size"]
        assert head.headers["accept-ranges"] == "bytes"
        assert f"/pypi/files/{V3_WHEEL}" not in server.requests  # nothing downloaded

        invented = [
            encode_profile(SupportedProperties.from_features({f"ns{i}": {"f": ["v"]}}))
            for i in range(40)
        ]
        for t in invented:
            assert httpx.get(f"{proxy.url}/p/{t}/simple/demo/").status_code == 200
        text = httpx.get(f"{proxy.url}/metrics").text
        log = proxy.stderr.read_text()
    assert tampered not in log  # a bad token is logged by its hash too
    assert f"/p/{hashlib.sha256(tampered.encode()).hexdigest()[:12]}/simple/demo/" in log
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {
        "wheelnext_proxy_requests",
        "wheelnext_proxy_cache_hits",
        "wheelnext_proxy_cache_misses",
        "wheelnext_proxy_upstream_seconds",
        "wheelnext_proxy_selections",
    } <= set(families)
    profiles = {
        s.labels["profile"]
        for s in families["wheelnext_proxy_selections"].samples
        if s.name.endswith("_total")
    }
    assert "other" in profiles
    assert len(profiles) <= 33
    assert not any(t in text for t in [good, *invented])
    statuses = {
        (s.labels["route"], s.labels["status"])
        for s in families["wheelnext_proxy_requests"].samples
        if s.name.endswith("_total")
    }
    assert {("simple", "400"), ("simple", "200"), ("files", "200"), ("healthz", "200")} <= statuses


def test_head_and_ranges_never_download_a_whole_file(tmp_path: Path, nometa: StaticIndex) -> None:
    """A HEAD answers size and ``Accept-Ranges`` from the page, asking the upstream
    nothing; a range of a file not downloaded yet is one ranged upstream GET passed
    through (206, the right bytes, nothing stored); a bad range is 416 asking nothing;
    several ranges get the whole file (downloaded once, verified, stored), whose ranges
    are then served from the store."""
    wheel = (nometa.files_dir / V3_WHEEL).read_bytes()
    size, file = len(wheel), f"/pypi/files/{V3_WHEEL}"
    upstream = Dribble(nometa.root)
    token_v3 = encode_profile(SupportedProperties.from_features({"x86_64": {"level": ["v3"]}}))
    with upstream.serving() as url, running(tmp_path, "--upstream", url) as proxy:
        page = httpx.get(
            f"{proxy.url}/p/{token_v3}/simple/demo/", headers={"Accept": JSON_TYPE}, timeout=WAIT
        ).json()
        entry = next(f for f in page["files"] if f["hashes"]["sha256"] == sha256(wheel))
        target = str(httpx.URL(proxy.url).join(entry["url"]))
        with httpx.Client(timeout=WAIT) as http:
            head = http.head(target)
            assert (head.status_code, head.headers["accept-ranges"]) == (200, "bytes")
            assert int(head.headers["content-length"]) == size
            assert [a for a in upstream.asked if a[1] == file] == []

            part = http.get(target, headers={"Range": "bytes=10-99"})
            assert part.status_code == 206
            assert part.content == wheel[10:100]
            assert part.headers["content-range"] == f"bytes 10-99/{size}"
            tail = http.get(target, headers={"Range": "bytes=-22"})
            assert (tail.status_code, tail.content) == (206, wheel[-22:])
            assert [a for a in upstream.asked if a[1] == file] == [
                ("GET", file, "bytes=10-99"),
                ("GET", file, f"bytes={size - 22}-{size - 1}"),
            ]
            assert not list((proxy.cache / "proxy").rglob(V3_WHEEL))  # parts: not stored

            beyond = http.get(target, headers={"Range": f"bytes={size}-"})
            assert beyond.status_code == 416
            assert beyond.headers["content-range"] == f"bytes */{size}"
            for bad in ("bytes=9-2", "bytes=-0", "bytes=x-1", "bytes=1-2 3", "bytes=" + "9" * 19):
                refused = http.get(target, headers={"Range": bad})
                assert refused.status_code == 416, bad
                assert refused.text.startswith("range not satisfiable: ")
            assert len([a for a in upstream.asked if a[1] == file]) == 2

            whole = http.get(target, headers={"Range": "bytes=0-1,5-6"})
            assert (whole.status_code, whole.content) == (200, wheel)
            assert whole.headers["accept-ranges"] == "bytes"
            stored = http.get(target, headers={"Range": "bytes=3-6"})
            assert (stored.status_code, stored.content) == (206, wheel[3:7])
    log = [json.loads(line) for line in proxy.log() if line.startswith("{")]  # all written
    assert [a for a in upstream.asked if a[1] == file][2:] == [("GET", file, None)]
    assert [(e["status"], e["cache"]) for e in log if e["status"] == 206] == [
        (206, "range"),
        (206, "range"),
        (206, "hit"),
    ]


def test_head_and_a_range_without_a_declared_size(tmp_path: Path, nometa: StaticIndex) -> None:
    """Upstream HTML pages declare no size: a HEAD asks the upstream's HEAD (once, then
    remembered), never a download; a range is then one ranged GET."""
    wheel = (nometa.files_dir / V3_WHEEL).read_bytes()
    file = f"/pypi/files/{V3_WHEEL}"
    upstream = Dribble(nometa.root, html=True)
    token_v3 = encode_profile(SupportedProperties.from_features({"x86_64": {"level": ["v3"]}}))
    with upstream.serving() as url, running(tmp_path, "--upstream", url) as proxy:
        page = httpx.get(
            f"{proxy.url}/p/{token_v3}/simple/demo/", headers={"Accept": JSON_TYPE}, timeout=WAIT
        ).json()
        entry = next(f for f in page["files"] if f["hashes"]["sha256"] == sha256(wheel))
        assert "size" not in entry
        target = str(httpx.URL(proxy.url).join(entry["url"]))
        with httpx.Client(timeout=WAIT) as http:
            for _ in range(2):
                head = http.head(target)
                assert (head.status_code, head.headers["accept-ranges"]) == (200, "bytes")
                assert int(head.headers["content-length"]) == len(wheel)
            part = http.get(target, headers={"Range": "bytes=0-9"})
            assert (part.status_code, part.content) == (206, wheel[:10])
    assert [a for a in upstream.asked if a[1] == file] == [
        ("HEAD", file, None),
        ("GET", file, "bytes=0-9"),
    ]


def test_uv_reads_metadata_by_ranges_through_the_proxy(tmp_path: Path, nometa: StaticIndex) -> None:
    """Without PEP 658 files, uv's resolution through the proxy (``--dry-run``) reads
    wheels by HEAD and ranges only: no whole wheel leaves the upstream; the install
    after downloads the selected variant once."""
    upstream = Dribble(nometa.root)
    v3 = token(tmp_path, ["v3", "v2", "v1"])
    venv = tmp_path / "venv"
    subprocess.run(["python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    with upstream.serving() as url, running(tmp_path, "--upstream", url) as proxy:
        index = f"{proxy.url}/p/{v3}/simple"
        dry = client("uv", venv, "install", "--dry-run", "--index-url", index, "demo")
        assert dry.returncode == 0, dry.stderr
        wheels = [a for a in upstream.asked if a[1].endswith(".whl")]
        assert wheels, "uv read no wheel"
        assert all(a[2] is not None for a in wheels), wheels  # only ranges
        assert not list((proxy.cache / "proxy" / "files").rglob("*.whl"))
        done = client("uv", venv, "install", "--index-url", index, "demo")
        assert done.returncode == 0, done.stderr
    assert imported(venv) == "2.0 v3"
    whole = [a[1] for a in upstream.asked if a[1].endswith(".whl") and a[2] is None]
    assert whole == [f"/pypi/files/{V3_WHEEL}"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_upstream_failures_are_502_and_504(tmp_path: Path, server: Server) -> None:
    """A failing upstream is 502, one that does not answer within --timeout is 504; each
    with a one-line reason."""
    server.failing["down"] = 503
    server.stalling["slow"] = 30
    with running(
        tmp_path,
        "--index-group",
        f"g1={server.url('down')}",
        "--index-group",
        f"g2={server.url('slow')}",
        "--pin",
        "slowpkg=g2",
        "--timeout",
        "1",
    ) as proxy:
        down = httpx.get(f"{proxy.url}/simple/demo/", timeout=WAIT)
        assert down.status_code == 502
        assert down.text.startswith("upstream error: ")
        slow = httpx.get(f"{proxy.url}/simple/slowpkg/", timeout=WAIT)
        assert slow.status_code == 504
        assert slow.text.startswith("upstream timeout: ")
        assert {down.text.count("\n"), slow.text.count("\n")} == {1}


def _write_settings(tmp_path: Path, server: Server) -> Path:
    """``wn proxy --write-config``: the settings an operator's own server command reads."""
    settings = tmp_path / "proxy.json"
    wrote = subprocess.run(
        [
            str(BIN / "wn"),
            "proxy",
            "--upstream",
            server.url("pypi"),
            "--properties",
            str(write_profile(tmp_path, ["v4", "v3"])),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--write-config",
            str(settings),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrote.returncode == 0, wrote.stderr
    return settings


def _serve_until(command: list[str], env: dict[str, str], banner: str) -> Iterator[int]:
    """Run an operator's server command; yield the port named after ``banner`` on its
    stderr; terminate it afterwards."""
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            assert proc.stderr is not None
            port = None
            for line in proc.stderr:
                if banner in line:
                    port = int(line.split(banner)[1].split()[0])
                    break
            assert port is not None, f"{command[0]} did not start"
            yield port
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def _assert_serves_the_demo(port: int) -> None:
    page = httpx.get(f"http://127.0.0.1:{port}/simple/demo/", headers={"Accept": JSON_TYPE})
    assert page.status_code == 200
    names = sorted(f["filename"] for f in page.json()["files"])
    assert names == ["demo-1.0-py3-none-any.whl", "demo-2.0-py3-none-any.whl"]


def test_settings_file_runs_under_uvicorns_own_command(
    tmp_path: Path, server: Server, demo: StaticIndex
) -> None:
    """``--write-config`` writes the settings; ``uvicorn --factory`` serves them (as an
    operator runs it under a process manager); a broken settings file is one line."""
    settings = _write_settings(tmp_path, server)
    env = {**os.environ, "WHEELNEXT_PROXY_CONFIG": str(settings)}
    command = [
        str(BIN / "uvicorn"),
        "--factory",
        "wheelnext.installer.proxy_app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]
    for port in _serve_until(command, env, "Uvicorn running on http://127.0.0.1:"):
        _assert_serves_the_demo(port)

    settings.write_text(json.dumps({**json.loads(settings.read_text()), "ttl": -1}))
    broken = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert broken.returncode != 0
    assert broken.stderr.strip().splitlines()[-1] == (
        f"wn proxy: error: {settings}: ttl: expected seconds between 0 and 86400"
    )
    assert "Traceback" not in broken.stderr


def test_settings_file_runs_under_gunicorn_as_documented(
    tmp_path: Path, server: Server, demo: StaticIndex
) -> None:
    """spec/proxy.md's gunicorn command (uvicorn-worker workers, summed metrics through
    PROMETHEUS_MULTIPROC_DIR) serves the settings from two workers."""
    settings = _write_settings(tmp_path, server)
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "WHEELNEXT_PROXY_CONFIG": str(settings),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    command = [
        str(BIN / "gunicorn"),
        "-k",
        "uvicorn_worker.UvicornWorker",
        "-w",
        "2",
        "-b",
        "127.0.0.1:0",
        "wheelnext.installer.proxy_app:create_app()",
    ]
    for port in _serve_until(command, env, "Listening at: http://127.0.0.1:"):
        for _ in range(6):  # fresh connections: both workers answer in turn
            _assert_serves_the_demo(port)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        answered = sum(
            sample.value
            for family in text_string_to_metric_families(metrics)
            if family.name == "wheelnext_proxy_requests"
            for sample in family.samples
            if sample.name.endswith("_total") and sample.labels.get("status") == "200"
        )
        assert answered >= 6  # summed across workers, whichever one answered /metrics


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers: expected 1 to 64"),
        (["--max-upstream-concurrency", "x"], "expected a whole number"),
        (["--max-connections", "0"], "--max-connections: expected 1 to 65535"),
    ],
)
def test_bad_service_options(tmp_path: Path, args: list[str], message: str) -> None:
    proc = subprocess.run(
        [str(BIN / "wn"), "proxy", "--upstream", str(tmp_path), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert message in proc.stderr


CROWD = 80  # more than the 64 threads a worker has for pages


def test_a_crowd_waiting_for_one_slow_file_does_not_starve_pages(
    tmp_path: Path, demo: StaticIndex
) -> None:
    """80 clients ask one worker for a file its upstream is still sending: they wait
    without holding the pages' threads, so another project's page is answered (and
    /healthz says 200 with the counts) while the upstream still holds the file back."""
    wheel = (demo.files_dir / V3_WHEEL).read_bytes()
    upstream = Dribble(demo.root, V3_WHEEL)
    other = build_wheel(tmp_path / "flat", "other", "1.0")
    token_v3 = encode_profile(SupportedProperties.from_features({"x86_64": {"level": ["v3"]}}))
    with (
        upstream.serving() as url,
        running(tmp_path, "--upstream", url, "--upstream", str(other.parent)) as proxy,
    ):
        page = httpx.get(
            f"{proxy.url}/p/{token_v3}/simple/demo/", headers={"Accept": JSON_TYPE}, timeout=WAIT
        ).json()
        entry = next(f for f in page["files"] if f["filename"] == "demo-2.0-py3-none-any.whl")
        target = str(httpx.URL(proxy.url).join(entry["url"]))
        bodies: list[bytes] = []

        def fetch(_: int) -> None:
            with httpx.Client(timeout=WAIT) as http:
                bodies.append(http.get(target).content)

        with ThreadPoolExecutor(CROWD) as pool:
            for i in range(CROWD):
                pool.submit(fetch, i)
            _wait_for(upstream.started.is_set, "the download to start")

            def crowd_waiting() -> bool:
                files = httpx.get(f"{proxy.url}/healthz", timeout=WAIT).json()["files"]
                return bool(files["waiting"] == CROWD - 1)

            _wait_for(crowd_waiting, "every client to wait for the download")
            answered = httpx.get(f"{proxy.url}/simple/other/", timeout=WAIT)
            health = httpx.get(f"{proxy.url}/healthz", timeout=WAIT)
            held = not upstream.release.is_set() and not bodies
            upstream.release.set()
        assert answered.status_code == 200, answered.text
        assert "other-1.0-py3-none-any.whl" in answered.text
        assert held  # the page came while the upstream still held the file back
        assert health.status_code == 200
        assert health.json()["files"]["busy"] == 1  # one thread downloads for all of them
    assert bodies == [wheel] * CROWD
    assert upstream.requests.count(f"/pypi/files/{V3_WHEEL}") == 1


def test_proxies_over_other_upstreams_sharing_a_cache_serve_only_their_own_files(
    tmp_path: Path,
) -> None:
    """Two proxies share one --cache-dir: the one over a public upstream does not serve
    a file that only the other's (private) upstream listed, whatever the client knows."""
    secret = build_wheel(tmp_path / "private", "secretpkg", "1.0")
    public = build_wheel(tmp_path / "public", "pkga", "1.0")
    cache = tmp_path / "shared-cache"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        running(tmp_path / "a", "--upstream", str(secret.parent), cache=cache) as private,
        running(tmp_path / "b", "--upstream", str(public.parent), cache=cache) as open_,
    ):
        link = httpx.get(f"{private.url}/simple/secretpkg/", headers={"Accept": JSON_TYPE})
        url = link.json()["files"][0]["url"]
        assert httpx.get(f"{private.url}{url}").content == secret.read_bytes()
        assert httpx.get(f"{open_.url}/simple/secretpkg/").status_code == 404
        leaked = httpx.get(f"{open_.url}{url}")
        assert leaked.status_code == 404, leaked.content[:100]
        mine = httpx.get(f"{open_.url}/simple/pkga/", headers={"Accept": JSON_TYPE})
        assert httpx.get(f"{open_.url}{mine.json()['files'][0]['url']}").content == (
            public.read_bytes()
        )


def test_a_file_listed_without_a_hash_is_fetched_again_after_the_ttl(tmp_path: Path) -> None:
    """A flat-directory upstream gives no hashes: once the proxy has the file, pages carry
    the sha256 it computed; when the upstream file changes, the proxy serves the new
    bytes (and their sha256) once the TTL has passed, not the old ones forever."""
    first = build_wheel(tmp_path / "up", "pkga", "1.0")
    old = first.read_bytes()
    with running(tmp_path, "--upstream", str(first.parent), "--ttl", "1") as proxy:

        def listed() -> dict[str, object]:
            page = httpx.get(f"{proxy.url}/simple/pkga/", headers={"Accept": JSON_TYPE})
            return dict(page.json()["files"][0])

        entry = listed()
        assert entry["hashes"] == {}
        target = f"{proxy.url}{entry['url']}"
        assert httpx.get(target).content == old
        assert listed()["hashes"] == {"sha256": sha256(old)}
        html = httpx.get(f"{proxy.url}/simple/pkga/").text
        assert f"#sha256={sha256(old)}" in html
        build_wheel(tmp_path / "up", "pkga", "1.0", files={"pkga/data.txt": b"NEW" * 10})
        new = first.read_bytes()
        assert new != old
        _wait_for(lambda: httpx.get(target).content == new, "the new upstream bytes")
        _wait_for(lambda: listed()["hashes"] == {"sha256": sha256(new)}, "the new sha256")


def test_connections_over_the_limit_get_503(tmp_path: Path, server: Server) -> None:
    """--max-connections 2: with two connections open, a third request gets 503 (not a
    hang or a crash); once they close, requests are answered again."""
    import socket

    with running(tmp_path, "--upstream", server.url("pypi"), "--max-connections", "2") as proxy:
        address = httpx.URL(proxy.url)
        assert address.port is not None
        idle = [socket.create_connection((address.host, address.port)) for _ in range(2)]
        try:
            _wait_for(
                lambda: httpx.get(f"{proxy.url}/healthz").status_code == 503,
                "the connection limit",
            )
        finally:
            for sock in idle:
                sock.close()
        _wait_for(lambda: httpx.get(f"{proxy.url}/healthz").status_code == 200, "a free slot")


def test_connections_refused_by_the_http_parser_are_closed(tmp_path: Path, server: Server) -> None:
    """--max-connections 2: two clients whose heads h11 refuses (a header line with a
    space in its name) get their 400 and then hold their sockets open without a word; the
    proxy closes them after its short linger, so other clients are answered again."""
    import socket

    with running(tmp_path, "--upstream", server.url("pypi"), "--max-connections", "2") as proxy:
        address = httpx.URL(proxy.url)
        assert address.port is not None
        silent = []
        try:
            for _ in range(2):
                sock = socket.create_connection((address.host, address.port))
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 400 ")
                silent.append(sock)  # kept open by the client: only the proxy may end it
            _wait_for(lambda: httpx.get(f"{proxy.url}/healthz").status_code == 200, "a slot")
        finally:
            for sock in silent:
                sock.close()


def test_a_malformed_body_after_the_answer_began_ends_the_connection_quietly(
    tmp_path: Path, server: Server, demo: StaticIndex
) -> None:
    """A client that sends a chunked body and then a malformed chunk after the proxy has
    answered gets no second, unasked-for answer; the connection just ends, and the proxy
    logs no traceback."""
    import socket

    with running(tmp_path, "--upstream", server.url("pypi")) as proxy:
        address = httpx.URL(proxy.url)
        assert address.port is not None
        with socket.create_connection((address.host, address.port), timeout=WAIT) as sock:
            sock.sendall(  # a body begun, not ended: the proxy answers meanwhile
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n"
            )
            first = b""
            while b"\r\n\r\n" not in first:
                first += sock.recv(65536)
            sock.sendall(b"zz\r\n")  # not a chunk size: h11 refuses the rest of the body
            rest = b""
            while chunk := sock.recv(65536):
                rest += chunk
        answers = (first + rest).count(b"HTTP/1.1 ")
        assert first.startswith(b"HTTP/1.1 200 ")
        assert answers == 1, first + rest
        assert httpx.get(f"{proxy.url}/healthz").status_code == 200
    assert "Traceback" not in proxy.stderr.read_text()
