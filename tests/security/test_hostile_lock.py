"""Hostile ``pylock.toml`` files, hostile lock servers and secrets in lock URLs, through the
real ``wn install -r pylock.toml`` / ``wn lock``: each refusal is one line naming the lock
(and package), exit 1, and the environment byte-identical; a server cannot make us read
more than the lock's ``size``; a password never lands in a lock or in a message."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.helpers import snapshot
from tests.installer.envs import site, wn, write_profile
from tests.installer.index import Server
from tests.installer.wheels import build_wheel

SECRET = "s3cret-7f1d"
NOT_HERE = "python_version < '3'"  # false on every Python wn runs on


def wheel_entry(wheel: Path, **changes: Any) -> dict[str, Any]:
    """A lock's wheel table for ``wheel`` (a path beside the lock), honest unless changed."""
    data = wheel.read_bytes()
    entry: dict[str, Any] = {
        "name": wheel.name,
        "path": wheel.name,
        "size": len(data),
        "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
    }
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


def one_wheel_lock(scene: Scene, hashes: dict[str, str]) -> Path:
    """A lock of pkg 1.0 whose one wheel lists ``hashes``."""
    return write_lock(
        scene.lock_dir, package("pkg", "1.0", wheel_entry(scene.wheel, hashes=hashes))
    )


def write_lock(directory: Path, *packages: dict[str, Any]) -> Path:
    path = directory / "pylock.toml"
    doc = {"lock-version": "1.0", "created-by": "a test", "packages": list(packages)}
    path.write_text(tomli_w.dumps(doc))
    return path


def package(name: str, version: str, *wheels: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"name": name, "version": version, **more, "wheels": list(wheels)}


@dataclass
class Scene:
    """A lock directory holding pkg 1.0's wheel, a fresh venv and a profile."""

    root: Path
    lock_dir: Path
    wheel: Path
    venv: Path
    profile: Path

    def install(self, lock: Path, *more: str, **env: str) -> subprocess.CompletedProcess[str]:
        python = str(self.venv / "bin" / "python")
        return wn(
            "install", "-r", str(lock), "--python", python, "--properties", str(self.profile),
            "--no-cache", *more, **{"WHEELNEXT_CONFIG": os.devnull, **env},
        )  # fmt: skip


@pytest.fixture
def scene(tmp_path: Path, venv: Path) -> Scene:
    lock_dir = tmp_path / "lock"
    lock_dir.mkdir()
    wheel = build_wheel(lock_dir, "pkg", "1.0")
    return Scene(tmp_path, lock_dir, wheel, venv, write_profile(tmp_path, ["v3", "v2", "v1"]))


@contextmanager
def unchanged(*roots: Path) -> Iterator[None]:
    before = [snapshot(r, ignore="__pycache__") for r in roots]
    yield
    assert [snapshot(r, ignore="__pycache__") for r in roots] == before


