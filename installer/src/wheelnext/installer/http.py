"""HTTP for indexes: timeouts, retries, an on-disk cache, and verified downloads.

Project pages are cached with their validators (``ETag``, ``Last-Modified``) and their
freshness (``Cache-Control: max-age``, else ``Expires``, less the ``Age`` they arrived
with, capped at a day; RFC 9111 for a private cache): a fresh page is used without a
request, a stale one is revalidated (``If-None-Match``/``If-Modified-Since``). Files are
cached by their sha256, so a file is fetched once however many indexes list it, and a
cached or local (``file:``) file is handed over where it lies, never copied. Every
download is checked against every hash the index gave that ``hashlib`` can compute
before anyone reads it.

What a server sends is bounded: each request (retries included) has one overall deadline,
enforced at every socket read, so a server dripping a byte at a time cannot stall us past
``--timeout``; a download must deliver at least ``CHUNK`` bytes per ``--timeout``; pages
and small files are capped in size; redirects are followed only to http and https.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpcore
import httpx

from wheelnext.core.errors import one_line
from wheelnext.core.files import atomic_write
from wheelnext.installer.errors import IndexUnavailable, InstallerError, TooLarge
from wheelnext.installer.file_identity import FileIdentity, identity

LOG = logging.getLogger("wheelnext.installer")


RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
CHUNK = 1 << 16
MAX_PAGE_BYTES = 64 * 1024 * 1024  # the largest project pages on PyPI are a few MiB
MAX_SMALL_BYTES = 64 * 1024 * 1024  # METADATA files and variants.json
MAX_REDIRECTS = 10
REDIRECT_SCHEMES = ("http", "https")
# hashes we can check: those every Python has (algorithms_available may list some that
# OpenSSL then refuses to make); shake_* need a length and are not used by indexes
CHECKABLE = frozenset(hashlib.algorithms_guaranteed - {"shake_128", "shake_256"})
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Response:
    """What a GET returned: final URL, status, content type and body."""

    url: str
    status: int
    content_type: str
    body: bytes


def _key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


# ------------------------------------------------------------------ freshness (RFC 9111)

MAX_LIFETIME = 24 * 3600  # a page is never used unasked for longer than a day
MAX_HEADER = 1024  # longer validators or cache headers are not kept (nor sent back)
_DELTA = re.compile(r"[0-9]{1,10}")  # delta-seconds; RFC 9111 §1.2.2
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
# the answer headers a cached page keeps: what freshness and revalidation are computed from
CACHE_HEADERS = ("cache-control", "expires", "date", "age", "etag", "last-modified")


def _directives(value: str) -> dict[str, list[str]]:
    """``Cache-Control`` directives, lower-cased names → every value given (``""``: none)."""
    found: dict[str, list[str]] = {}
    for part in value.split(","):
        name, _, argument = part.strip().partition("=")
        name = name.strip().lower()
        if name:
            found.setdefault(name, []).append(argument.strip().strip('"'))
    return found


def _http_date(value: str | None) -> float | None:
    """An HTTP date as a POSIX time; None when absent or not a date."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is not one
        return None
    try:
        stamp = moment.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
    return stamp if math.isfinite(stamp) else None


def storable(headers: Mapping[str, str]) -> bool:
    """Whether a private cache may keep the answer at all (``no-store`` says no)."""
    return "no-store" not in _directives(headers.get("cache-control", ""))


