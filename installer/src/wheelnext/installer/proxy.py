"""A variant-aware Simple API proxy: hardware awareness for unmodified pip and uv.

For each project the proxy asks the upstream indexes (with index priority groups, as
``wn install`` does) and, per release and per build of it (same name, version, build
and tags), keeps only the wheel the core selector ranks best for a profile: a variant,
else ``null``, else the non-variant wheel. That wheel is offered under its non-variant
filename, so every installer accepts it; its bytes and hash are the upstream's. Projects
without variant wheels pass through unchanged. Pages are served as HTML and JSON
(PEP 503/691), for the proxy's own profile or for a client's profile token; upstream
pages, files and metadata go through the shared store (``proxy_store``). The HTTP side
is ``proxy_app`` (an ASGI application); spec/proxy.md describes the service.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import re
import threading
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote, unquote

import httpx
from packaging.utils import canonicalize_name

from wheelnext.core.errors import MetadataError, WheelnextError, one_line
from wheelnext.core.filenames import (
    WheelFilename,
    is_variants_json_filename,
    parse_variants_json_filename,
)
from wheelnext.core.metadata import VariantMetadata
from wheelnext.core.priorities import UserPriorities
from wheelnext.core.selector import Selector
from wheelnext.core.supported import SupportedProperties
from wheelnext.installer.errors import IndexUnavailable, InstallerError
from wheelnext.installer.finder import check_source, release_metadata
from wheelnext.installer.http import (
    DeadlinePassed,
    HttpClient,
    _deadline,
    local_path,
)
from wheelnext.installer.indexes import IndexSet, Located
from wheelnext.installer.proxy_store import ProxyStore, Snapshot, url_key
from wheelnext.installer.simple_api import FileEntry

if TYPE_CHECKING:
    from wheelnext.installer.proxy_metrics import Metrics

LOG = logging.getLogger("wheelnext.installer")
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
API_VERSION = "1.1"
K = TypeVar("K")
V = TypeVar("V")
MAX_RANGE = 8 * 1024 * 1024  # the largest partial answer passed through from upstream
_RANGE = re.compile(r"bytes=(?:([0-9]{1,18})-([0-9]{0,18})|-([0-9]{1,18}))")
_CONTENT_RANGE = re.compile(r"bytes ([0-9]{1,18})-([0-9]{1,18})/([0-9]{1,18}|\*)")


class RangeNotSatisfiable(Exception):
    """A Range header in bytes that is malformed or lies outside the file (416)."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    """One checked ``bytes=`` range: ``first-last`` (last None: to the end) or, with
    ``first`` None, the last ``suffix`` bytes."""

    first: int | None
    last: int | None
    suffix: int = 0

    def resolve(self, size: int) -> tuple[int, int]:
        """The (first, last) byte positions, inclusive, within a file of ``size`` bytes."""
        if self.first is None:
            if self.suffix == 0 or size == 0:
                raise RangeNotSatisfiable("an empty suffix range")
            return max(0, size - self.suffix), size - 1
        if self.first >= size:
            raise RangeNotSatisfiable("the range starts after the end of the file")
        last = size - 1 if self.last is None else min(self.last, size - 1)
        return self.first, last


def parse_range(header: str) -> ByteRange | None:
    """The one byte range a Range header asks for; None when the header is to be ignored
    (another unit, or several ranges: RFC 9110 lets a server answer those with the whole
    file). A malformed ``bytes=`` header is RangeNotSatisfiable (416)."""
    unit, equals, spec = header.strip().partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    found = _RANGE.fullmatch("bytes=" + spec.strip())
    if found is None:
        raise RangeNotSatisfiable("a malformed byte range")
    first, last, suffix = found.groups()
    if suffix is not None:
        return ByteRange(None, None, int(suffix))
    if last and int(last) < int(first):
        raise RangeNotSatisfiable("a byte range that ends before it starts")
    return ByteRange(int(first), int(last) if last else None)


def _timeout_error(url: str, client: HttpClient, exc: Exception) -> IndexUnavailable:
    kind = "ReadTimeout" if isinstance(exc, DeadlinePassed) else type(exc).__name__
    return IndexUnavailable(f"{url}: {kind}: no complete answer within {client.timeout:g} seconds")


@contextlib.contextmanager
def _upstream_request(
    client: HttpClient, method: str, url: str, headers: dict[str, str]
) -> Iterator[httpx.Response]:
    """A streamed ``method`` request over ``client``'s connection pool (its timeouts,
    overall deadline and credentials rules), following redirects to http(s) only; the
    proxy's HEAD and ranged GET, which the download client does not make."""
    try:
        with _deadline(client.timeout), client._open(url, headers, method) as response:
            yield response
    except (DeadlinePassed, httpx.TimeoutException) as exc:
        raise _timeout_error(url, client, exc) from None
    except httpx.HTTPError as exc:
        raise IndexUnavailable(f"{url}: {type(exc).__name__}: {one_line(str(exc), 200)}") from None