def refused(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("wn install: error: "), done.stderr
    for word in words:
        assert word in done.stderr, (word, done.stderr)
    return done.stderr


# -- hashes --------------------------------------------------------------------------------

WEAK = {
    "shake-only": lambda d: {"shake_128": hashlib.shake_128(d).hexdigest(32)},
    "md5-only": lambda d: {"md5": hashlib.md5(d).hexdigest()},
    "sha1-only": lambda d: {"sha1": hashlib.sha1(d).hexdigest()},
    "md5-and-sha1": lambda d: {
        "md5": hashlib.md5(d).hexdigest(),
        "sha1": hashlib.sha1(d).hexdigest(),
    },
}


@pytest.mark.parametrize("name", sorted(WEAK))
def test_a_lock_needs_a_strong_hash(scene: Scene, name: str) -> None:
    """Correct, but weak (or unusable) hashes only: refused before anything is fetched."""
    hashes = WEAK[name](scene.wheel.read_bytes())
    lock = one_wheel_lock(scene, hashes)
    with unchanged(scene.venv, scene.lock_dir):
        refused(scene.install(lock), str(lock), "pkg", "sha256 or stronger")


def test_a_shake_hash_beside_sha256_is_not_a_crash(scene: Scene) -> None:
    """shake_* needs a length: it is skipped, and the sha256 beside it verifies the wheel."""
    data = scene.wheel.read_bytes()
    hashes = {"sha256": hashlib.sha256(data).hexdigest(), "shake_128": "ab" * 16}
    lock = one_wheel_lock(scene, hashes)
    done = scene.install(lock)
    assert done.returncode == 0, done.stderr
    assert (site(scene.venv) / "pkg" / "__init__.py").is_file()


def test_a_strong_hash_still_catches_tampering_beside_a_weak_one(scene: Scene) -> None:
    data = scene.wheel.read_bytes()
    hashes = {"md5": hashlib.md5(data).hexdigest(), "sha512": "0" * 128}
    lock = one_wheel_lock(scene, hashes)
    with unchanged(scene.venv):
        refused(scene.install(lock), str(lock), "pkg", "sha512 mismatch")


# -- shapes of the file ----------------------------------------------------------------------


def _deep(lock_dir: Path) -> Path:
    path = lock_dir / "pylock.toml"
    path.write_text('lock-version = "1.0"\na = ' + "[" * 100_000 + "]" * 100_000 + "\n")
    return path


def _nested_table(lock_dir: Path) -> Path:
    """Parses (tomllib copes with 200 levels), but deeper than any lock: refused too."""
    path = lock_dir / "pylock.toml"
    path.write_text('lock-version = "1.0"\npackages = []\na = ' + "[" * 200 + "]" * 200 + "\n")
    return path


def _huge(lock_dir: Path) -> Path:
    path = lock_dir / "pylock.toml"
    with path.open("wb") as f:  # sparse: 40 MiB on paper, nothing on disk
        f.truncate(40 * 1024 * 1024)
    return path


def _fifo(lock_dir: Path) -> Path:
    path = lock_dir / "pylock.toml"
    os.mkfifo(path)
    return path


def _url(field: str, value: str) -> Callable[[Path], Path]:
    def make(lock_dir: Path) -> Path:
        wheel = next(lock_dir.glob("*.whl"))
        entry = wheel_entry(wheel, path=None, url=f"http://127.0.0.1:9/{wheel.name}")
        extra = {}
        if field == "url":
            entry["url"] = value
        else:
            extra["index"] = value
        return write_lock(lock_dir, package("pkg", "1.0", entry, **extra))

    return make


SHAPES: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "nested-100k-deep": (_deep, ("nested too deeply",)),
    "nested-200-deep": (_nested_table, ("levels deep",)),
    "larger-than-32-MiB": (_huge, ("larger than 32 MiB",)),
    "a-fifo": (_fifo, ("not a regular file", "FIFO")),
    "bad-ipv6-url": (_url("url", "http://[::1/x.whl"), ("pkg 1.0", "'url' is not a valid URL")),
    "bad-ipv6-index": (_url("index", "http://[::1/simple"), ("pkg 1.0", "'index'")),
    "bad-port-url": (_url("url", "http://127.0.0.1:99999/x.whl"), ("pkg 1.0", "'url'")),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_hostile_lock_shapes_are_one_line(scene: Scene, name: str) -> None:
    make, words = SHAPES[name]
    lock = make(scene.lock_dir)
    with unchanged(scene.venv):
        done = scene.install(lock)
    refused(done, str(lock), *words)


# -- markers ---------------------------------------------------------------------------------


def test_a_package_whose_marker_is_false_is_said_to_be_skipped(scene: Scene) -> None:
    lock = write_lock(
        scene.lock_dir, package("pkg", "1.0", wheel_entry(scene.wheel), marker=NOT_HERE)
    )
    with unchanged(scene.venv):
        done = scene.install(lock)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "skipped pkg: marker" in lines[0], lines[0]
    assert "is false here" in lines[0], lines[0]
    assert NOT_HERE in lines[0]


def test_an_unevaluable_dependency_marker_names_lock_and_package(scene: Scene) -> None:
    other = build_wheel(scene.lock_dir, "other", "1.0")
    dep = {"name": "other", "marker": "'dev' in dependency_groups"}
    lock = write_lock(
        scene.lock_dir,
        package("pkg", "1.0", wheel_entry(scene.wheel), dependencies=[dep]),
        package("other", "1.0", wheel_entry(other)),
    )
    doc = tomli_w.dumps({"tool": {"wheelnext": {"requested": ["pkg"]}}})
    lock.write_text(lock.read_text() + "\n" + doc)
    with unchanged(scene.venv):
        refused(scene.install(lock), str(lock), "pkg 1.0", "dependency_groups")


# -- a server that sends more than the lock says ---------------------------------------------


@dataclass
class Hostile:
    """What the raw server did: bytes it managed to send, the Authorization it got."""

    sent: int = 0
    authorizations: list[str | None] = field(default_factory=list)


@contextmanager
def raw_server(
    body: bytes, *, endless: bool = False, announce: int | None = None, password: str | None = None
) -> Iterator[tuple[str, Hostile]]:
    """Serves ``body`` at every path; ``endless``: then zeros for ever (no length);
    ``announce``: a Content-Length to claim; ``password``: basic auth ``u``/password."""
    seen = Hostile()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            got = self.headers.get("Authorization")
            seen.authorizations.append(got)
            wanted = "Basic " + base64.b64encode(f"u:{password}".encode()).decode()
            if password is not None and got != wanted:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if announce is not None:
                self.send_header("Content-Length", str(announce))
            elif not endless:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
                seen.sent += len(body)
                chunk = b"\0" * 65536
                while endless and seen.sent < 200 * 1024 * 1024:
                    self.wfile.write(chunk)
                    seen.sent += len(chunk)
            except OSError:  # the client hung up: what we want
                pass
            self.close_connection = True

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("announce", [False, True], ids=["streamed", "announced"])
def test_a_download_stops_at_the_locked_size(scene: Scene, announce: bool) -> None:
    data = scene.wheel.read_bytes()
    with raw_server(data, endless=not announce, announce=200 * 2**20 if announce else None) as (
        url,
        seen,
    ):
        entry = wheel_entry(scene.wheel, path=None, url=f"{url}/{scene.wheel.name}")
        lock = write_lock(scene.lock_dir, package("pkg", "1.0", entry))
        with unchanged(scene.venv):
            done = scene.install(lock)
    refused(done, f"larger than the {len(data)} bytes declared")
    assert seen.sent < 64 * 2**20, seen.sent  # it stopped reading long before 200 MiB


# -- credentials -----------------------------------------------------------------------------


def test_a_lock_never_holds_the_index_password(server: Server, built: Path, tmp_path: Path) -> None:
    index = server.index("private")
    index.add(build_wheel(built, "demo", "1.0"))
    secret_url = server.url("private").replace("http://", f"http://alice:{SECRET}@")
    out = tmp_path / "pylock.toml"
    profile = write_profile(tmp_path, ["v3", "v2", "v1"])
    done = wn(
        "lock", "demo", "--index-url", secret_url, "--no-cache", "-o", str(out),
        "--properties", str(profile),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert SECRET not in text, text
    assert "alice" not in text, text
    assert server.url("private") in text  # the index is still named, without the user


def test_messages_mask_index_passwords(server: Server, tmp_path: Path) -> None:
    server.failing["broken"] = 500
    secret_url = server.url("broken").replace("http://", f"http://alice:{SECRET}@")
    done = wn(
        "install", "demo", "--index-url", secret_url, "--no-cache", "--dry-run",
        "--target", str(tmp_path / "t"), "-v", WHEELNEXT_CONFIG=os.devnull,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert SECRET not in done.stderr + done.stdout, done.stderr
    assert "***@" in done.stderr.splitlines()[-1], done.stderr


def test_a_locked_private_wheel_is_fetched_with_netrc(scene: Scene) -> None:
    """The lock holds no password; the one in $NETRC for the host is sent, and nothing
    without it."""
    data = scene.wheel.read_bytes()
    with raw_server(data, password=SECRET) as (url, seen):
        entry = wheel_entry(scene.wheel, path=None, url=f"{url}/{scene.wheel.name}")
        lock = write_lock(scene.lock_dir, package("pkg", "1.0", entry))
        with unchanged(scene.venv):
            refused(scene.install(lock, NETRC=os.devnull), "HTTP 401")
        netrc = scene.root / "netrc"
        netrc.write_text(f"machine 127.0.0.1 login u password {SECRET}\n")
        netrc.chmod(0o600)
        done = scene.install(lock, NETRC=str(netrc))
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stderr + done.stdout
    assert seen.authorizations[0] is None  # the lock gave none
    assert seen.authorizations[-1] is not None  # the netrc did
    assert (site(scene.venv) / "pkg" / "__init__.py").is_file()


# -- wn list ---------------------------------------------------------------------------------


def test_wn_list_names_a_malformed_variant_record(scene: Scene) -> None:
    python = str(scene.venv / "bin" / "python")
    done = wn(
        "install", "pkg", "--no-index", "--find-links", str(scene.lock_dir), "--python", python,
        "--properties", str(scene.profile), "--no-cache", WHEELNEXT_CONFIG=os.devnull,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = next(site(scene.venv).glob("pkg-1.0.dist-info")) / "WHEELNEXT_VARIANT.json"
    assert json.loads(record.read_text())["label"] is None
    record.write_text("{planted")
    done = wn(
        "list", "--python", python, "--properties", str(scene.profile),
        WHEELNEXT_CONFIG=os.devnull,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "pkg 1.0" in done.stdout
    warnings = done.stderr.splitlines()
    assert len(warnings) == 1, done.stderr
    assert "pkg 1.0" in warnings[0]
    assert "WHEELNEXT_VARIANT.json is malformed" in warnings[0]


def test_an_index_page_size_caps_the_download(
    server: Server, built: Path, tmp_path: Path, venv: Path
) -> None:
    """PEP 700 ``size`` on an index page: a file longer than that is cut off, refused."""
    index = server.index("pypi")
    index.add(build_wheel(built, "demo", "1.0", files={"demo/blob.bin": os.urandom(300_000)}))
    page = index.root / index.prefix / "simple" / "demo" / "index.json"
    doc = json.loads(page.read_text())
    doc["files"][0]["size"] = 864
    page.write_text(json.dumps(doc))
    profile = write_profile(tmp_path, ["v3", "v2", "v1"])
    with unchanged(venv):
        done = wn(
            "install", "demo", "--index-url", server.url("pypi"), "--no-cache",
            "--python", str(venv / "bin" / "python"), "--properties", str(profile),
            WHEELNEXT_CONFIG=os.devnull,
        )  # fmt: skip
    refused(done, "demo-1.0-py3-none-any.whl", "larger than the 864 bytes declared")


def test_an_index_shake_hash_is_not_a_crash(
    server: Server, built: Path, tmp_path: Path, venv: Path
) -> None:
    """An index page may list shake_* hashes (they need a length): skipped, the sha256
    beside them still checked."""
    index = server.index("pypi")
    index.add(build_wheel(built, "demo", "1.0"))
    page = index.root / index.prefix / "simple" / "demo" / "index.json"
    doc = json.loads(page.read_text())
    doc["files"][0]["hashes"]["shake_128"] = "ab" * 16
    doc["files"][0]["hashes"]["shake_256"] = "cd" * 32
    page.write_text(json.dumps(doc))
    profile = write_profile(tmp_path, ["v3", "v2", "v1"])
    done = wn(
        "install", "demo", "--index-url", server.url("pypi"), "--no-cache",
        "--python", str(venv / "bin" / "python"), "--properties", str(profile),
        WHEELNEXT_CONFIG=os.devnull,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert (site(venv) / "demo" / "__init__.py").is_file()


def test_a_report_never_holds_the_index_password(
    server: Server, built: Path, tmp_path: Path
) -> None:
    index = server.index("private")
    index.add(build_wheel(built, "demo", "1.0"))
    secret_url = server.url("private").replace("http://", f"http://alice:{SECRET}@")
    report = tmp_path / "report.json"
    profile = write_profile(tmp_path, ["v3", "v2", "v1"])
    done = wn(
        "install", "demo", "--index-url", secret_url, "--no-cache", "--dry-run",
        "--target", str(tmp_path / "t"), "--properties", str(profile), "--report", str(report),
        WHEELNEXT_CONFIG=os.devnull,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = report.read_text()
    assert SECRET not in text + done.stdout + done.stderr
    item = json.loads(text)["install"][0]
    assert item["download_info"]["url"].startswith(server.url("private").rsplit("/", 1)[0])
