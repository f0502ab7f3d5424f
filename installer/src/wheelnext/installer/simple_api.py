"""The Simple Repository API, client side: project pages in JSON (PEP 691) or HTML (PEP 503).

Both forms become one ``ProjectPage``: files with hashes, ``requires-python``, yanked
(PEP 592), core-metadata (PEP 658/714) and the project status (PEP 792). Pages of newer
major API versions are refused; newer minor versions are read with a warning.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

from wheelnext.installer.errors import InstallerError

LOG = logging.getLogger("wheelnext.installer")
ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.1, "
    "text/html;q=0.01"
)
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")
SUPPORTED_MAJOR = 1
SUPPORTED_MINOR = 4


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file a project page lists."""

    filename: str
    url: str
    hashes: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    requires_python: str | None = None
    yanked: str | None = None  # None: not yanked; "" or the reason: yanked
    core_metadata: dict[str, str] | bool = False
    size: int | None = None

    @property
    def is_yanked(self) -> bool:
        return self.yanked is not None


@dataclass(frozen=True, slots=True)
class ProjectPage:
    """A project's files on one index, and the index's word on the project."""

    name: str
    files: tuple[FileEntry, ...]
    status: str = "active"
    status_reason: str | None = None
    api_version: str = "1.0"


def _check_version(version: str, url: str) -> None:
    major, _, minor = version.partition(".")
    if not major.isdigit() or int(major) != SUPPORTED_MAJOR:
        raise InstallerError(f"{url}: Simple API version {version} is not supported (need 1.x)")
    if minor.isdigit() and int(minor) > SUPPORTED_MINOR:
        LOG.warning("%s: Simple API version %s is newer than 1.%d", url, version, SUPPORTED_MINOR)


def _without_fragment(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    hashes = {}
    if parts.fragment and "=" in parts.fragment:
        algorithm, _, digest = parts.fragment.partition("=")
        hashes[algorithm.lower()] = digest.lower()
    return urlunsplit(parts._replace(fragment="")), hashes


def parse_json(body: bytes, url: str) -> ProjectPage:
    """A PEP 691 JSON page; relative file URLs resolve against ``url``."""
    try:
        doc = json.loads(body)
        meta = doc.get("meta", {})
        _check_version(str(meta.get("api-version", "1.0")), url)
        files = []
        for item in doc["files"]:
            metadata = item.get("core-metadata", item.get("dist-info-metadata", False))
            yanked = item.get("yanked", False)
            files.append(
                FileEntry(
                    filename=item["filename"],
                    url=urljoin(url, item["url"]),
                    hashes={k.lower(): v.lower() for k, v in item.get("hashes", {}).items()},
                    requires_python=item.get("requires-python") or None,
                    yanked=(yanked if isinstance(yanked, str) else "") if yanked else None,
                    core_metadata=metadata if isinstance(metadata, dict | bool) else False,
                    size=item.get("size"),
                )
            )
        status = doc.get("project-status") or {}
        return ProjectPage(
            doc["name"],
            tuple(files),
            status.get("status", "active"),
            status.get("reason"),
            str(meta.get("api-version", "1.0")),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InstallerError(f"{url}: not a valid Simple API JSON page ({exc})") from None


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.meta: dict[str, str] = {}
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]
        elif tag == "meta" and values.get("name"):
            self.meta[str(values["name"])] = values.get("content") or ""
        elif tag == "a":
            self._open, self._text = values, ""

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, self._text.strip()))
            self._open = None


def parse_html(body: bytes, url: str, name: str) -> ProjectPage:
    """A PEP 503 HTML page, with its ``data-*`` attributes and ``pypi:*`` meta tags."""
    parser = _Links()
    parser.feed(body.decode("utf-8", errors="replace"))
    version = parser.meta.get("pypi:repository-version", "1.0")
    _check_version(version, url)
    base = urljoin(url, parser.base) if parser.base else url
    files = []
    for attrs, text in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        file_url, hashes = _without_fragment(urljoin(base, href))
        filename = text or file_url.rsplit("/", 1)[-1]
        metadata_attr = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        metadata: dict[str, str] | bool = False
        if metadata_attr is not None:
            if "=" in metadata_attr:
                algorithm, _, digest = metadata_attr.partition("=")
                metadata = {algorithm.lower(): digest.lower()}
            else:
                metadata = metadata_attr.lower() != "false"
        files.append(
            FileEntry(
                filename=filename,
                url=file_url,
                hashes=hashes,
                requires_python=attrs.get("data-requires-python") or None,
                yanked=(attrs.get("data-yanked") or "") if "data-yanked" in attrs else None,
                core_metadata=metadata,
            )
        )
    return ProjectPage(
        name,
        tuple(files),
        parser.meta.get("pypi:project-status", "active"),
        parser.meta.get("pypi:project-status-reason"),
        version,
    )


def parse_page(body: bytes, content_type: str, url: str, name: str) -> ProjectPage:
    """Dispatch on the response's Content-Type (PEP 691)."""
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    if kind == JSON_TYPE:
        return parse_json(body, url)
    if kind in HTML_TYPES or not kind:
        return parse_html(body, url, name)
    raise InstallerError(f"{url}: unexpected Content-Type {content_type!r} for a project page")
