"""Project pages in both forms of the Simple Repository API (PEP 503, 691, 592, 658/714, 792)."""

from __future__ import annotations

import json
import logging

import pytest

from wheelnext.installer.errors import InstallerError
from wheelnext.installer.simple_api import ACCEPT, parse_page

URL = "https://example.test/simple/holygrail/"


def test_json_page_every_field() -> None:
    doc = {
        "meta": {"api-version": "1.4"},
        "name": "holygrail",
        "project-status": {"status": "deprecated", "reason": "use grail2"},
        "files": [
            {
                "filename": "holygrail-1.0-py3-none-any.whl",
                "url": "../../files/holygrail-1.0-py3-none-any.whl",
                "hashes": {"SHA256": "ABC"},
                "requires-python": ">=3.7",
                "core-metadata": {"sha256": "def"},
                "yanked": "broken build",
                "size": 1337,
                "_private": "ignored",
            },
            {
                "filename": "holygrail-0.9.tar.gz",
                "url": "https://cdn.test/x.tar.gz",
                "hashes": {},
                "dist-info-metadata": True,
                "yanked": False,
            },
        ],
    }
    page = parse_page(json.dumps(doc).encode(), "application/vnd.pypi.simple.v1+json", URL, "x")
    first, second = page.files
    assert (page.name, page.status, page.status_reason, page.api_version) == (
        "holygrail",
        "deprecated",
        "use grail2",
        "1.4",
    )
    assert first.url == "https://example.test/files/holygrail-1.0-py3-none-any.whl"
    assert first.hashes == {"sha256": "abc"}
    assert (first.requires_python, first.yanked, first.is_yanked, first.size) == (
        ">=3.7",
        "broken build",
        True,
        1337,
    )
    assert first.core_metadata == {"sha256": "def"}
    assert (second.core_metadata, second.is_yanked, second.url) == (
        True,
        False,
        "https://cdn.test/x.tar.gz",
    )


def test_html_page_every_attribute() -> None:
    body = b"""<!DOCTYPE html><html><head>
    <meta name="pypi:repository-version" content="1.1">
    <meta name="pypi:project-status" content="archived">
    <base href="https://files.test/base/"></head><body>
    <a href="holygrail-1.0-py3-none-any.whl#sha256=AbC" data-requires-python="&gt;=3.9"
       data-yanked="" data-core-metadata="sha256=99">holygrail-1.0-py3-none-any.whl</a>
    <a href="/abs/holygrail-1.0-variants.json#sha256=11"
       data-dist-info-metadata="true">holygrail-1.0-variants.json</a>
    <a>no href</a>
    </body></html>"""
    page = parse_page(body, "text/html; charset=utf-8", URL, "holygrail")
    wheel, variants = page.files
    assert (page.status, page.api_version) == ("archived", "1.1")
    assert wheel.url == "https://files.test/base/holygrail-1.0-py3-none-any.whl"
    assert (wheel.hashes, wheel.requires_python, wheel.yanked) == ({"sha256": "abc"}, ">=3.9", "")
    assert wheel.core_metadata == {"sha256": "99"}
    assert (variants.filename, variants.url, variants.core_metadata) == (
        "holygrail-1.0-variants.json",
        "https://files.test/abs/holygrail-1.0-variants.json",
        True,
    )


@pytest.mark.parametrize("version", ["2.0", "0.9", "x"])
def test_other_major_versions_are_refused(version: str) -> None:
    doc = {"meta": {"api-version": version}, "name": "x", "files": []}
    with pytest.raises(InstallerError, match=f"Simple API version {version} is not supported"):
        parse_page(json.dumps(doc).encode(), "application/vnd.pypi.simple.v1+json", URL, "x")


def test_newer_minor_version_warns(caplog: pytest.LogCaptureFixture) -> None:
    body = b'<meta name="pypi:repository-version" content="1.9">'
    with caplog.at_level(logging.WARNING, logger="wheelnext.installer"):
        parse_page(body, "application/vnd.pypi.simple.v1+html", URL, "x")
    assert "Simple API version 1.9 is newer than 1.4" in caplog.text


@pytest.mark.parametrize(
    ("body", "content_type", "problem"),
    [
        (b"{", "application/vnd.pypi.simple.v1+json", "not a valid Simple API JSON page"),
        (
            b'{"name": "x"}',
            "application/vnd.pypi.simple.v1+json",
            "not a valid Simple API JSON page",
        ),
        (b"%PDF", "application/pdf", "unexpected Content-Type 'application/pdf'"),
    ],
)
def test_bad_pages_name_the_url(body: bytes, content_type: str, problem: str) -> None:
    with pytest.raises(InstallerError, match=problem) as info:
        parse_page(body, content_type, URL, "x")
    assert str(info.value).startswith(URL)


def test_accept_header_prefers_json() -> None:
    assert ACCEPT.startswith("application/vnd.pypi.simple.v1+json, ")
    assert "text/html;q=0.01" in ACCEPT
