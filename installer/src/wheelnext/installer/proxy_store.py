"""The proxy's shared on-disk cache: one directory used by every worker and process.

Layout under ``root`` (``<cache-dir>/proxy``)::

    files/<ab>/<sha256>/<name>   a file whose index gave its sha256 (content-addressed;
                                 under its own name, which readers of wheels need)
    by-url/<ab>/<key>/<name>     a file listed without a sha256 (keyed by its URL), with
    by-url/<ab>/<key>/.stored.json  when it was downloaded and the sha256 computed then
                                 (downloaded again once older than the TTL)
    projects/<upstreams>/<name>.json
                                 an upstream project's files and when they were last asked
                                 (<upstreams>: a digest of the index configuration, so
                                 proxies over different upstreams never share a list)
    refs/<upstreams>/<ab>/<key>.json
                                 what ``/files/<key>/...`` serves (written with the project;
                                 per configuration too: a proxy serves only what its own
                                 upstreams listed)
    locks/...                    one lock file per file, 256 shared by projects (kept)

Every entry is written to a temporary file in its own directory and renamed into place,
so a reader sees a whole entry or none. A file is downloaded under its lock
(``filelock``: threads and processes alike), so concurrent first requests fetch it once,
into a work folder ``.tmp-<pid>-<random>/`` beside its entry, and renamed into place
once verified; what a process killed mid-download leaves there is never read (only the
entry's own name is) and is removed by the next holder of that file's lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from wheelnext.core.files import atomic_write
from wheelnext.installer.indexes import Index, Located
from wheelnext.installer.names import check_filename
from wheelnext.installer.simple_api import FileEntry

SHA256 = re.compile(r"[0-9a-f]{64}")
KEY = re.compile(r"[0-9a-f]{24}")
PROJECT_STRIPE_DIGITS = 2  # 256 project lock files at most
MEMO_SIZE = 1024  # parsed project lists kept per process
LOCK_TIMEOUT = 600.0  # seconds a request waits for another one's download of the same file
CHUNK = 1 << 20
STORED = ".stored.json"  # beside a by-url file: when it was fetched, its computed sha256


def _stored(final: Path) -> dict[str, Any]:
    """The record beside a by-url file (when it was fetched, its sha256); {} if none."""
    doc = _read_json(final.parent / STORED)
    return doc if isinstance(doc, dict) else {}


def url_key(url: str) -> str:
    """A short stable name for an upstream file: its key in URLs and in the cache."""
    return hashlib.sha256(url.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An upstream project's files as last read, and a digest naming exactly that list."""

    identity: str
    files: tuple[Located, ...]
    group: str


def _entry_json(located: Located) -> dict[str, Any]:
    entry = located.file
    return {
        "file": {
            "filename": entry.filename,
            "url": entry.url,
            "hashes": dict(entry.hashes),
            "requires_python": entry.requires_python,
            "yanked": entry.yanked,
            "core_metadata": entry.core_metadata,
            "size": entry.size,
            "upload_time": entry.upload_time,
        },
        "index": {
            "name": located.index.name,
            "url": located.index.url,
            "explicit": located.index.explicit,
        },
        "group": located.group,
    }