@dataclass(frozen=True, slots=True)
class Served:
    """One file the proxy offers: the name installers see and the upstream file behind it."""

    filename: str
    located: Located
    why: str = ""

    @property
    def token(self) -> str:
        return url_key(self.located.file.url)


def _label_less(filename: str, wheel: WheelFilename) -> str:
    """The filename without its ``-{label}`` (upstream spelling kept)."""
    if wheel.label is None:
        return filename
    return filename[: -len(f"-{wheel.label}.whl")] + ".whl"


def served_name(filename: str) -> str:
    """The name an upstream file is offered under (a variant wheel's, without its label)."""
    if not filename.endswith(".whl"):
        return filename
    try:
        return _label_less(filename, WheelFilename.parse(filename))
    except WheelnextError:
        return filename


def select_files(
    files: list[Located],
    metadata_for: Callable[[str, list[Located]], VariantMetadata | MetadataError],
    supported: SupportedProperties,
    priorities: UserPriorities,
) -> list[Served]:
    """Per build of each release, the one wheel to offer; other files pass through.

    ``metadata_for(version, files)`` gives a release's combined variant metadata.
    """
    builds: dict[tuple[str, str], dict[str, tuple[Located, WheelFilename]]] = defaultdict(dict)
    served: list[Served] = []
    by_version: dict[str, list[Located]] = defaultdict(list)
    for located in files:
        name = located.file.filename
        if is_variants_json_filename(name):
            by_version[str(parse_variants_json_filename(name)[1])].append(located)
            continue
        if not name.endswith(".whl"):
            served.append(Served(name, located))
            continue
        try:
            wheel = WheelFilename.parse(name)
        except WheelnextError:
            continue
        by_version[str(wheel.version)].append(located)
        key = (str(wheel.version), str(wheel.with_label(None)))
        builds[key][str(wheel)] = (located, wheel)
    for (version, _), members in sorted(builds.items()):
        wheels = [w for _, w in members.values()]
        if not any(w.label is not None for w in wheels):
            served += [Served(loc.file.filename, loc) for loc, _ in members.values()]
            continue
        metadata = metadata_for(version, by_version[version])
        selector = Selector(supported, priorities=priorities, tags=sorted(wheels[0].tags, key=str))
        selection = selector.rank(list(members), metadata)
        if not selection.ranked:
            continue
        best = selection.ranked[0]
        located, wheel = members[str(best.wheel)]
        served.append(Served(_label_less(located.file.filename, wheel), located, best.why))
    return served


@dataclass(frozen=True, slots=True)
class Profile:
    """The properties a page is computed for: the proxy's own (``token`` None) or a
    client's profile token."""

    token: str | None
    supported: SupportedProperties


