"""``wn proxy`` as an organisation's service: real uvicorn (started by ``wn proxy``) on
127.0.0.1, real pip and uv from two machines' profiles through one proxy, one shared
cache for threads and worker processes, a worker killed mid-download, health, metrics
and upstream failures."""

from __future__ import annotations

import hashlib
import json
import os
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
def running(tmp_path: Path, *args: str, profile: list[str] | None = None) -> Iterator[Proxy]:
    """``wn proxy ARGS`` on a free port with its own cache; stopped after the block."""
    cache, stderr = tmp_path / "cache", tmp_path / "proxy.stderr"
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


@pytest.fixture
def demo(server: Server, built: Path) -> StaticIndex:
    """demo 1.0 plain; demo 2.0 with v4, v3, null and non-variant wheels and variants.json."""
    return server.index("pypi").add(
        build_wheel(built, "demo", "1.0"),
        *(
            build_wheel(built, "demo", "2.0", label=label, properties=p)
            for label, p in LEVELS.items()
        ),
        build_wheel(built, "demo", "2.0", label="null", namespaces=["x86_64"]),
        build_wheel(built, "demo", "2.0"),
        variants_json(built, "demo", "2.0", {**LEVELS, "null": {}}, ["x86_64"]),
    )


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
        access = [json.loads(line) for line in proxy.log() if line.startswith("{")]
    assert imported(venvs["pip-v4"]) == "2.0 v4"
    assert imported(venvs["uv-v3"]) == "2.0 v3"
    assert imported(venvs["pip-default"]) == "2.0 null"
    profiles = {entry["profile"] for entry in access}
    assert profiles == {
        "default",
        hashlib.sha256(v4.encode()).hexdigest()[:12],
        hashlib.sha256(v3.encode()).hexdigest()[:12],
    }
    assert not any(v4 in json.dumps(e["profile"]) for e in access)  # tokens are not logged
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
    """An upstream that serves a static index tree, sending one file's first half and
    then waiting until ``release`` is set (a slow mirror), the rest after."""

    def __init__(self, root: Path, slow: str) -> None:
        self.root, self.slow = root, slow
        self.release = threading.Event()
        self.started = threading.Event()
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                outer.requests.append(path)
                local = outer.root / path.lstrip("/")
                if path.endswith("/"):
                    local /= "index.json"
                if not local.is_file():
                    self.send_error(404)
                    return
                data = local.read_bytes()
                self.send_response(200)
                kind = JSON_TYPE if path.endswith("/") else "application/octet-stream"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
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
        assert (health.status_code, health.json()) == (200, {"status": "ok"})

        bad = httpx.get(f"{proxy.url}/p/{tampered}/simple/demo/")
        assert bad.status_code == 400
        assert bad.text.startswith("invalid profile token: ")
        assert bad.text.count("\n") == 1

        page = httpx.get(f"{proxy.url}/p/{good}/simple/demo/", headers={"Accept": JSON_TYPE})
        entry = next(f for f in page.json()["files"] if f["filename"].startswith("demo-2.0"))
        target = str(httpx.URL(proxy.url).join(entry["url"]))
        head = httpx.head(target)
        assert head.status_code == 200
        assert int(head.headers["content-length"]) == entry["size"]
        assert f"/pypi/files/{V3_WHEEL}" not in server.requests  # nothing downloaded

        invented = [
            encode_profile(SupportedProperties.from_features({f"ns{i}": {"f": ["v"]}}))
            for i in range(40)
        ]
        for t in invented:
            assert httpx.get(f"{proxy.url}/p/{t}/simple/demo/").status_code == 200
        text = httpx.get(f"{proxy.url}/metrics").text
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


def test_settings_file_runs_under_uvicorns_own_command(
    tmp_path: Path, server: Server, demo: StaticIndex
) -> None:
    """``--write-config`` writes the settings; ``uvicorn --factory`` serves them (as an
    operator runs it under a process manager); a broken settings file is one line."""
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
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            assert proc.stderr is not None
            port = None
            for line in proc.stderr:  # uvicorn names its port on stderr
                if "Uvicorn running on http://127.0.0.1:" in line:
                    port = int(line.split("127.0.0.1:")[1].split()[0])
                    break
            assert port is not None, "uvicorn did not start"
            page = httpx.get(f"http://127.0.0.1:{port}/simple/demo/", headers={"Accept": JSON_TYPE})
            assert page.status_code == 200
            names = sorted(f["filename"] for f in page.json()["files"])
            assert names == ["demo-1.0-py3-none-any.whl", "demo-2.0-py3-none-any.whl"]
        finally:
            proc.terminate()
            proc.wait(timeout=60)

    settings.write_text(json.dumps({**json.loads(settings.read_text()), "ttl": -1}))
    broken = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert broken.returncode != 0
    assert broken.stderr.strip().splitlines()[-1] == (
        f"wn proxy: error: {settings}: ttl: expected seconds between 0 and 86400"
    )
    assert "Traceback" not in broken.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers: expected 1 to 64"),
        (["--max-upstream-concurrency", "x"], "expected a whole number"),
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
