"""Cache-Control for project pages against a real server on 127.0.0.1 that counts requests:
a fresh page costs no request, a stale or ``no-cache`` one costs one conditional request
answered 304, and a hostile or garbled header never makes a page fresh."""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from pathlib import Path

import pytest

from tests.installer.envs import wn
from tests.installer.index import Server
from tests.installer.wheels import build_wheel
from wheelnext.installer.http import MAX_LIFETIME, HttpClient, freshness
from wheelnext.installer.simple_api import ACCEPT

NOW = 1_800_000_000.0


def _date(offset: float = 0.0) -> str:
    return formatdate(time.time() + offset, usegmt=True)


@pytest.fixture
def page(server: Server, built: Path) -> str:
    server.index("pypi").add(build_wheel(built, "demo", "1.0"))
    return f"{server.url('pypi')}/demo/"


def _pages(server: Server) -> list[str]:
    return [p for p in server.requests if p.endswith("/")]


def _twice(tmp_path: Path, page: str) -> None:
    """Two runs (two clients) read the page through the same cache."""
    for _ in range(2):
        response = HttpClient(tmp_path / "cache").get_page(page, ACCEPT)
        assert response.status == 200
        assert b'"demo-1.0-py3-none-any.whl"' in response.body


def test_a_fresh_page_costs_no_request(tmp_path: Path, server: Server, page: str) -> None:
    server.page_headers["pypi"] = {"Cache-Control": "max-age=600, private"}
    _twice(tmp_path, page)
    assert _pages(server) == ["/pypi/simple/demo/"]
    (entry,) = (tmp_path / "cache" / "pages").glob("*.json")
    stored = json.loads(entry.read_text())
    assert 590 < stored["lifetime"] <= 600  # the fetch time and lifetime are kept with it
    assert abs(stored["fetched"] - time.time()) < 60


@pytest.mark.parametrize(
    "headers",
    [
        {"Cache-Control": "no-cache"},
        {"Cache-Control": "max-age=0"},
        {"Cache-Control": "max-age=600, no-cache"},
        {"Cache-Control": "s-maxage=600"},  # for shared caches only
        {"Cache-Control": "max-age=600, must-revalidate", "Age": "900"},  # stale on arrival
        {"Expires": "Thu, 01 Jan 1970 00:00:00 GMT"},
        {},  # validators only: revalidate every time, as before
    ],
    ids=["no-cache", "max-age-0", "no-cache-wins", "s-maxage", "age", "expired", "none"],
)
def test_a_stale_page_is_revalidated_with_one_304(
    tmp_path: Path, server: Server, page: str, headers: dict[str, str]
) -> None:
    server.page_headers["pypi"] = headers
    _twice(tmp_path, page)
    assert _pages(server) == ["/pypi/simple/demo/"] * 2
    assert server.conditional == ["/pypi/simple/demo/"]
    assert server.not_modified == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Cache-Control": "max-age=-5"},
        {"Cache-Control": "max-age=99999999999999999999999"},
        {"Cache-Control": "max-age=ten"},
        {"Cache-Control": "max-age=1e3"},
        {"Cache-Control": "max-age=600, max-age=60"},  # conflicting: stale
        {"Cache-Control": "max-age=600", "Age": "-1"},
        {"Cache-Control": "max-age=600", "Age": "soon"},
        {"Cache-Control": "max-age=600", "Date": _date(-3600)},  # a second, older Date
        {"Expires": "0"},
        {"Expires": "tomorrow"},
        {"Expires": "Fri, 31 Dec 99999 23:59:59 GMT"},
    ],
)
def test_garbage_headers_mean_revalidate(
    tmp_path: Path, server: Server, page: str, headers: dict[str, str]
) -> None:
    server.page_headers["pypi"] = headers
    _twice(tmp_path, page)
    assert server.conditional == ["/pypi/simple/demo/"]
    assert server.not_modified == 1


def test_last_modified_alone_revalidates(tmp_path: Path, server: Server, page: str) -> None:
    stamp = "Wed, 21 Oct 2026 07:28:00 GMT"
    server.page_headers["pypi"] = {"ETag": "", "Last-Modified": stamp, "Cache-Control": "no-cache"}
    _twice(tmp_path, page)
    assert server.conditional == ["/pypi/simple/demo/"]
    assert server.not_modified == 1


def test_no_store_keeps_nothing(tmp_path: Path, server: Server, page: str) -> None:
    server.page_headers["pypi"] = {"Cache-Control": "no-store, max-age=600"}
    _twice(tmp_path, page)
    assert _pages(server) == ["/pypi/simple/demo/"] * 2
    assert server.conditional == []
    assert not list((tmp_path / "cache").rglob("*.body"))