def freshness(headers: Mapping[str, str], received: float) -> float:
    """Seconds from ``received`` (when the answer arrived, POSIX time) during which the
    answer may be used without asking: its freshness lifetime (``max-age``, else
    ``Expires`` − ``Date``) less its age when it arrived (``Age``, or how far ``Date``
    lies behind our clock), capped at ``MAX_LIFETIME``. Anything unparseable, negative,
    repeated with different values, ``no-cache`` or ``no-store``: 0 (revalidate).
    ``s-maxage`` is for shared caches and ignored; ``private`` is fine for us."""
    control = _directives(headers.get("cache-control", ""))
    if "no-cache" in control or "no-store" in control:
        return 0.0
    if "max-age" in control:
        values = set(control["max-age"])
        if len(values) != 1:  # conflicting max-age: RFC 9111 §4.2.1 says stale
            return 0.0
        value = values.pop()
        if not _DELTA.fullmatch(value):
            return 0.0
        lifetime = float(min(int(value), MAX_LIFETIME))
    elif "expires" in headers:
        expires = _http_date(headers.get("expires"))
        if expires is None:  # "0" and other invalid dates mean already expired
            return 0.0
        date = _http_date(headers.get("date"))
        lifetime = max(0.0, min(expires - (received if date is None else date), MAX_LIFETIME))
    else:
        return 0.0  # no heuristic freshness: an index page changes whenever a release lands
    age = 0.0
    raw_age = headers.get("age", "").strip()
    if raw_age:
        if not _DELTA.fullmatch(raw_age):
            return 0.0
        age = float(int(raw_age))
    date = _http_date(headers.get("date"))
    if date is None and headers.get("date"):  # a garbled (or repeated) Date: trust nothing
        return 0.0
    if date is not None:
        age = max(age, received - date)  # apparent age; a clock ahead of ours counts 0
    return max(0.0, min(lifetime - age, MAX_LIFETIME))


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The caching headers of an answer worth keeping: printable and not oversized."""
    kept = {}
    for name in CACHE_HEADERS:
        value = headers.get(name)
        if value is not None and len(value) <= MAX_HEADER and _PRINTABLE.fullmatch(value):
            kept[name] = value
    return kept


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A page on disk: where the answer came from, its caching headers, when it arrived
    and for how long after that it is fresh."""

    url: str
    content_type: str
    headers: dict[str, str]
    fetched: float
    lifetime: float

    def fresh(self, now: float) -> bool:
        """Usable without a request: within its lifetime, and no clock jumped back."""
        return self.fetched <= now < self.fetched + self.lifetime

    def validators(self) -> dict[str, str]:
        """The conditional request headers that revalidate this page."""
        found = {}
        if "etag" in self.headers:
            found["If-None-Match"] = self.headers["etag"]
        if "last-modified" in self.headers:
            found["If-Modified-Since"] = self.headers["last-modified"]
        return found

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "url": self.url,
                "content_type": self.content_type,
                "headers": self.headers,
                "fetched": self.fetched,
                "lifetime": self.lifetime,
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> CachedPage | None:
        """The entry, or None when it is damaged or written by another version."""
        try:
            loaded = json.loads(data)
        except ValueError:
            return None
        if not isinstance(loaded, dict):
            return None
        url, content_type, headers = (loaded.get(k) for k in ("url", "content_type", "headers"))
        fetched, lifetime = loaded.get("fetched"), loaded.get("lifetime")
        numbers = (fetched, lifetime)
        if (
            not isinstance(url, str)
            or not isinstance(content_type, str)
            or not isinstance(headers, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
            or not all(type(n) in (int, float) and math.isfinite(n) for n in numbers)  # type: ignore[arg-type]
        ):
            return None
        kept = _kept_headers(headers)
        lifetime = max(0.0, min(float(lifetime), MAX_LIFETIME))  # type: ignore[arg-type]
        return cls(url, content_type, kept, float(fetched), lifetime)  # type: ignore[arg-type]


# ------------------------------------------------------------------ deadlines

_local = threading.local()


class DeadlinePassed(httpcore.ReadTimeout):
    """The overall deadline of a request passed (raised at a socket read or write)."""


def _clamp(timeout: float | None) -> float | None:
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlinePassed("the request's overall deadline passed")
    return left if timeout is None else min(timeout, left)


STOP_POLL = 0.25  # seconds a cancellable read waits before looking at its stop event


class Cancelled(DeadlinePassed):
    """The thread's stop event was set while it waited for the server."""


@contextmanager
def cancellable(stop: threading.Event) -> Iterator[None]:
    """Within the block, this thread's reads end soon after ``stop`` is set (a download
    another thread no longer wants, even from a server that holds it back)."""
    previous = getattr(_local, "stop", None)
    _local.stop = stop
    try:
        yield
    finally:
        _local.stop = previous


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every read and write ends by the current thread's deadline (and a
    read soon after the thread's stop event, if it has one)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        stop: threading.Event | None = getattr(_local, "stop", None)
        if stop is None:
            return self._inner.read(max_bytes, _clamp(timeout))
        end = None if timeout is None else time.monotonic() + timeout
        while True:  # short waits, so that a stop is seen within STOP_POLL seconds
            if stop.is_set():
                raise Cancelled("the download was cancelled")
            left = _clamp(None if end is None else end - time.monotonic())
            if left is not None and left <= 0:
                raise httpcore.ReadTimeout("timed out")
            wait = STOP_POLL if left is None else min(STOP_POLL, left)
            try:
                return self._inner.read(max_bytes, wait)
            except httpcore.ReadTimeout:
                if wait == left:  # the read's own timeout, not a poll, ran out
                    raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend with the deadline applied to connects, reads and writes."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, _clamp(timeout), local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.connect_unix_socket(path, _clamp(timeout), socket_options)
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Credentials(httpx.Auth):
    """HTTP basic credentials for a request: the URL's own ``user:password@`` (an index URL
    the user gave), else the ``~/.netrc`` (or ``$NETRC``) entry for its host, as pip reads
    it; a lock stores URLs without credentials, so this is how a private index's locked
    wheels are fetched."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url = request.url
        if url.username or url.password:
            request = next(httpx.BasicAuth(url.username, url.password).auth_flow(request))
        elif "authorization" not in request.headers:
            found = _netrc(url.host)
            if found is not None:
                request = next(httpx.BasicAuth(*found).auth_flow(request))
        yield request


def _netrc(host: str) -> tuple[str, str] | None:
    """The (login, password) ``~/.netrc`` (or ``$NETRC``) holds for ``host``, if any; an
    unreadable or malformed file counts as none (as pip treats it)."""
    import netrc

    path = Path(os.environ.get("NETRC") or Path("~/.netrc").expanduser())
    if not path.is_file():
        return None
    try:
        found = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    if found is None:
        return None
    login, _, password = found
    return login, password or ""


def _install_deadlines(client: httpx.Client) -> None:
    """Put the deadline backend under every connection pool of ``client`` (its own and
    any proxy's); httpx has no public knob for the network backend."""
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        if pool is not None and hasattr(pool, "_network_backend"):
            pool._network_backend = _DeadlineBackend()


@contextmanager
def _deadline(seconds: float) -> Iterator[Callable[[], None]]:
    """Within the block, every socket operation of this thread ends ``seconds`` from now;
    the yielded function renews the deadline (a download that is making progress)."""

    def renew() -> None:
        _local.deadline = time.monotonic() + seconds

    previous = getattr(_local, "deadline", None)
    renew()
    try:
        yield renew
    finally:
        _local.deadline = previous


# ------------------------------------------------------------------ hashes


def checkable(hashes: Mapping[str, str]) -> dict[str, str]:
    """The hashes of ``hashes`` whose algorithm hashlib can compute."""
    return {a: d for a, d in hashes.items() if a in CHECKABLE}


class Hasher:
    """Every checkable hash of a stream at once."""

    def __init__(self, hashes: Mapping[str, str], what: str, source: str = "index") -> None:
        self.expected = checkable(hashes)
        self.what = what
        self.source = source  # who gave the hashes, for the error: the index, the URL
        if hashes and not self.expected:
            LOG.warning(
                "%s: the index gives only hashes this installer cannot check (%s)",
                what,
                ", ".join(sorted(one_line(a, 20) for a in hashes)),
            )
        self._digests = {a: hashlib.new(a) for a in self.expected}
        self._digests.setdefault("sha256", hashlib.sha256())

    def update(self, data: bytes) -> None:
        for digest in self._digests.values():
            digest.update(data)

    @property
    def sha256(self) -> str:
        return self._digests["sha256"].hexdigest()

    def check(self) -> None:
        for algorithm, expected in sorted(self.expected.items()):
            got = self._digests[algorithm].hexdigest()
            if got != expected:
                raise InstallerError(
                    f"{self.what}: {algorithm} mismatch ({self.source} says {expected}, got {got})"
                )


def verify(data: bytes, hashes: Mapping[str, str], what: str) -> None:
    """Check ``data`` against every checkable hash in ``hashes``."""
    hasher = Hasher(hashes, what)
    hasher.update(data)
    hasher.check()


# ------------------------------------------------------------------ the client


class HttpClient:
    """One connection pool for a whole install, with retries and the on-disk cache."""

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        timeout: float = 15.0,
        retries: int = 2,
        user_agent: str = "wheelnext-installer",
        refresh: bool = False,
    ) -> None:
        self.cache_dir = cache_dir
        self.refresh = refresh  # revalidate every cached page, however fresh
        self.retries = retries
        self.timeout = timeout
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": user_agent},
            auth=_Credentials(),
        )
        _install_deadlines(self._client)

    def close(self) -> None:
        self._client.close()

    @contextmanager
    def _open(
        self, url: str, headers: Mapping[str, str], method: str = "GET"
    ) -> Iterator[httpx.Response]:
        """A streaming ``method`` request of ``url``, following redirects to http(s) only."""
        for _ in range(MAX_REDIRECTS + 1):
            with self._client.stream(method, url, headers=dict(headers)) as response:
                if not response.has_redirect_location:
                    yield response
                    return
                target = urljoin(url, response.headers.get("location", ""))
                scheme = urlsplit(target).scheme.lower()
                if scheme not in REDIRECT_SCHEMES:
                    raise InstallerError(
                        f"{url}: refusing a redirect to a {one_line(scheme, 20) or 'scheme-less'}"
                        " URL (only http and https are followed)"
                    )
                url = target
        raise InstallerError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _read(self, response: httpx.Response, url: str, cap: int) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise TooLarge(f"{url}: answer of {declared} bytes exceeds the {cap} limit")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise TooLarge(f"{url}: answer exceeds the {cap} byte limit")
            chunks.append(chunk)
        return b"".join(chunks)

    def _send(self, url: str, headers: dict[str, str], cap: int) -> tuple[httpx.Response, bytes]:
        """GET with retries, one overall deadline for all attempts, and a size cap."""
        delay = 0.2
        start = time.monotonic()
        with _deadline(self.timeout):
            for attempt in range(self.retries + 1):
                out_of_time = time.monotonic() + delay - start >= self.timeout
                try:
                    with self._open(url, headers) as response:
                        if response.status_code == 200 or response.status_code not in RETRY_STATUS:
                            return response, self._read(response, url, cap)
                        if attempt == self.retries or out_of_time:
                            return response, b""
                except (DeadlinePassed, httpx.TimeoutException) as exc:
                    raise self._late(url, exc) from None  # every read ends by the deadline
                except httpx.HTTPError as exc:
                    if attempt == self.retries or out_of_time:
                        raise IndexUnavailable(
                            f"{url}: {type(exc).__name__}: {one_line(str(exc), 200)}"
                        ) from None
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _late(self, url: str, exc: Exception) -> IndexUnavailable:
        kind = "ReadTimeout" if isinstance(exc, DeadlinePassed) else type(exc).__name__
        return IndexUnavailable(
            f"{url}: {kind}: no complete answer within {self.timeout:g} seconds"
        )

    def get_page(self, url: str, accept: str) -> Response:
        """GET a project page: a fresh cached copy without asking, a stale one revalidated
        by its validators (a ``304`` renews it), else from the server."""
        meta_path = body_path = None
        headers = {"Accept": accept}
        cached: CachedPage | None = None
        if self.cache_dir is not None:
            base = self.cache_dir / "pages" / _key(url + "\0" + accept)
            meta_path, body_path = base.with_suffix(".json"), base.with_suffix(".body")
            try:
                cached = CachedPage.from_json(meta_path.read_bytes())
                if cached is not None and not self.refresh and cached.fresh(time.time()):
                    return Response(cached.url, 200, cached.content_type, body_path.read_bytes())
            except OSError:
                cached = None  # a missing or damaged cache entry is a miss
            if cached is not None:
                headers.update(cached.validators())
        response, body = self._send(url, headers, MAX_PAGE_BYTES)
        received = time.time()
        if response.status_code == 304 and cached is not None and body_path is not None:
            try:
                data = body_path.read_bytes()
            except OSError:
                data = None  # removed meanwhile: ask again without validators
            if data is None:
                response, body = self._send(url, {"Accept": accept}, MAX_PAGE_BYTES)
            else:
                # RFC 9111 §4.3.4: the 304's header fields replace the stored ones
                # (Date and Age describe the old answer: they never carry over)
                old = {k: v for k, v in cached.headers.items() if k not in ("date", "age")}
                merged = {**old, **_kept_headers(response.headers)}
                renewed = CachedPage(
                    cached.url,
                    cached.content_type,
                    merged,
                    received,
                    freshness(merged, received) if storable(merged) else 0.0,
                )
                if meta_path is not None and storable(merged):
                    atomic_write(meta_path, renewed.to_json())
                return Response(cached.url, 200, cached.content_type, data)
        result = Response(
            str(response.url), response.status_code, response.headers.get("content-type", ""), body
        )
        if meta_path is None or body_path is None or response.status_code != 200:
            return result
        kept = _kept_headers(response.headers)
        entry = CachedPage(
            result.url, result.content_type, kept, received, freshness(response.headers, received)
        )
        if storable(response.headers) and (entry.lifetime > 0 or entry.validators()):
            atomic_write(body_path, result.body)
            atomic_write(meta_path, entry.to_json())
        elif cached is not None:  # nothing to keep: forget the old copy
            meta_path.unlink(missing_ok=True)
            body_path.unlink(missing_ok=True)
        return result

    def get_bytes(
        self, url: str, hashes: Mapping[str, str] | None = None, limit: int = MAX_SMALL_BYTES
    ) -> bytes:
        """GET a small file (metadata, variants.json) of at most ``limit`` bytes (else
        ``TooLarge``), verified against ``hashes``; non-200 is an error naming the URL.
        ``file:`` URLs reach here only from sources the user named (find-links, a local
        index tree; pages from remote indexes cannot point to them), read as any file the
        user names: a regular file, within the limit."""
        if url.startswith("file:"):
            from wheelnext.core.files import FileTooLarge, UserFileError, read_user_file

            try:
                data = read_user_file(local_path(url), "", limit)
            except UserFileError as exc:
                error = TooLarge if isinstance(exc, FileTooLarge) else InstallerError
                raise error(f"{url}: {exc.problem}") from None
            if hashes:
                verify(data, hashes, url)
            return data
        cached = self._by_hash((hashes or {}).get("sha256"))
        if cached is not None:  # a PEP 658 file is named by its hash: no request
            try:
                kept: bytes | None = cached.read_bytes()
            except OSError:
                kept = None
            if kept is not None and hashlib.sha256(kept).hexdigest() == cached.name:
                verify(kept, hashes or {}, url)
                return kept
        response, data = self._send(url, {}, limit)
        if response.status_code != 200:
            raise InstallerError(f"{url}: HTTP {response.status_code}")
        if hashes:
            verify(data, hashes, url)
        if cached is not None:
            atomic_write(cached, data)
        return data

    def _by_hash(self, sha256: str | None, kind: str = "files") -> Path | None:
        """Where the cache keeps the file of this sha256 (None: no cache or no hash):
        ``files/ab/<sha256>`` for small files, ``wheels/ab/<sha256>`` a folder for a
        downloaded file under its (checked) name."""
        if self.cache_dir is None or not sha256 or not _SHA256.fullmatch(sha256.lower()):
            return None
        sha256 = sha256.lower()
        return self.cache_dir / kind / sha256[:2] / sha256

    def download(
        self,
        url: str,
        sha256: str | None,
        destination: Path,
        progress: Callable[[int, int | None], None] | None = None,
        *,
        hashes: Mapping[str, str] | None = None,
        expected_size: int | None = None,
        in_place: bool = False,
        source: str = "index",
    ) -> Path:
        """Fetch ``url`` (or reuse the cached copy), verified against every checkable hash
        of ``hashes`` (and ``sha256``); returns where the verified file lies.

        With ``in_place`` that is the cache entry itself on a cache hit (or when the
        download went straight into the cache) and the user's own file for a ``file:``
        URL: nothing is copied, and the caller must only read the path, never change,
        move or delete it. Without, the file is always at ``destination``. A download
        whose hash differs from the index's is deleted and reported; nothing unverified is
        ever left where the installer reads. With ``expected_size`` (a lock's or a PEP
        700 page's ``size``) reading stops as soon as the server sends more: a hostile
        server cannot make us store more than was declared.
        """
        found = self._obtain(url, sha256, destination, progress, hashes, expected_size, source)
        if in_place or found == destination:
            return found
        destination.parent.mkdir(parents=True, exist_ok=True)
        _copy(found, destination)
        _remember(destination)
        return destination

    def _obtain(  # noqa: PLR0917
        self,
        url: str,
        sha256: str | None,
        destination: Path,
        progress: Callable[[int, int | None], None] | None,
        hashes: Mapping[str, str] | None,
        expected_size: int | None,
        source: str,
    ) -> Path:
        """The verified file of ``url``: the cache entry, the local file, or a download
        (into the cache when the hash is known, else to ``destination``)."""
        expected = dict(hashes or {})
        if sha256:
            expected["sha256"] = sha256.lower()
        if url.startswith("file:"):
            return self._local(url, expected, expected_size, source)
        by_hash = self._by_hash(expected.get("sha256"), "wheels")
        if by_hash is None:
            return self._fetch(url, destination, progress, expected, expected_size, source)
        # named as the caller names it (readers take the wheel's name from the path)
        cached = by_hash / destination.name
        # one process at a time looks at and fills this entry: a file another process
        # has verified and is reading is never replaced, nor seen half-renamed
        by_hash.parent.mkdir(parents=True, exist_ok=True)
        with _entry_lock(by_hash):
            if cached.is_file() and _matches(cached, expected, url, source):
                return cached  # checked again on every use: the cache is only a disk
            # a known hash: download straight into the cache, the one copy ever written
            return self._fetch(url, cached, progress, expected, expected_size, source)

    def _fetch(  # noqa: PLR0917
        self,
        url: str,
        final: Path,
        progress: Callable[[int, int | None], None] | None,
        expected: Mapping[str, str],
        expected_size: int | None,
        source: str,
    ) -> Path:
        """Download ``url`` to ``final`` (through a partial file beside it), verified."""
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f".{final.name}.{os.getpid()}.{threading.get_ident()}.part")
        hasher = Hasher(expected, url, source)
        try:
            with _deadline(self.timeout) as renew, self._open(url, {}) as response:
                if response.status_code != 200:
                    raise InstallerError(f"{url}: HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                total = int(declared) if declared.isdigit() and int(declared) else None
                if expected_size is not None and total is not None and total > expected_size:
                    raise self._oversize(url, expected_size, f"the server announces {total}")
                since_renewal = 0
                received = 0
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes():
                        received += len(chunk)
                        if expected_size is not None and received > expected_size:
                            raise self._oversize(url, expected_size, "the server sent more")
                        hasher.update(chunk)
                        out.write(chunk)
                        since_renewal += len(chunk)
                        if since_renewal >= CHUNK:  # progress: another window of time
                            renew()
                            since_renewal = 0
                        if progress is not None:
                            progress(len(chunk), total)
            hasher.check()
        except (DeadlinePassed, httpx.TimeoutException) as exc:
            partial.unlink(missing_ok=True)
            raise self._slow(url, exc) from None
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            raise IndexUnavailable(
                f"{url}: {type(exc).__name__}: {one_line(str(exc), 200)}"
            ) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(final)
        _remember(final)
        return final

    def _local(
        self, url: str, expected: Mapping[str, str], expected_size: int | None, source: str
    ) -> Path:
        """A ``file:`` URL's file, checked where it lies (hashes streamed in chunks, never
        read whole, never copied)."""
        path = local_path(url)
        try:
            size = path.stat().st_size
            if not path.is_file():
                raise InstallerError(f"{url}: not a file")
        except OSError as exc:
            raise InstallerError(f"{url}: {exc.strerror}") from None
        if expected_size is not None and size > expected_size:
            raise InstallerError(f"{url}: larger than the {expected_size} bytes declared")
        if expected and not _matches(path, expected, url, source, raise_error=True):
            raise AssertionError("unreachable")
        if not expected:  # no hash to check: the file as it is now is the one installed
            _remember(path)
        return path

    @staticmethod
    def _oversize(url: str, expected_size: int, why: str) -> InstallerError:
        return InstallerError(
            f"{url}: larger than the {expected_size} bytes declared ({why}); stopped reading"
        )

    def _slow(self, url: str, exc: Exception) -> IndexUnavailable:
        kind = "ReadTimeout" if isinstance(exc, DeadlinePassed) else type(exc).__name__
        return IndexUnavailable(
            f"{url}: {kind}: less than {CHUNK} bytes arrived in {self.timeout:g} seconds"
        )


def without_credentials(url: str) -> str:
    """``url`` without its ``user:password@`` part: what may be written to a file (a lock).
    Credentials come at install time from the index URL given then, or ``~/.netrc``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def local_path(url: str) -> Path:
    """The filesystem path of a ``file:`` URL."""
    from urllib.request import url2pathname  # ~9 ms to import: only for local files

    return Path(url2pathname(urlsplit(url).path))


def _matches(
    path: Path, expected: Mapping[str, str], what: str, source: str, *, raise_error: bool = False
) -> bool:
    """Whether the file at ``path`` has every checkable hash of ``expected`` (read in
    chunks); with ``raise_error`` a mismatch or a read error is the one-line error."""
    hasher = Hasher(expected, what, source)
    try:
        with path.open("rb") as f:
            before = identity(f.fileno())
            for chunk in iter(lambda: f.read(CHUNK), b""):
                hasher.update(chunk)
            hasher.check()
            if identity(f.fileno()) != before:  # written to while hashed
                raise InstallerError(f"{what}: changed while its hash was checked")
        VERIFIED[path] = before
    except OSError as exc:
        if raise_error:
            raise InstallerError(f"{what}: {exc.strerror or exc}") from None
        return False
    except InstallerError:
        if raise_error:
            raise
        return False
    return True


# the identity (st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns) of each file whose hashes
# were verified (a local file without hashes: taken), as it was then: the installer refuses
# a wheel that changed since (``transaction.install_all``, ``staging.check_unchanged``)
VERIFIED: dict[Path, FileIdentity] = {}


@contextmanager
def _entry_lock(entry: Path) -> Iterator[None]:
    """Hold the lock of a by-hash cache entry (``{entry}.lock`` beside it) across
    processes; while waiting for it, this thread's stop event (``cancellable``) is seen
    within ``STOP_POLL`` seconds, as while waiting for a server."""
    from filelock import FileLock, Timeout

    lock = FileLock(entry.with_name(f"{entry.name}.lock"), mode=0o600)
    stop: threading.Event | None = getattr(_local, "stop", None)
    while True:
        try:
            lock.acquire(timeout=STOP_POLL)
            break
        except Timeout:
            if stop is not None and stop.is_set():
                raise Cancelled("the download was cancelled") from None
    try:
        yield
    finally:
        lock.release()


def _remember(path: Path) -> None:
    """Note the identity of a file just verified and renamed into place."""
    with contextlib.suppress(OSError):
        VERIFIED[path] = identity(path)


def _copy(source: Path, target: Path) -> None:
    """Copy a (possibly large) file in chunks, renaming it into place only when complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        shutil.copyfile(source, partial)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
