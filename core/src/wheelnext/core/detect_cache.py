"""The on-disk cache of detection results, so ``wn-detect`` does not re-run every provider.

One file per *key*, in ``<user cache dir>/wheelnext/detect/``. The key is a BLAKE2b hash of
what a provider's answer can depend on besides the hardware: this interpreter, every
``sys.path`` entry with the ``.dist-info``, ``.egg-info`` and ``.pth`` entries in it and
their modification times (installing, upgrading or removing a distribution changes
them), the environment given to providers (a few shell-volatile variables left out), and
the boot id (``/proc/sys/kernel/random/boot_id``: hardware and drivers may change across
a reboot). Entries expire after a day. Only ``ok`` and ``absent`` answers are stored; a
provider that failed runs again next time. The file holds no environment values, only
the hash. A file that is not ours, not private, too large, malformed or stale is
ignored, and its answers are checked like a profile before use. The cache never names
what to import: on anything short of a full hit, discovery does. Bypass with
``wn-detect --no-cache`` or ``WHEELNEXT_NO_DETECT_CACHE=1``.

A full hit imports neither pluggy nor the provider machinery (``lookup``).
"""

from __future__ import annotations

import json
import os
import sys
import time

from wheelnext.core import safejson
from wheelnext.core.answers import check_unique_namespaces, result_from_json
from wheelnext.core.errors import WheelnextError

try:  # hashlib's blake2b, without loading OpenSSL first (~2 ms of a cache hit)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - CPython always builds _blake2
    from hashlib import blake2b

TYPE_CHECKING = False  # not typing's, nor pathlib at the top: a cache hit needs neither
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path
    from typing import Any

    from wheelnext.core.discovery import ProviderSource
    from wheelnext.core.providers import DetectContext
    from wheelnext.core.supported import ProviderResult

    Entries = list[tuple["Source", ProviderResult | None]]
    Runner = Callable[[Sequence[ProviderSource]], list[ProviderResult]]
    Resolver = Callable[[list[ProviderResult]], list[ProviderResult]]

FORMAT = 1
MAX_AGE_S = 24 * 3600
MAX_BYTES = 1024 * 1024
MAX_FILES = 32
VOLATILE = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "COLUMNS", "LINES"})
BOOT_ID = "/proc/sys/kernel/random/boot_id"
NO_CACHE_ENV = "WHEELNEXT_NO_DETECT_CACHE"
_KINDS = ("native", "plugin-api")
_INSTALLED = (".dist-info", ".egg-info", ".pth")

Source = tuple[str, str, str, str, str]  # name, ref, kind, distribution, version