class _Lru(Generic[K, V]):
    """A small thread-safe least-recently-used map (bounded memory per worker)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[K, V] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


def _variant_label(located: Located) -> str:
    """The label of an offered wheel (``none``: not a variant wheel)."""
    try:
        label = WheelFilename.parse(located.file.filename).label
    except WheelnextError:
        return "none"
    return label or "none"


class VariantProxy:
    """Computes pages per (project, profile) and serves files from the shared store;
    safe to use from many threads, and from many processes sharing one store."""

    def __init__(
        self,
        indexes: IndexSet,
        http: HttpClient,
        supported: SupportedProperties,
        priorities: UserPriorities,
        *,
        store: ProxyStore,
        ttl: float = 60.0,
        files_http: HttpClient | None = None,
        max_upstream: int = 32,
        metrics: Metrics | None = None,
    ) -> None:
        self.indexes, self.http, self.priorities = indexes, http, priorities
        self.files_http = files_http or http
        self.default = Profile(None, supported)
        self.store, self.ttl, self.metrics = store, ttl, metrics
        self._upstream = threading.BoundedSemaphore(max_upstream)
        self._holding = threading.local()
        self._profiles: _Lru[str, Profile] = _Lru(256)
        self._pages: _Lru[tuple[str, str | None], tuple[list[Served], Counter[str]]] = _Lru(2048)
        self._release_metadata: _Lru[tuple[str, str], VariantMetadata | MetadataError] = _Lru(1024)
        self._refs: _Lru[str, tuple[float, Served]] = _Lru(8192)
        self._sizes: _Lru[str, int] = _Lru(8192)

    # -- bookkeeping ------------------------------------------------------------------

    @contextlib.contextmanager
    def upstream(self, kind: str) -> Iterator[None]:
        """One upstream request: inside the app-wide limit (a thread already inside it,
        as a page computation fetching a variant.json, does not take a second place)."""
        if getattr(self._holding, "inside", False):
            yield
            return
        start = time.monotonic()
        with self._upstream:
            self._holding.inside = True
            try:
                yield
            finally:
                self._holding.inside = False
                if self.metrics is not None:
                    self.metrics.upstream_seconds.labels(kind).observe(time.monotonic() - start)

    def _count(self, kind: str, hit: bool) -> None:
        if self.metrics is not None:
            (self.metrics.cache_hits if hit else self.metrics.cache_misses).labels(kind).inc()

    def profile(self, token: str) -> Profile:
        """The profile a client's token carries (ProfileTokenError: a one-line reason)."""
        found = self._profiles.get(token)
        if found is None:
            from wheelnext.core.profile_token import decode_profile

            found = Profile(token, decode_profile(token))
            self._profiles.put(token, found)
        return found

    # -- pages ------------------------------------------------------------------------

    def project(
        self, project: str, profile: Profile | None = None
    ) -> tuple[list[Served] | None, bool]:
        """The files offered for ``project`` to ``profile`` (None: no upstream lists it,
        or it is not a project name at all), and whether the page came from the cache."""
        canonical = project_name(project)
        if canonical is None:
            return None, False
        profile = profile or self.default
        snapshot, stored = self.store.project(canonical, self.ttl, lambda: self._ask(canonical))
        self._count("project", stored)
        if snapshot is None:
            return None, False
        key = (snapshot.identity, profile.token)
        cached = self._pages.get(key)
        page_hit = cached is not None
        self._count("page", page_hit)
        if cached is None:
            cached = self._compute(canonical, snapshot, profile)
            self._pages.put(key, cached)
        served, labels = cached
        if self.metrics is not None and labels:
            self.metrics.selected(profile.token, labels)
        return [self._with_known_hash(item) for item in served], page_hit and stored

    def _with_known_hash(self, item: Served) -> Served:
        """``item`` with the sha256 the proxy computed when it downloaded a file the
        upstream listed without one (clients can then check what they get)."""
        entry = item.located.file
        if "sha256" in entry.hashes:
            return item
        digest = self.store.known_sha256(entry)
        if digest is None:
            return item
        hashes = {**entry.hashes, "sha256": digest}
        located = replace(item.located, file=replace(entry, hashes=hashes))
        return replace(item, located=located)

    def _ask(self, project: str) -> tuple[str, tuple[Located, ...]] | None:
        with self.upstream("project"):
            self.indexes.forget(project)
            found = self.indexes.lookup(project, lambda entry: True)
        if found.group is None:
            return None
        return found.group, found.files

    def _compute(
        self, project: str, snapshot: Snapshot, profile: Profile
    ) -> tuple[list[Served], Counter[str]]:
        def metadata_for(version: str, files: list[Located]) -> VariantMetadata | MetadataError:
            key = (snapshot.identity, version)
            found = self._release_metadata.get(key)
            if found is None:
                with self.upstream("metadata"):
                    found = release_metadata(
                        self.http,
                        self.fetch,
                        [f for f in files if is_variants_json_filename(f.file.filename)],
                        [f for f in files if f.file.filename.endswith(".whl")],
                    )
                self._release_metadata.put(key, found)
            return found

        served = select_files(
            list(snapshot.files), metadata_for, profile.supported, self.priorities
        )
        labels: Counter[str] = Counter()
        for item in served:
            if item.filename != item.located.file.filename:
                labels[_variant_label(item.located)] += 1
                LOG.info(
                    "%s: offering %s as %s", project, item.located.file.filename, item.filename
                )
        return served, labels

    # -- files ------------------------------------------------------------------------

    def served(self, key: str) -> Served | None:
        """The file ``/files/<key>/...`` names (None: no project page listed it)."""
        memo = self._refs.get(key)
        if memo is not None and 0 <= time.monotonic() - memo[0] < self.ttl:
            return memo[1]
        located = self.store.ref(key)
        if located is None or is_variants_json_filename(located.file.filename):
            return None
        found = Served(served_name(located.file.filename), located)
        self._refs.put(key, (time.monotonic(), found))  # re-read after ttl: hashes may move
        return found

    def fetch(self, located: Located) -> Path:
        """The upstream file on disk, downloaded once and verified against its hash."""
        return self.fetch_file(located)[0]

    def fetch_file(self, located: Located) -> tuple[Path, bool]:
        """The upstream file on disk and whether it was cached already."""
        check_source(located)
        entry = located.file

        def fill(temp: Path) -> None:
            with self.upstream("file"):
                self.files_http.download(
                    entry.url, None, temp, hashes=entry.hashes, expected_size=entry.size
                )

        path, hit = self.store.file(entry, fill, self.ttl)
        self._count("file", hit)
        return path, hit

    def cached(self, item: Served) -> Path | None:
        """The stored, verified copy of an offered file (None: not downloaded yet)."""
        return self.store.cached(item.located.file)

    def size(self, item: Served) -> int | None:
        """The file's size without downloading it (for a HEAD or a range): the stored
        copy's, else the size the upstream page declared, else the upstream's answer to a
        HEAD (remembered); None when none of them says."""
        cached = self.cached(item)
        if cached is not None:
            return cached.stat().st_size
        entry = item.located.file
        if entry.size is not None:
            return entry.size
        if not entry.url.startswith(("http://", "https://")):
            check_source(item.located)
            try:
                return local_path(entry.url).stat().st_size
            except OSError:
                return None
        known = self._sizes.get(item.token)
        if known is not None:
            return known
        check_source(item.located)
        with (
            self.upstream("file"),
            _upstream_request(
                self.files_http, "HEAD", entry.url, {"Accept-Encoding": "identity"}
            ) as response,
        ):
            declared = response.headers.get("content-length", "")
            if response.status_code != 200 or not declared.isdigit() or len(declared) > 18:
                return None
        self._sizes.put(item.token, int(declared))
        return int(declared)

    def ranged(self, item: Served, first: int, last: int, size: int) -> bytes | None:
        """Bytes ``first``..``last`` (inclusive, at most ``MAX_RANGE``) of an upstream file
        of ``size`` bytes, by one ranged GET, not verified and not stored (a part cannot
        be checked against the file's hash); None when the upstream answers with the whole
        file instead (the caller then downloads it whole, verified)."""
        check_source(item.located)
        url = item.located.file.url
        want = last - first + 1
        if want > MAX_RANGE:
            raise ValueError("range larger than MAX_RANGE")
        headers = {"Range": f"bytes={first}-{last}", "Accept-Encoding": "identity"}
        with (
            self.upstream("file"),
            _upstream_request(self.files_http, "GET", url, headers) as response,
        ):
            if response.status_code == 200:
                return None
            if response.status_code != 206:
                raise InstallerError(f"{url}: HTTP {response.status_code} for a byte range")
            found = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
            if (
                found is None
                or (int(found[1]), int(found[2])) != (first, last)
                or found[3] not in ("*", str(size))
                or response.headers.get("content-encoding", "identity").lower() != "identity"
            ):
                raise InstallerError(
                    f"{url}: the upstream answered a different byte range than asked for"
                )
            chunks, received = [], 0
            for chunk in response.iter_raw():  # read errors: _upstream_request's one line
                received += len(chunk)
                if received > want:
                    break
                chunks.append(chunk)
        if received != want:
            raise InstallerError(f"{url}: the upstream sent {received} bytes for {want} asked")
        return b"".join(chunks)

    def metadata(self, item: Served) -> tuple[bytes, bool]:
        """The PEP 658 metadata file of an offered wheel, from upstream, verified against
        the hashes the upstream page gave for it (kept in the store when they include a
        sha256); and whether it was stored already."""
        check_source(item.located)
        entry = item.located.file
        expected = entry.core_metadata if isinstance(entry.core_metadata, dict) else {}
        meta = FileEntry(entry.filename + ".metadata", entry.url + ".metadata", dict(expected))
        cached = self.store.cached(meta) if "sha256" in expected else None
        if cached is not None:
            self._count("metadata", True)
            return cached.read_bytes(), True
        with self.upstream("metadata"):
            data = self.http.get_bytes(meta.url, expected)
        if "sha256" in expected:
            self.store.put_bytes(meta, data)
        self._count("metadata", False)
        return data, False