def test_a_304_renews_freshness(tmp_path: Path, server: Server, page: str) -> None:
    server.page_headers["pypi"] = {"Cache-Control": "no-cache"}
    HttpClient(tmp_path / "cache").get_page(page, ACCEPT)
    server.page_headers["pypi"] = {"Cache-Control": "max-age=600"}  # the 304 says fresh
    _twice(tmp_path, page)
    assert _pages(server) == ["/pypi/simple/demo/"] * 2
    assert server.not_modified == 1


def test_refresh_revalidates_a_fresh_page(tmp_path: Path, server: Server, page: str) -> None:
    server.page_headers["pypi"] = {"Cache-Control": "max-age=600"}
    HttpClient(tmp_path / "cache").get_page(page, ACCEPT)
    HttpClient(tmp_path / "cache", refresh=True).get_page(page, ACCEPT)
    assert server.not_modified == 1


def test_a_damaged_entry_is_a_miss(tmp_path: Path, server: Server, page: str) -> None:
    server.page_headers["pypi"] = {"Cache-Control": "max-age=600"}
    HttpClient(tmp_path / "cache").get_page(page, ACCEPT)
    (entry,) = (tmp_path / "cache" / "pages").glob("*.json")
    stored = json.loads(entry.read_text())
    for damage in ({**stored, "lifetime": "forever"}, {**stored, "fetched": None}, [1]):
        entry.write_text(json.dumps(damage))
        assert HttpClient(tmp_path / "cache").get_page(page, ACCEPT).status == 200
    assert server.conditional == []  # each was a plain GET, stored again
    assert len(_pages(server)) == 4


def test_freshness_rules() -> None:
    date = formatdate(NOW, usegmt=True)
    assert freshness({"cache-control": "max-age=600"}, NOW) == 600
    assert freshness({"cache-control": 'private, max-age="600"'}, NOW) == 600
    assert freshness({"cache-control": "max-age=999999999"}, NOW) == MAX_LIFETIME  # capped
    assert freshness({"cache-control": "max-age=600", "age": "100"}, NOW) == 500
    assert freshness({"cache-control": "max-age=600", "date": date}, NOW + 60) == 540
    in_an_hour = formatdate(NOW + 3600, usegmt=True)
    assert freshness({"expires": in_an_hour, "date": date}, NOW + 5) == 3595
    assert freshness({"expires": in_an_hour}, NOW) == 3600  # no Date: our clock
    # max-age wins over Expires; a server clock ahead of ours is no age
    assert freshness({"cache-control": "max-age=60", "expires": in_an_hour}, NOW) == 60
    assert freshness({"cache-control": "max-age=60", "date": in_an_hour}, NOW) == 60
    assert freshness({"cache-control": "s-maxage=600"}, NOW) == 0
    assert freshness({"cache-control": "must-revalidate, max-age=600"}, NOW) == 600
    assert freshness({"cache-control": "max-age=600", "date": date}, NOW + 601) == 0  # old
    assert freshness({"cache-control": "max-age=600", "date": "yesterday"}, NOW) == 0


def serve_demo(server: Server, built: Path, tmp_path: Path, cache_control: str) -> list[str]:
    """Serve demo 1.0 (needing helper 2.0) with pages sent under ``cache_control``; the
    ``wn install`` options that install from it with a cache in ``tmp_path``."""
    server.index("pypi").add(
        build_wheel(built, "demo", "1.0", requires=["helper"]), build_wheel(built, "helper", "2.0")
    )
    server.page_headers["pypi"] = {"Cache-Control": cache_control}
    return ["--index-url", server.url("pypi"), "--cache-dir", str(tmp_path / "cache"), "-q"]


def test_a_warm_wn_install_asks_nothing_while_pages_are_fresh(
    tmp_path: Path, server: Server, built: Path
) -> None:
    args = serve_demo(server, built, tmp_path, "max-age=600")
    first = wn("install", "demo", "--target", str(tmp_path / "one"), *args)
    assert first.returncode == 0, first.stderr
    asked = len(server.requests)
    assert asked >= 4  # two pages and two wheels (and their PEP 658 files)
    second = wn("install", "demo", "--target", str(tmp_path / "two"), *args)
    assert second.returncode == 0, second.stderr
    assert len(server.requests) == asked  # pages, metadata and wheels all from the cache
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )


def test_a_warm_wn_install_revalidates_stale_pages_once_each(
    tmp_path: Path, server: Server, built: Path
) -> None:
    args = serve_demo(server, built, tmp_path, "no-cache")
    assert wn("install", "demo", "--target", str(tmp_path / "one"), *args).returncode == 0
    asked = len(server.requests)
    assert wn("install", "demo", "--target", str(tmp_path / "two"), *args).returncode == 0
    again = server.requests[asked:]
    assert sorted(again) == ["/pypi/simple/demo/", "/pypi/simple/helper/"]
    assert sorted(server.conditional) == sorted(again)
    assert server.not_modified == 2
