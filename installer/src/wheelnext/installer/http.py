"""HTTP for indexes: timeouts, retries, an on-disk cache, and verified downloads.

Project pages are cached with their ETag and revalidated (``If-None-Match``); files are
cached by their sha256, so a file is fetched once however many indexes list it. Every
download is checked against the hash the index gave before anyone reads it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from wheelnext.core.files import atomic_write
from wheelnext.installer.errors import IndexUnavailable, InstallerError

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Response:
    """What a GET returned: final URL, status, content type and body."""

    url: str
    status: int
    content_type: str
    body: bytes


def _key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


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
        self._client = httpx.Client(
            timeout=timeout, follow_redirects=True, headers={"User-Agent": user_agent}
        )

    def close(self) -> None:
        self._client.close()

    def _send(self, url: str, headers: dict[str, str]) -> httpx.Response:
        delay = 0.2
        for attempt in range(self.retries + 1):
            try:
                response = self._client.get(url, headers=headers)
            except httpx.HTTPError as exc:
                if attempt == self.retries:
                    raise IndexUnavailable(f"{url}: {type(exc).__name__}: {exc}") from None
            else:
                if response.status_code not in RETRY_STATUS or attempt == self.retries:
                    return response
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def get_page(self, url: str, accept: str) -> Response:
        """GET a project page, revalidating a cached copy by its ETag."""
        meta_path = body_path = None
        headers = {"Accept": accept}
        cached: dict[str, str] | None = None
        if self.cache_dir is not None:
            base = self.cache_dir / "pages" / _key(url + "\0" + accept)
            meta_path, body_path = base.with_suffix(".json"), base.with_suffix(".body")
            if meta_path.is_file() and body_path.is_file():
                cached = json.loads(meta_path.read_text())
                headers["If-None-Match"] = cached["etag"]
        response = self._send(url, headers)
        if response.status_code == 304 and cached is not None and body_path is not None:
            return Response(cached["url"], 200, cached["content_type"], body_path.read_bytes())
        result = Response(
            str(response.url),
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
        )
        etag = response.headers.get("etag")
        if response.status_code == 200 and etag and meta_path is not None and body_path:
            atomic_write(body_path, result.body)
            meta = {"etag": etag, "url": result.url, "content_type": result.content_type}
            atomic_write(meta_path, json.dumps(meta).encode())
        return result

    def get_bytes(self, url: str) -> bytes:
        """GET a small file (metadata, variants.json); non-200 is an error naming the URL."""
        if url.startswith("file:"):
            try:
                return local_path(url).read_bytes()
            except OSError as exc:
                raise InstallerError(f"{url}: {exc.strerror}") from None
        response = self._send(url, {})
        if response.status_code != 200:
            raise InstallerError(f"{url}: HTTP {response.status_code}")
        return response.content

    def download(
        self,
        url: str,
        sha256: str | None,
        destination: Path,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> Path:
        """Fetch ``url`` into ``destination`` (or reuse the cached copy) and verify its hash.

        A file whose sha256 differs from the index's is deleted and reported; nothing
        unverified is ever left where the installer reads.
        """
        cached = None
        if sha256 and self.cache_dir is not None:
            cached = self.cache_dir / "files" / sha256[:2] / sha256
            if cached.is_file() and _sha256(cached) == sha256:
                destination.parent.mkdir(parents=True, exist_ok=True)
                _copy(cached, destination)
                return destination
        destination.parent.mkdir(parents=True, exist_ok=True)
        if url.startswith("file:"):
            data = self.get_bytes(url)
            if sha256 and hashlib.sha256(data).hexdigest() != sha256:
                raise InstallerError(f"{url}: sha256 mismatch (expected {sha256})")
            atomic_write(destination, data)
            return destination
        digest = hashlib.sha256()
        partial = destination.with_name(destination.name + ".part")
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise InstallerError(f"{url}: HTTP {response.status_code}")
                total = int(response.headers.get("content-length", 0)) or None
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        if progress is not None:
                            progress(len(chunk), total)
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            raise IndexUnavailable(f"{url}: {type(exc).__name__}: {exc}") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        if sha256 and digest.hexdigest() != sha256:
            partial.unlink(missing_ok=True)
            raise InstallerError(
                f"{url}: sha256 mismatch (index says {sha256}, got {digest.hexdigest()})"
            )
        partial.replace(destination)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            _copy(destination, cached)
        return destination


def local_path(url: str) -> Path:
    """The filesystem path of a ``file:`` URL."""
    return Path(url2pathname(urlsplit(url).path))


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