# ---------------------------------------------------------------- rendering


def _entry_json(item: Served) -> dict[str, Any]:
    entry: FileEntry = item.located.file
    out: dict[str, Any] = {
        "filename": item.filename,
        "url": f"/files/{item.token}/{quote(item.filename)}",
        "hashes": dict(entry.hashes),
    }
    if entry.requires_python:
        out["requires-python"] = entry.requires_python
    if entry.yanked is not None:
        out["yanked"] = entry.yanked or True
    if entry.core_metadata:
        out["core-metadata"] = entry.core_metadata
    if entry.size is not None:
        out["size"] = entry.size
    return out


def render_json(project: str, served: list[Served]) -> bytes:
    files = [_entry_json(s) for s in sorted(served, key=lambda s: s.filename)]
    versions: set[str] = set()
    for item in served:
        if item.filename.endswith(".whl"):
            versions.add(str(WheelFilename.parse(item.filename).version))
    doc = {
        "meta": {"api-version": API_VERSION},
        "name": project,
        "files": files,
        "versions": sorted(versions),
    }
    return json.dumps(doc).encode()


def render_html(project: str, served: list[Served]) -> bytes:
    lines = [
        "<!DOCTYPE html>",
        f'<html><head><meta name="pypi:repository-version" content="{API_VERSION}">',
        f"<title>Links for {html.escape(project)}</title></head><body>",
        f"<h1>Links for {html.escape(project)}</h1>",
    ]
    for item in sorted(served, key=lambda s: s.filename):
        entry = _entry_json(item)
        fragment = f"#sha256={entry['hashes']['sha256']}" if "sha256" in entry["hashes"] else ""
        attrs = [f'href="{html.escape(entry["url"] + fragment)}"']
        if "requires-python" in entry:
            attrs.append(f'data-requires-python="{html.escape(entry["requires-python"])}"')
        if "yanked" in entry:
            reason = entry["yanked"] if isinstance(entry["yanked"], str) else ""
            attrs.append(f'data-yanked="{html.escape(reason)}"')
        if "core-metadata" in entry:
            meta = entry["core-metadata"]
            value = (
                f"sha256={meta['sha256']}"
                if isinstance(meta, dict) and "sha256" in meta
                else "true"
            )
            attrs.append(f'data-core-metadata="{value}" data-dist-info-metadata="{value}"')
        lines.append(f"<a {' '.join(attrs)}>{html.escape(item.filename)}</a><br>")
    lines.append("</body></html>")
    return ("\n".join(lines) + "\n").encode()


