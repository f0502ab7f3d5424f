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