def disabled(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``WHEELNEXT_NO_DETECT_CACHE`` asks to bypass the cache."""
    value = (os.environ if environ is None else environ).get(NO_CACHE_ENV, "").strip().lower()
    return value not in ("", "0", "false", "no")


def cache_dir() -> Path:
    """``platformdirs.user_cache_dir("wheelnext")/detect`` (on Linux computed the same way
    without importing platformdirs, which costs more than a cache hit)."""
    from pathlib import Path

    return Path(_cache_dir())


def _cache_dir() -> str:
    """``cache_dir()`` as text, without importing pathlib (a cache hit does not need it)."""
    if sys.platform == "linux":
        base = os.environ.get("XDG_CACHE_HOME", "").strip()
        if not os.path.isabs(base):  # noqa: PTH117 -- os.path: no pathlib on a cache hit
            base = os.path.expanduser("~/.cache")  # noqa: PTH111
        root = os.path.join(base, "wheelnext")  # noqa: PTH118
    else:
        from platformdirs import user_cache_dir

        root = user_cache_dir("wheelnext")
    return os.path.join(root, "detect")  # noqa: PTH118


def _installed(directory: str) -> list[tuple[str, int]] | None:
    """What is installed in one ``sys.path`` entry: its ``.dist-info``, ``.egg-info`` and
    ``.pth`` entries with their modification times (None: not a readable directory)."""
    try:
        with os.scandir(directory or ".") as entries:
            return sorted(
                (entry.name, entry.stat().st_mtime_ns)
                for entry in entries
                if entry.name.endswith(_INSTALLED)
            )
    except OSError:
        return None


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _boot_id() -> str:
    try:
        with open(BOOT_ID, encoding="ascii", errors="replace") as file:  # noqa: PTH123 -- no pathlib on a cache hit
            return file.read(64).strip()
    except OSError:
        return ""


def cache_key(environ: Mapping[str, str], sysroot: str = "/") -> str:
    """The hex BLAKE2b-256 of everything a cached answer depends on besides the hardware."""
    material = {
        "format": FORMAT,
        "executable": sys.executable,
        "python": sys.version,
        "path": [[entry, _installed(entry)] for entry in sys.path],
        "cwd": os.getcwd() if "" in sys.path else None,  # noqa: PTH109 -- as Path.cwd()
        "environ": sorted((k, v) for k, v in environ.items() if k not in VOLATILE),
        "sysroot": sysroot,
        "boot": _boot_id(),
    }
    return blake2b(json.dumps(material, sort_keys=True).encode(), digest_size=32).hexdigest()


def _source_of(data: object) -> Source:
    if (
        not isinstance(data, list)
        or len(data) != 5
        or not all(isinstance(item, str) and len(item) <= 500 for item in data)
        or data[2] not in _KINDS
    ):
        raise WheelnextError("not a provider source")
    return (data[0], data[1], data[2], data[3], data[4])


def load(path: str | Path, key: str) -> Entries | None:
    """The sources and stored answers in ``path`` if it is a valid entry for ``key``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
        if not mine or info.st_mode & 0o022 or info.st_size > MAX_BYTES:
            return None
        with os.fdopen(fd, "rb", closefd=False) as file:
            raw = file.read(MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        doc = safejson.loads(raw, str(path), max_bytes=MAX_BYTES, max_depth=10)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("key") != key:
            return None
        written = doc.get("written")
        age = time.time() - written if isinstance(written, int | float) else -1.0
        entries = doc.get("entries")
        if not 0 <= age <= MAX_AGE_S or not isinstance(entries, list) or len(entries) > 256:
            return None
        out: Entries = []
        for entry in entries:
            if not isinstance(entry, dict):
                return None
            source = _source_of(entry.get("source"))
            answer = entry.get("result")
            result = None if answer is None else result_from_json(answer, source[3], source[4])
            if result is not None and result.status == "failed":
                return None
            out.append((source, result))
        check_unique_namespaces(r for _, r in out if r is not None)
        return out
    except WheelnextError:
        return None


def store(directory: Path, key: str, entries: Sequence[tuple[Source, ProviderResult]]) -> None:
    """Write the entry for ``key`` atomically (a private temporary file, then a rename).

    Failed answers are stored as null, so they run again; errors writing are ignored.
    """
    doc: dict[str, Any] = {
        "format": FORMAT,
        "key": key,
        "written": time.time(),
        "entries": [
            {
                "source": list(source),
                "result": None if result.status == "failed" else result.to_json(),
            }
            for source, result in entries
        ],
    }
    import contextlib

    data = json.dumps(doc, separators=(",", ":")).encode()
    path = directory / f"{key[:40]}.json"
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            temporary.replace(path)
        finally:
            temporary.unlink(missing_ok=True)
        _prune(directory)


def _prune(directory: Path) -> None:
    """Keep the ``MAX_FILES`` newest entries."""
    files = [p for p in directory.iterdir() if p.suffix == ".json" and len(p.name) == 45]
    for path in sorted(files, key=_mtime)[: max(0, len(files) - MAX_FILES)]:
        path.unlink(missing_ok=True)


def _path(key: str) -> str:
    return os.path.join(_cache_dir(), f"{key[:40]}.json")  # noqa: PTH118


def lookup(environ: Mapping[str, str] | None = None) -> list[ProviderResult] | None:
    """Every provider's stored answer for the live machine and ``environ`` (default: this
    process's), or None unless all of them are stored (or the cache is disabled)."""
    environ = os.environ if environ is None else environ
    if disabled():
        return None
    key = cache_key(environ)
    cached = load(_path(key), key)
    if cached is None or any(result is None for _, result in cached):
        return None
    return [result for _, result in cached if result is not None]


def detect_cached(context: DetectContext, run: Runner, resolve: Resolver) -> list[ProviderResult]:
    """Every discovered provider's result: stored ones from the cache, the others from
    ``run``, all passed through ``resolve`` (namespace conflicts); then stored."""
    from wheelnext.core.discovery import discover

    key = cache_key(context.environ, str(context.sysroot))
    cached = load(_path(key), key)
    if cached is not None and all(result is not None for _, result in cached):
        return [result for _, result in cached if result is not None]
    known: Mapping[Source, ProviderResult | None] = dict(cached or ())
    sources = discover()  # the cache never names what to import: discovery does
    ids: list[Source] = [(s.name, s.ref, s.kind, s.distribution, s.version) for s in sources]
    todo = [s for s, i in zip(sources, ids, strict=True) if known.get(i) is None]
    fresh = iter(run(todo))
    results = [known.get(i) or next(fresh) for i in ids]
    final = resolve([r for r in results if r is not None])
    store(cache_dir(), key, list(zip(ids, final, strict=True)))
    return final