def wants_json(accept: str) -> bool:
    """PEP 691 negotiation, simplified: JSON when asked for before (or instead of) HTML."""
    accept = accept or ""
    if JSON_TYPE not in accept:
        return False
    html_at = min((accept.find(t) for t in (HTML_TYPE, "text/html") if t in accept), default=-1)
    if html_at < 0:
        return True
    quality = _qualities(accept)
    return quality.get(JSON_TYPE, 1.0) >= max(
        quality.get(HTML_TYPE, 0.0), quality.get("text/html", 0.0)
    )


def _qualities(accept: str) -> dict[str, float]:
    out = {}
    for part in accept.split(","):
        kind, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out[kind.strip()] = q
    return out


# ---------------------------------------------------------------- HTTP
#
# Every client of the proxy is untrusted (a whole organisation may share one): each part
# of a request path is percent-decoded once and checked before it is used, no response
# header carries a byte of the request that was not checked, error bodies are one fixed
# line, and whatever goes wrong while answering ends in a status line and a log line.

MAX_PATH = 2600  # the longest request path we read: /p/{token of <= 2000}/simple/{name}/
MAX_PROJECT = 200  # the longest project name a request may carry
_PROJECT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")  # PEP 508 names
_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*")  # RFC 3986 path characters
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def project_name(text: str) -> str | None:
    """The canonical form of ``text`` when it is a PEP 508 project name of at most 200
    characters, else None: the only project names a request may carry upstream."""
    if len(text) > MAX_PROJECT or not _PROJECT.fullmatch(text):
        return None
    return canonicalize_name(text)


def path_segments(target: str) -> list[str] | None:
    """The segments of a request's path (its query dropped), each percent-decoded once as
    UTF-8; None when the path is not ``/`` followed by URL path characters only."""
    path = target.split("?", 1)[0]
    if not _PATH.fullmatch(path):
        return None
    try:
        return [unquote(part, errors="strict") for part in path[1:].split("/")]
    except UnicodeDecodeError:
        return None