def _opt_str(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError("expected text")


def _str_map(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("expected a map of text")
    return dict(value)


def _located(data: object) -> Located:
    """A ``Located`` back from what ``_entry_json`` wrote (ValueError: damaged)."""
    if not isinstance(data, dict):
        raise ValueError("expected an object")
    file, index = data.get("file"), data.get("index")
    if not isinstance(file, dict) or not isinstance(index, dict):
        raise ValueError("expected file and index")
    meta = file.get("core_metadata")
    size = file.get("size")
    if not isinstance(meta, bool):
        meta = _str_map(meta)
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ValueError("bad size")
    filename, url = file.get("filename"), file.get("url")
    name, root, group = index.get("name"), index.get("url"), data.get("group")
    if not all(isinstance(v, str) for v in (filename, url, name, root, group)):
        raise ValueError("expected text")
    entry = FileEntry(
        str(filename),
        str(url),
        _str_map(file.get("hashes")),
        _opt_str(file.get("requires_python")),
        _opt_str(file.get("yanked")),
        meta,
        size,
        _opt_str(file.get("upload_time")),
    )
    return Located(entry, Index(str(name), str(root), bool(index.get("explicit"))), str(group))


def _read_json(path: Path) -> Any:
    """A cache entry we wrote; None when absent or damaged (a damaged entry is a miss)."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


class ProxyStore:
    """The shared cache directory (see the module docstring for its layout)."""

    def __init__(self, root: Path, upstreams: str = "default") -> None:
        self.root = root  # folders are made when something is first written in them
        self.projects = root / "projects" / upstreams
        self.refs = root / "refs" / upstreams
        self._memo: dict[Path, tuple[tuple[int, int, int], float, Snapshot]] = {}
        self._memo_lock = threading.Lock()

    # ------------------------------------------------------------- locks

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        """Hold the lock ``name`` (a checked key) across threads and processes."""
        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        with FileLock(locks / f"{name}.lock", timeout=LOCK_TIMEOUT):
            yield

    # ------------------------------------------------------------- files

    def file_path(self, entry: FileEntry) -> Path:
        """Where ``entry``'s bytes live once fetched."""
        name = check_filename(entry.filename, entry.url)
        sha256 = entry.hashes.get("sha256", "").lower()
        if SHA256.fullmatch(sha256):
            return self.root / "files" / sha256[:2] / sha256 / name
        key = url_key(entry.url)
        return self.root / "by-url" / key[:2] / key / name

    def cached(self, entry: FileEntry) -> Path | None:
        """``entry``'s file when it is already in the store (only whole files are)."""
        path = self.file_path(entry)
        return path if path.is_file() else None

    def _usable(self, final: Path, ttl: float | None) -> bool:
        """Whether the stored ``final`` may be served: a content-addressed file always, a
        by-url one (no hash to hold it to) only while younger than ``ttl`` seconds."""
        if not final.is_file():
            return False
        if ttl is None or SHA256.fullmatch(final.parent.name):
            return True
        when = _stored(final).get("stored")
        return isinstance(when, float | int) and 0 <= time.time() - when < ttl

    def known_sha256(self, entry: FileEntry) -> str | None:
        """The sha256 computed when a file listed without one was downloaded (None: not
        downloaded yet, or listed with a sha256 already)."""
        final = self.file_path(entry)
        if SHA256.fullmatch(final.parent.name) or not final.is_file():
            return None
        digest = _stored(final).get("sha256")
        return digest if isinstance(digest, str) and SHA256.fullmatch(digest) else None

    def file(
        self, entry: FileEntry, fill: Callable[[Path], None], ttl: float | None = None
    ) -> tuple[Path, bool]:
        """``entry``'s file, and whether it was there already; else ``fill(temp)`` writes
        and verifies it (once, whoever asks at the same time) before it is renamed in.
        A file listed without a sha256 is downloaded again once older than ``ttl``."""
        final = self.file_path(entry)
        if self._usable(final, ttl):
            return final, True
        with self._locked(final.parent.name):
            if self._usable(final, ttl):
                return final, True  # another thread or process fetched it meanwhile
            final.parent.mkdir(parents=True, exist_ok=True)
            self._clean(final)
            work = final.parent / f".tmp-{os.getpid()}-{secrets.token_hex(4)}"
            work.mkdir()
            try:
                temp = work / final.name
                fill(temp)
                digest, computed = final.parent.name, _sha256(temp)
                if SHA256.fullmatch(digest):
                    if computed != digest:
                        raise OSError(f"{temp}: its sha256 is not {digest}")
                    temp.replace(final)
                else:  # the file first, then its record: a stale record only means stale
                    temp.replace(final)
                    stored = {"stored": time.time(), "sha256": computed}
                    atomic_write(final.parent / STORED, json.dumps(stored).encode())
            finally:
                shutil.rmtree(work, ignore_errors=True)
        return final, False

    @staticmethod
    def _clean(final: Path) -> None:
        """Remove what writers of ``final`` left behind (called holding its lock: every
        writer of it is dead, so their work folders are garbage)."""
        for leftover in final.parent.glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def put_bytes(self, entry: FileEntry, data: bytes) -> None:
        """Keep a small verified file (``.metadata``) under ``entry``'s name."""
        path = self.file_path(entry)
        if not path.is_file():
            atomic_write(path, data)

    # ------------------------------------------------------------- projects

    def project(
        self, project: str, ttl: float, ask: Callable[[], tuple[str, tuple[Located, ...]] | None]
    ) -> tuple[Snapshot | None, bool]:
        """``project``'s upstream files, asked of the upstream at most once per ``ttl``
        seconds by all workers together; and whether the stored answer was used.
        ``ask()`` gives (group, files), or None when no upstream lists the project."""
        path = self.projects / f"{project}.json"
        fresh = self._fresh(path, ttl)
        if fresh is not None:
            return fresh, True
        # project locks are striped: a client asking for made-up names cannot make
        # more than PROJECT_STRIPES lock files
        stripe = hashlib.sha256(f"{self.projects.name}/{project}".encode()).hexdigest()
        with self._locked(f"project-{stripe[:PROJECT_STRIPE_DIGITS]}"):
            fresh = self._fresh(path, ttl)
            if fresh is not None:
                return fresh, True
            found = ask()
            if found is None:
                return None, False  # not kept: anyone can ask for any name
            group, files = found
            entries = [_entry_json(f) for f in files]
            body = json.dumps(entries, sort_keys=True).encode()
            identity = hashlib.sha256(group.encode() + b"\0" + body).hexdigest()
            for located in files:
                self._write_ref(located)
            doc = {"checked": time.time(), "identity": identity, "group": group, "files": entries}
            atomic_write(path, json.dumps(doc).encode())
        return Snapshot(identity, files, group), False

    def _fresh(self, path: Path, ttl: float) -> Snapshot | None:
        """The stored list when it is younger than ``ttl`` (parsed once per version of
        the file: a request costs a ``stat`` and a small read)."""
        try:
            info = path.stat()
        except OSError:
            return None
        key = (info.st_ino, info.st_mtime_ns, info.st_size)
        with self._memo_lock:
            memo = self._memo.get(path)
        if memo is not None and memo[0] == key:
            checked, snapshot = memo[1], memo[2]
            return snapshot if 0 <= time.time() - checked < ttl else None
        found = self._parse(path)
        if found is None:
            return None
        checked, snapshot = found
        with self._memo_lock:
            self._memo[path] = (key, checked, snapshot)
            while len(self._memo) > MEMO_SIZE:
                self._memo.pop(next(iter(self._memo)))
        return snapshot if 0 <= time.time() - checked < ttl else None

    def _parse(self, path: Path) -> tuple[float, Snapshot] | None:
        doc = _read_json(path)
        if not isinstance(doc, dict):
            return None
        checked, identity, group = doc.get("checked"), doc.get("identity"), doc.get("group")
        if not isinstance(checked, float | int) or not isinstance(identity, str):
            return None
        if not isinstance(group, str):
            return None
        try:
            files = tuple(_located(item) for item in doc.get("files") or ())
        except ValueError:
            return None
        return float(checked), Snapshot(identity, files, group)

    # ------------------------------------------------------------- refs

    def _write_ref(self, located: Located) -> None:
        key = url_key(located.file.url)
        path = self.refs / key[:2] / f"{key}.json"
        data = json.dumps(_entry_json(located), sort_keys=True).encode()
        with contextlib.suppress(OSError):
            if path.read_bytes() == data:
                return
        atomic_write(path, data)

    def ref(self, key: str) -> Located | None:
        """The upstream file behind ``/files/<key>/``: None unless a project page listed
        it (``key`` is checked first: it comes from a client)."""
        if not KEY.fullmatch(key):
            return None
        doc = _read_json(self.refs / key[:2] / f"{key}.json")
        if doc is None:
            return None
        try:
            located = _located(doc)
        except ValueError:
            return None
        return located if url_key(located.file.url) == key else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
