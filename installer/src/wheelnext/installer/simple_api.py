"""The Simple Repository API, client side: project pages in JSON (PEP 691) or HTML (PEP 503).

Both forms become one ``ProjectPage``: files with hashes, ``requires-python``, yanked
(PEP 592), core-metadata (PEP 658/714) and the project status (PEP 792). Pages of newer
major API versions are refused; newer minor versions are read with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from wheelnext.core import safejson
from wheelnext.core.errors import MetadataError, one_line
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.names import check_digest, check_filename

LOG = logging.getLogger("wheelnext.installer")
ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.1, "
    "text/html;q=0.01"
)
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")
SUPPORTED_MAJOR = 1
SUPPORTED_MINOR = 4
REMOTE_SCHEMES = ("http", "https")


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
    upload_time: str | None = None  # PEP 700, as the index wrote it

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
        raise InstallerError(
            f"{url}: Simple API version {one_line(version, 40)} is not supported (need 1.x)"
        )
    if minor.isdigit() and int(minor) > SUPPORTED_MINOR:
        LOG.warning("%s: Simple API version %s is newer than 1.%d", url, version, SUPPORTED_MINOR)


def _file_url(base: str, href: str, page: str) -> str:
    """``href`` resolved against ``base``; a remote page may point only to http(s), a
    page in a directory the user named (a ``file:`` page) to its files too."""
    resolved = urljoin(base, href)
    scheme = urlsplit(resolved).scheme.lower()
    local = urlsplit(page).scheme.lower() == "file"
    if scheme not in REMOTE_SCHEMES and not (local and scheme == "file"):
        raise InstallerError(
            f"{page}: refusing a link to a {one_line(scheme, 20) or 'scheme-less'} URL "
            "(a remote index may point only to http and https)"
        )
    return resolved


def _without_fragment(url: str, page: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    hashes = {}
    if parts.fragment and "=" in parts.fragment:
        algorithm, _, digest = parts.fragment.partition("=")
        algorithm, digest = check_digest(algorithm, digest, page)
        hashes[algorithm] = digest
    return urlunsplit(parts._replace(fragment="")), hashes


class _Bad(Exception):
    """A field of a JSON page has the wrong type (turned into one InstallerError)."""


def _get(mapping: dict[str, Any], key: str, kinds: type | tuple[type, ...], where: str) -> Any:
    value = mapping.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise _Bad(f"{where}{key} has the wrong type")
    if not isinstance(value, kinds):
        raise _Bad(f"{where}{key} has the wrong type ({type(value).__name__})")
    return value


def _hashes(value: object, url: str, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Bad(f"{what} must be an object")
    return dict(check_digest(k, v, url) for k, v in value.items())


def _json_entry(item: object, index: int, url: str) -> FileEntry:
    where = f"files[{index}]."
    if not isinstance(item, dict):
        raise _Bad(f"files[{index}] must be an object")
    filename = check_filename(_get(item, "filename", str, where), url)
    href = _get(item, "url", str, where)
    if href is None:
        raise _Bad(f"{where}url is missing")
    metadata = item.get("core-metadata", item.get("dist-info-metadata", False))
    core_metadata: dict[str, str] | bool
    if isinstance(metadata, bool) or metadata is None:
        core_metadata = bool(metadata)
    else:
        core_metadata = _hashes(metadata, url, f"{where}core-metadata")
    yanked = _get(item, "yanked", (bool, str), where)
    size = _get(item, "size", int, where)
    if size is not None and size < 0:
        raise _Bad(f"{where}size is negative")
    return FileEntry(
        filename=filename,
        url=_file_url(url, href, url),
        hashes=_hashes(item.get("hashes"), url, f"{where}hashes"),
        requires_python=_get(item, "requires-python", str, where) or None,
        yanked=(yanked if isinstance(yanked, str) else "") if yanked else None,
        core_metadata=core_metadata,
        size=size,
        upload_time=_get(item, "upload-time", str, where),
    )


def parse_json(body: bytes, url: str) -> ProjectPage:
    """A PEP 691 JSON page; relative file URLs resolve against ``url``. Every field is
    type-checked: a wrong-typed field is one error naming the page and the field."""
    try:
        doc = safejson.loads(body, url)
        if not isinstance(doc, dict):
            raise _Bad("the page is not a JSON object")
        meta = _get(doc, "meta", dict, "") or {}
        version = _get(meta, "api-version", str, "meta.") or "1.0"
        _check_version(version, url)
        name = _get(doc, "name", str, "")
        items = _get(doc, "files", list, "")
        if name is None or items is None:
            raise _Bad("name and files are required")
        files = [_json_entry(item, i, url) for i, item in enumerate(items)]
        status = _get(doc, "project-status", dict, "") or {}
        return ProjectPage(
            name,
            tuple(files),
            _get(status, "status", str, "project-status.") or "active",
            _get(status, "reason", str, "project-status."),
            version,
        )
    except MetadataError as exc:
        raise InstallerError(f"{url}: not a valid Simple API JSON page ({exc.problem})") from None
    except _Bad as exc:
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
        if not href or urlsplit(href).path.endswith("/"):
            continue  # not a file: a folder, such as a directory listing's "../"
        file_url, hashes = _without_fragment(_file_url(base, href, url), url)
        filename = check_filename(text or unquote(urlsplit(file_url).path.rsplit("/", 1)[-1]), url)
        metadata_attr = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        metadata: dict[str, str] | bool = False
        if metadata_attr is not None:
            if "=" in metadata_attr:
                algorithm, _, digest = metadata_attr.partition("=")
                metadata = dict([check_digest(algorithm, digest, url)])
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
    raise InstallerError(
        f"{url}: unexpected Content-Type {one_line(content_type, 80)!r} for a project page"
    )
