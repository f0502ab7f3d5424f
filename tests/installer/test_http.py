"""The HTTP layer against a real server: ETag cache, retries, timeouts, verified downloads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.installer.index import Server
from tests.installer.wheels import build_wheel
from wheelnext.installer.errors import IndexUnavailable, InstallerError
from wheelnext.installer.http import HttpClient
from wheelnext.installer.simple_api import ACCEPT


@pytest.fixture
def page(server: Server, built: Path) -> str:
    server.index("pypi").add(build_wheel(built, "demo", "1.0"))
    return f"{server.url('pypi')}/demo/"


def test_pages_are_revalidated_by_etag(tmp_path: Path, server: Server, page: str) -> None:
    client = HttpClient(tmp_path / "cache")
    first = client.get_page(page, ACCEPT)
    second = HttpClient(tmp_path / "cache").get_page(page, ACCEPT)  # a later run
    assert first.status == second.status == 200
    assert first.body == second.body
    assert first.content_type == second.content_type == "application/vnd.pypi.simple.v1+json"
    assert server.not_modified == 1


def test_transient_errors_are_retried(server: Server, page: str) -> None:
    server.flaky["pypi"] = 2
    assert HttpClient(None, retries=2).get_page(page, ACCEPT).status == 200
    server.flaky["pypi"] = 3
    assert HttpClient(None, retries=2).get_page(page, ACCEPT).status == 503


def test_a_stalled_server_times_out_with_the_url(server: Server, page: str) -> None:
    server.stalling["pypi"] = 2.0
    with pytest.raises(IndexUnavailable, match=rf"{page}: ReadTimeout"):
        HttpClient(None, timeout=0.5, retries=0).get_page(page, ACCEPT)


def test_downloads_are_verified_and_cached_by_hash(
    tmp_path: Path, server: Server, built: Path, page: str
) -> None:
    wheel = built / "demo-1.0-py3-none-any.whl"
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    url = f"http://127.0.0.1:{server.port}/pypi/files/{wheel.name}"
    client = HttpClient(tmp_path / "cache")
    got = client.download(url, digest, tmp_path / "one" / wheel.name)
    assert got.read_bytes() == wheel.read_bytes()
    served = len(server.requests)
    client.download(url, digest, tmp_path / "two" / wheel.name)
    assert len(server.requests) == served  # from the cache
    with pytest.raises(InstallerError, match="sha256 mismatch"):
        HttpClient(None).download(url, "0" * 64, tmp_path / "three" / wheel.name)
    assert not (tmp_path / "three" / wheel.name).exists()
    assert not list((tmp_path / "three").glob("*.part"))


def test_installs_sharing_a_cache_at_once_both_use_one_download(
    server: Server, built: Path, tmp_path: Path
) -> None:
    """Two cold ``wn install`` runs from one index at once, sharing ``--cache-dir``:
    neither replaces the wheel the other has verified and is unpacking (which it would
    then refuse as "changed while being installed"); both install everything."""
    import subprocess

    from tests.helpers import BIN

    names = [f"t{n}" for n in range(6)]
    wheels = [
        build_wheel(built, name, "1.0", files={f"{name}/m{i}.py": b"x = 1\n" for i in range(60)})
        for name in names
    ]
    server.index("ix").add(*wheels)
    server.file_delay = 0.2  # both runs are downloading the same files at once
    for attempt in range(3):
        cache = tmp_path / f"cache{attempt}"
        command = [str(BIN / "wn"), "install", *names, "--index-url", server.url("ix")]
        command += ["--cache-dir", str(cache), "-q", "--target"]
        procs = [
            subprocess.Popen(
                [*command, str(tmp_path / f"env{attempt}-{k}")],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in range(2)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        for k in range(2):
            assert all((tmp_path / f"env{attempt}-{k}" / name).is_dir() for name in names)


def test_a_download_waiting_for_another_process_can_be_cancelled(
    server: Server, built: Path, tmp_path: Path
) -> None:
    """While another process holds a cache entry's lock (it is downloading that file), a
    download that waits for it still ends soon after its stop event is set."""
    import threading

    from filelock import FileLock

    from wheelnext.installer.http import Cancelled, cancellable

    wheel = build_wheel(built, "demo", "1.0")
    server.index("ix").add(wheel)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    entry = cache / "wheels" / digest[:2] / digest
    entry.parent.mkdir(parents=True)
    url = f"{server.url('ix')}/../files/{wheel.name}"
    stop = threading.Event()
    outcome: list[BaseException | Path] = []

    def download() -> None:
        with cancellable(stop):
            try:
                outcome.append(HttpClient(cache).download(url, digest, tmp_path / wheel.name))
            except BaseException as exc:  # the test looks at it
                outcome.append(exc)

    with FileLock(entry.with_name(f"{digest}.lock")):  # "another process" downloading
        worker = threading.Thread(target=download)
        worker.start()
        worker.join(1.0)
        assert worker.is_alive()  # waiting for the lock
        stop.set()
        worker.join(10)
        assert not worker.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], Cancelled)
    assert not entry.exists()  # nothing downloaded meanwhile
