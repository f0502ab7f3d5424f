"""HTTP for indexes: timeouts, retries, an on-disk cache, and verified downloads.

Project pages are cached with their ETag and revalidated (``If-None-Match``); files are
cached by their sha256, so a file is fetched once however many indexes list it. Every
download is checked against every hash the index gave that ``hashlib`` can compute
before anyone reads it.

What a server sends is bounded: each request (retries included) has one overall deadline,
enforced at every socket read, so a server dripping a byte at a time cannot stall us past
``--timeout``; a download must deliver at least ``CHUNK`` bytes per ``--timeout``; pages
and small files are capped in size; redirects are followed only to http and https.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.request import url2pathname

import httpcore
import httpx

from wheelnext.core.errors import one_line
from wheelnext.core.files import atomic_write
from wheelnext.installer.errors import IndexUnavailable, InstallerError

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


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every read and write ends by the current thread's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout))

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

    def __init__(self, hashes: Mapping[str, str], what: str) -> None:
        self.expected = checkable(hashes)
        self.what = what
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
                    f"{self.what}: {algorithm} mismatch (index says {expected}, got {got})"
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
    ) -> None:
        self.cache_dir = cache_dir
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
    def _open(self, url: str, headers: Mapping[str, str]) -> Iterator[httpx.Response]:
        """A streaming GET of ``url``, following redirects to http(s) only."""
        for _ in range(MAX_REDIRECTS + 1):
            with self._client.stream("GET", url, headers=dict(headers)) as response:
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
            raise InstallerError(f"{url}: answer of {declared} bytes exceeds the {cap} limit")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise InstallerError(f"{url}: answer exceeds the {cap} byte limit")
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
        """GET a project page, revalidating a cached copy by its ETag."""
        meta_path = body_path = None
        headers = {"Accept": accept}
        cached: dict[str, str] | None = None
        if self.cache_dir is not None:
            base = self.cache_dir / "pages" / _key(url + "\0" + accept)
            meta_path, body_path = base.with_suffix(".json"), base.with_suffix(".body")
            if meta_path.is_file() and body_path.is_file():
                try:
                    loaded = json.loads(meta_path.read_text())
                    if isinstance(loaded, dict) and all(
                        isinstance(loaded.get(k), str) for k in ("etag", "url", "content_type")
                    ):
                        cached = loaded
                        headers["If-None-Match"] = loaded["etag"]
                except (OSError, ValueError):
                    cached = None  # a damaged cache entry is a miss
        response, body = self._send(url, headers, MAX_PAGE_BYTES)
        if response.status_code == 304 and cached is not None and body_path is not None:
            return Response(cached["url"], 200, cached["content_type"], body_path.read_bytes())
        result = Response(
            str(response.url), response.status_code, response.headers.get("content-type", ""), body
        )
        etag = response.headers.get("etag")
        if response.status_code == 200 and etag and meta_path is not None and body_path:
            atomic_write(body_path, result.body)
            meta = {"etag": etag, "url": result.url, "content_type": result.content_type}
            atomic_write(meta_path, json.dumps(meta).encode())
        return result

    def get_bytes(self, url: str, hashes: Mapping[str, str] | None = None) -> bytes:
        """GET a small file (metadata, variants.json), verified against ``hashes``;
        non-200 is an error naming the URL. ``file:`` URLs reach here only from sources
        the user named (find-links); pages from remote indexes cannot point to them."""
        if url.startswith("file:"):
            try:
                data = local_path(url).read_bytes()
            except OSError as exc:
                raise InstallerError(f"{url}: {exc.strerror}") from None
        else:
            response, data = self._send(url, {}, MAX_SMALL_BYTES)
            if response.status_code != 200:
                raise InstallerError(f"{url}: HTTP {response.status_code}")
        if hashes:
            verify(data, hashes, url)
        return data

    def download(
        self,
        url: str,
        sha256: str | None,
        destination: Path,
        progress: Callable[[int, int | None], None] | None = None,
        *,
        hashes: Mapping[str, str] | None = None,
        expected_size: int | None = None,
    ) -> Path:
        """Fetch ``url`` into ``destination`` (or reuse the cached copy) and verify it
        against every checkable hash of ``hashes`` (and ``sha256``).

        A file whose hash differs from the index's is deleted and reported; nothing
        unverified is ever left where the installer reads. With ``expected_size`` (a
        lock's or a PEP 700 page's ``size``) reading stops as soon as the server sends
        more: a hostile server cannot make us store more than was declared.
        """
        expected = dict(hashes or {})
        if sha256:
            expected["sha256"] = sha256.lower()
        sha256 = expected.get("sha256")
        cached = None
        if sha256 and _SHA256.fullmatch(sha256) and self.cache_dir is not None:
            cached = self.cache_dir / "files" / sha256[:2] / sha256
            if cached.is_file() and _sha256(cached) == sha256:
                destination.parent.mkdir(parents=True, exist_ok=True)
                _copy(cached, destination)
                return destination
        destination.parent.mkdir(parents=True, exist_ok=True)
        if url.startswith("file:"):
            if expected_size is not None and _local_size(url) > expected_size:
                raise InstallerError(f"{url}: larger than the {expected_size} bytes declared")
            data = self.get_bytes(url, expected)
            atomic_write(destination, data)
            return destination
        hasher = Hasher(expected, url)
        partial = destination.with_name(destination.name + ".part")
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
        try:
            hasher.check()
        except InstallerError:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(destination)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            _copy(destination, cached)
        return destination

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
    return Path(url2pathname(urlsplit(url).path))


def _local_size(url: str) -> int:
    """The size of a ``file:`` URL's file (0 when it cannot be read: reading says why)."""
    try:
        return local_path(url).stat().st_size
    except OSError:
        return 0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
